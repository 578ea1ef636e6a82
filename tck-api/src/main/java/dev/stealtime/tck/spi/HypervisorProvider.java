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

    /**
     * The optional abilities for VMs of {@code architecture}, where they differ between the
     * architectures a provider supports (QEMU withholds steal time from an x86 guest, but on arm64
     * Linux KVM still answers {@code SMCCC_ARCH_FEATURES(PV_TIME_FEATURES)} with SUCCESS when QEMU
     * leaves PV time off). The suites ask this one. Default: {@link #capabilities()}.
     */
    default Set<Capability> capabilities(Architecture architecture) {
        return capabilities();
    }

    /** How precisely timing can be checked against this provider. */
    TimingPrecision timing();

    /**
     * How precisely timing can be checked on VMs of {@code architecture}, where that differs (QEMU on
     * this host's KVM for x86, inside an emulated machine for arm64). The suites ask this one.
     * Default: {@link #timing()}.
     */
    default TimingPrecision timing(Architecture architecture) {
        return timing();
    }

    /**
     * Whether the provider can run here. Must not throw; say why when it cannot.
     * KVM: {@code /dev/kvm} opens and answers {@code KVM_GET_API_VERSION} = 12.
     *
     * <p>Called after {@link #prepare()} before tests run (then the answer must be the real one), and
     * without it by {@code tck providers}, which lists what is installed: there it must answer quickly
     * (no downloads, builds or boots), from what is at hand or cached; say in
     * {@link Availability#yes(String)}'s note what a run will still do.
     */
    Availability availability();

    /**
     * One-time slow work before the first {@link #availability()} of a run: downloads, builds, booting
     * an emulated machine. The TCK calls it once per run before asking {@code availability()}, bounded
     * by {@code tck.prepare.timeout} (default 20 minutes) rather than the per-call timeout. It must not
     * throw for an environment that lacks something: it records why, and {@code availability()} then
     * answers "no" with that reason (an exception is reported the same way). Default: nothing to do.
     */
    default void prepare() {
    }

    /**
     * The time limit of each call this provider needs when the user sets none ({@code tck.call.timeout}
     * left at its default, 10 s): a provider whose calls may legitimately take longer (one that boots a
     * replacement machine inside a call, say) names its own here. The TCK uses the larger of this and
     * the default, and says so in the run's configuration; an explicit {@code --call-timeout} always
     * wins. Default: none (the TCK's default applies).
     */
    default java.util.Optional<java.time.Duration> defaultCallTimeout() {
        return java.util.Optional.empty();
    }

    /**
     * Where the TCK's windows on guest-physical memory begin: the <em>layout base</em>, 0 unless the
     * provider says otherwise. The TCK lays its RAM regions and named addresses out from it (see
     * {@code dev.stealtime.tck.support.GuestLayout}): LOW RAM {@code [base, base + 1 MiB)} (its first
     * 64 KiB still the provider's), the hole {@code [base + 1 MiB, base + 2 MiB)}, MID RAM
     * {@code [base + 2 MiB, base + 3 MiB)}; HIGH RAM stays at 4 GiB and "far beyond RAM" at 64 GiB.
     * The {@link VmSpec} the provider receives carries the shifted regions, so it sees the windows
     * in {@link #open} as always.
     *
     * <p>Why: a provider that builds the VM itself (the reference, the C adapter) puts RAM wherever
     * the TCK asks, and base 0 suits it. A whole VMM (QEMU) builds the guest's address space its own
     * way: firmware and the ISA BIOS shadow in {@code [0xA0000, 1 MiB)}, the guest image at 1 MiB,
     * RAM without holes. It can still hand the TCK a window of RAM nobody else uses (the test guest's
     * {@code free} range, from 2 MiB), and says where with this base; the TCK never translates
     * addresses, so every value the guest writes to the MSR is the real guest-physical address.
     * Whatever the VMM cannot make (a hole inside its RAM, RAM at 4 GiB) it leaves undeclared
     * ({@link Capability#MEMORY_HOLES}, {@link Capability#HIGH_MEMORY}), and the tests that need
     * it are NOT APPLICABLE.
     *
     * <p>Constraints: a multiple of 2 MiB, and {@code base + 3 MiB <= 4 GiB}. The x86 suite honours
     * it; the arm64 suite assumes 0 where the TCK places the structures itself, and otherwise uses
     * only the addresses the VMM chose ({@link Arm64Vcpu#vmmPlacedIpa()}).
     */
    default long layoutBase() {
        return 0;
    }

    /**
     * The layout base for VMs of {@code architecture}, where a VMM lays out each architecture's guest
     * its own way (QEMU: RAM from 0 on x86 {@code q35}, from 1 GiB on arm64 {@code virt}). Default:
     * {@link #layoutBase()} for every architecture.
     */
    default long layoutBase(Architecture architecture) {
        return layoutBase();
    }

    /**
     * Build a VM. The VM has not run yet; nothing is registered for steal time.
     *
     * @throws UnsupportedOperationException when the spec asks for something not declared in
     *                                       {@link #architectures()} or {@link #capabilities()}
     */
    Vm open(VmSpec spec);
}
