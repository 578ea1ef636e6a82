package dev.stealtime.tck.runner.providers;

import java.util.Map;

/**
 * Implemented by a provider whose hypervisor runs in a machine worth describing in the conformance
 * summary beside the provider (e.g. kvm-arm64: the emulator's version, the guest kernel, the CPU
 * model). Not part of the SPI: a runner-side extra for the built-in providers.
 */
public interface MachineDescription {

    /** Facts about the machine, in display order; empty when unknown (e.g. the provider is unavailable). */
    Map<String, String> machine();
}
