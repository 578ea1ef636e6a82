package dev.stealtime.tck.spi;

import java.util.Set;

/**
 * The entry point a hypervisor implements. Found through {@link java.util.ServiceLoader} (list the
 * class in {@code META-INF/services/dev.stealtime.tck.spi.HypervisorProvider}) and selected by
 * {@link #id()}.
 *
 * <p>An interface, so a provider can be wrapped: the TCK's own self-tests decorate the reference
 * implementation with single defects.
 */
public interface HypervisorProvider {

    /** Short stable id used on the command line, e.g. {@code reference}, {@code kvm}. */
    String id();

    /** One line for people, e.g. "Linux KVM through /dev/kvm". */
    String description();

    /** The implementation's version as it wants it reported (KVM: kernel release and KVM API version). */
    String version();

    /** Guest architectures this provider can build VMs for. */
    Set<Architecture> architectures();

    /** Optional abilities; see {@link Capability}. */
    Set<Capability> capabilities();

    /** How precisely timing can be checked against this provider. */
    TimingPrecision timing();

    /**
     * Whether the provider can run here. Must not throw; say why when it cannot.
     * KVM: {@code /dev/kvm} opens and answers {@code KVM_GET_API_VERSION} = 12.
     */
    Availability availability();

    /**
     * Build a VM. The VM has not run yet; nothing is registered for steal time.
     *
     * @throws UnsupportedOperationException when the spec asks for something not declared in
     *                                       {@link #architectures()} or {@link #capabilities()}
     */
    Vm open(VmSpec spec);
}
