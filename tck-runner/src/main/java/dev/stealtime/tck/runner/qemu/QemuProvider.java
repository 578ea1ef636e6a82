package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.TckConfig;
import dev.stealtime.tck.runner.emulatedkvm.Guest;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * QEMU with KVM, tested from inside its guest: Debian's {@code qemu-system-x86_64} or
 * {@code qemu-system-aarch64} boots the TCK's test guest (docs/test-guest-protocol.md) with
 * {@code -accel kvm}; the guest does CPUID, WRMSR, RDMSR, SMCCC calls, runs and idles on request over
 * the serial port; guest RAM is a shared file the TCK maps (live races); QMP names the vCPU threads,
 * which the competitor helper pins and preempts and whose schedstat run_delay is the ground truth.
 * x86: the KVM is this host's {@code /dev/kvm} where it is usable ({@link LocalQemu}), else the one
 * inside an emulated machine ({@link MachinePool}); the {@code tck.qemu.kvm} setting forces either.
 * arm64: always inside an emulated arm64 machine; QEMU places the PV-time structures itself
 * ({@link QemuArm64Vcpu#vmmPlacedIpa()}), and the TCK sees them, and its window of RAM, through
 * {@code native/qemu/share.c}. See docs/qemu-provider.md.
 *
 * <p>Layout: the TCK's windows start at 2 MiB ({@link #layoutBase()}), the start of the guest's
 * free RAM; HIGH RAM is a {@code pc-dimm} at 4 GiB. QEMU's RAM below 4 GiB has no holes, so
 * MEMORY_HOLES is not declared, nor what only QEMU itself could do (HOST_MSR_ACCESS, DIRTY_LOG,
 * MOVABLE_MEMORY).
 */
public final class QemuProvider implements HypervisorProvider {

    /** Same slack as the kvm provider: the vCPU threads are KVM's, preempted by the same mechanism. */
    static final Duration TOLERANCE = Duration.ofMillis(10);
    /** Inside an emulated machine, as the kvm-x86-emulated provider: the machine's CPUs are emulated, its scheduler coarser. */
    static final Duration EMULATED_TOLERANCE = Duration.ofMillis(20);

    private static final Set<QemuVm> LIVE = ConcurrentHashMap.newKeySet();
    /** Providers that may keep emulated machines running: stopped with the JVM. */
    private static final Set<QemuProvider> PROVIDERS = ConcurrentHashMap.newKeySet();
    private static final Thread HOOK = new Thread(QemuProvider::closeAll, "qemu provider shutdown");

    static {
        Runtime.getRuntime().addShutdownHook(HOOK);
    }

    private record Prepared(QemuLauncher launcher, String failure) {
    }

    /** Per architecture, once prepared (x86 by {@link #prepare()}, arm64 by its first VM). */
    private final java.util.Map<Architecture, Prepared> prepared = new java.util.concurrent.ConcurrentHashMap<>();

    public QemuProvider() {
        PROVIDERS.add(this);
    }

    @Override
    public String id() {
        return "qemu";
    }

    @Override
    public String description() {
        return "QEMU with KVM, from inside the TCK's test guest (x86-64; arm64 inside an emulated machine)";
    }

    /** QEMU's version, and on which KVM it runs; a defect put into it (self-tests) is said first. */
    @Override
    public String version() {
        Prepared p = prepared.get(Architecture.X86_64);
        Prepared a = prepared.get(Architecture.ARM64);
        String defect = TckConfig.fromEnvironment().qemuDefect().map(d -> "WITH DEFECT " + d + " (native/qemu/defects.c): ").orElse("");
        return defect + QemuHost.qemuVersion() + (p != null && p.launcher() != null ? ", on " + p.launcher().where() : "")
                + (a != null && a.launcher() != null ? "; arm64: Debian's qemu-system-aarch64 on " + a.launcher().where() : "");
    }

    /** x86-64; arm64 where the emulated arm64 machine's host packages are installed ({@link QemuHost#arm64Problem()}). */
    @Override
    public Set<Architecture> architectures() {
        return QemuHost.arm64Problem() == null ? EnumSet.of(Architecture.X86_64, Architecture.ARM64) : EnumSet.of(Architecture.X86_64);
    }

    /**
     * MULTI_VCPU ({@code -smp}), WITHHOLD_STEAL_TIME ({@code -cpu ...,kvm-steal-time=off,
     * kvm-pv-enforce-cpuid=on}), HIGH_MEMORY (a {@code pc-dimm} at 4 GiB), VMM_LIVE_MIGRATION (a second QEMU,
     * {@code -incoming defer}, QMP {@code migrate} over a Unix socket or between emulated machines), VCPU_HOTPLUG
     * ({@code -smp N,maxcpus=N+1}, QMP {@code device_add}) and VMM_SAVE_RESTORE (QMP
     * {@code migrate} to a file, a new QEMU with {@code -incoming defer} and {@code migrate-incoming}).
     */
    @Override
    public Set<Capability> capabilities() {
        return Set.copyOf(EnumSet.of(Capability.MULTI_VCPU, Capability.WITHHOLD_STEAL_TIME, Capability.HIGH_MEMORY,
                Capability.VMM_SAVE_RESTORE, Capability.VMM_LIVE_MIGRATION, Capability.VCPU_HOTPLUG));
    }

    /**
     * arm64: MULTI_VCPU, VMM_SAVE_RESTORE, VMM_LIVE_MIGRATION (between two emulated machines) and GUEST_DEVICE_TREE (QEMU always places the structures, at
     * {@code 0x090a0000 + 64 × cpu index}, and boots the guest with the tree it generates; the test
     * guest reads it: {@code dt N}). Not WITHHOLD_STEAL_TIME: with {@code kvm-steal-time=off}
     * QEMU sets no IPA, but Linux KVM still answers {@code SMCCC_ARCH_FEATURES(PV_TIME_FEATURES)} with
     * SUCCESS (it looks at {@code KVM_REG_ARM_STD_HYP_BMAP}, which QEMU 7.2 leaves as it is); nor
     * HIGH_MEMORY or MEMORY_HOLES (the TCK's RAM is one window of QEMU's).
     */
    @Override
    public Set<Capability> capabilities(Architecture architecture) {
        return architecture == Architecture.ARM64 ? Set.of(Capability.MULTI_VCPU, Capability.VMM_SAVE_RESTORE, Capability.VMM_LIVE_MIGRATION,
                Capability.GUEST_DEVICE_TREE)
                : capabilities();
    }

    @Override
    public TimingPrecision timing() {
        return TimingPrecision.measured(emulated() ? EMULATED_TOLERANCE : TOLERANCE);
    }

    /** arm64 always runs inside the emulated machine. */
    @Override
    public TimingPrecision timing(Architecture architecture) {
        return architecture == Architecture.ARM64 ? TimingPrecision.measured(EMULATED_TOLERANCE) : timing();
    }

    /** 2 MiB: the first byte of the test guest's free RAM (its image is at 1 MiB, QEMU's BIOS below). */
    @Override
    public long layoutBase() {
        return 2 * GuestLayout.MIB;
    }

    /** arm64: 16 MiB into {@code virt}'s RAM (which starts at 1 GiB), inside the test guest's free RAM. */
    @Override
    public long layoutBase(Architecture architecture) {
        return architecture == Architecture.ARM64 ? QemuCommand.ARM64_LAYOUT_BASE : layoutBase();
    }

    /** Booting QEMU is part of opening a VM (and, inside emulated machines, maybe booting one), and a loaded machine slows it. */
    @Override
    public Optional<Duration> defaultCallTimeout() {
        return Optional.of(Duration.ofSeconds(emulated() || architectures().contains(Architecture.ARM64) ? 180 : 60));
    }

    /**
     * Builds the test guest and the competitor (first use), then boots QEMU once to see that it works
     * here; inside an emulated machine, prepares and boots that machine first (kept for the run).
     */
    @Override
    public void prepare() {
        prepare0();
    }

    @Override
    public Availability availability() {
        try {
            String why = problem();
            if (why != null) {
                return Availability.no(why);
            }
            Prepared p = prepared.get(Architecture.X86_64);
            if (p == null) {
                return Availability.yes(emulated()
                        ? "no usable /dev/kvm here (" + QemuHost.problem() + "): a run boots an emulated x86-64 machine (QEMU under TCG) whose KVM runs "
                            + QemuHost.qemuVersion()
                        : "a run builds the test guest (gcc) and boots " + QemuHost.qemuVersion() + " once");
            }
            return p.failure() != null ? Availability.no(p.failure()) : Availability.yes();
        } catch (RuntimeException | Error e) { // must never throw
            return Availability.no("cannot probe QEMU: " + e);
        }
    }

    @Override
    public Vm open(VmSpec spec) {
        if (!architectures().contains(spec.architecture())) {
            throw new UnsupportedOperationException("the qemu provider cannot build " + spec.architecture() + " guests here"
                    + (spec.architecture() == Architecture.ARM64 ? ": " + QemuHost.arm64Problem() : ""));
        }
        if (spec.architecture() == Architecture.ARM64 && !spec.stealTimeOffered()) {
            throw new UnsupportedOperationException("arm64: steal time cannot be withheld (WITHHOLD_STEAL_TIME is not declared for arm64)");
        }
        if (spec.onlyStealTime()) {
            throw new UnsupportedOperationException("steal time as the only paravirtual feature is not declared (STEAL_TIME_ALONE)");
        }
        if (spec.vcpus() > 8) {
            throw new UnsupportedOperationException("the test guest brings up at most 8 vCPUs, asked " + spec.vcpus());
        }
        Prepared p = spec.architecture() == Architecture.ARM64 ? prepareArm64() : prepare0();
        if (p.failure() != null) {
            throw new IllegalStateException("qemu provider unavailable" + (spec.architecture() == Architecture.ARM64 ? " for arm64" : "")
                    + ": " + p.failure());
        }
        try {
            QemuVm vm = QemuVm.start(p.launcher(), spec);
            LIVE.add(vm);
            return vm;
        } catch (IOException e) {
            throw new IllegalStateException("starting QEMU for " + spec + ": " + e.getMessage(), e);
        }
    }

    /** Whether QEMU runs inside an emulated machine: asked so, or asked {@code auto} where {@code /dev/kvm} is not usable. */
    static boolean emulated() {
        String mode = TckConfig.fromEnvironment().qemuKvm();
        return mode.equals("emulated") || (mode.equals("auto") && QemuHost.problem() != null);
    }

    /** Why the chosen KVM cannot be used here (without building or booting anything), or null. */
    static String problem() {
        String mode = TckConfig.fromEnvironment().qemuKvm();
        String host = QemuHost.problem();
        if (mode.equals("host")) {
            return host == null ? null : "tck.qemu.kvm=host: " + host;
        }
        if (mode.equals("auto") && host == null) {
            return null;
        }
        String emulated = QemuHost.emulatedProblem();
        if (emulated == null) {
            return null;
        }
        return mode.equals("auto") ? "no usable /dev/kvm (" + host + "), and no emulated machine: " + emulated
                : "tck.qemu.kvm=emulated: " + emulated;
    }

    private synchronized Prepared prepare0() {
        Prepared done = prepared.get(Architecture.X86_64);
        if (done != null) {
            return done;
        }
        String why;
        try {
            why = problem();
        } catch (IllegalArgumentException e) {
            why = e.getMessage();
        }
        if (why != null) {
            return remember(Architecture.X86_64, new Prepared(null, why));
        }
        return prepareWith(Architecture.X86_64, () -> {
            Path guest = NativeBuild.guest();
            Path competitor = NativeBuild.competitor();
            String defect = TckConfig.fromEnvironment().qemuDefect().orElse(null);
            if (emulated()) {
                return MachinePool.start(Guest.X86_64, QemuHost.command("qboot.rom"), QemuHost.qemu(), defect);
            }
            return LocalQemu.launcher(QemuHost.qemu(), QemuHost.command(QemuHost.QBOOT.toString()), guest, competitor,
                    defect != null ? new Defect(defect, NativeBuild.defects()) : null);
        }, "QEMU with KVM cannot run the test guest here" + (emulated() ? " (inside an emulated machine)" : ""));
    }

    /**
     * arm64, at its first VM: the emulated arm64 machine (its image from {@code machine.sh arm64},
     * which fetches Debian's arm64 QEMU once), then one VM to see that the test guest answers.
     */
    private synchronized Prepared prepareArm64() {
        Prepared done = prepared.get(Architecture.ARM64);
        if (done != null) {
            return done;
        }
        return prepareWith(Architecture.ARM64, () -> MachinePool.start(Guest.ARM64, QemuHost.command("qboot.rom"), null,
                TckConfig.fromEnvironment().qemuDefect().orElse(null)), "QEMU with KVM cannot run the arm64 test guest inside the emulated arm64 machine");
    }

    private interface LauncherStart {
        QemuLauncher start() throws IOException;
    }

    /** Starts a launcher for {@code architecture} and boots one VM on it: prepared, or the failure said after {@code failure}. */
    private Prepared prepareWith(Architecture architecture, LauncherStart start, String failure) {
        QemuLauncher launcher = null;
        try {
            launcher = start.start();
            VmSpec probe = new VmSpec(architecture, 1, GuestLayout.forProvider(this, architecture).regions(), true);
            try (QemuVm vm = QemuVm.start(launcher, probe)) {
                vm.vcpu(0).run(Duration.ofMillis(1));
            }
            return remember(architecture, new Prepared(launcher, null));
        } catch (IOException | RuntimeException e) {
            if (launcher != null) {
                launcher.close();
            }
            return remember(architecture, new Prepared(null, failure + ": " + e.getMessage()));
        }
    }

    private Prepared remember(Architecture architecture, Prepared p) {
        prepared.put(architecture, p);
        return p;
    }

    /** A VM this provider did not open itself (a restore): stopped with the JVM like the others. */
    static void track(QemuVm vm) {
        LIVE.add(vm);
    }

    static void forget(QemuVm vm) {
        LIVE.remove(vm);
    }

    private static void closeAll() {
        int missed = QemuVm.MISSES.get();
        if (missed > 0) {
            System.err.println("qemu provider: the competitor missed " + missed + " run(s) or halt(s) of a vCPU and asked again"
                    + " (the machine that runs QEMU did not schedule it in time)");
        }
        for (QemuVm vm : LIVE.toArray(QemuVm[]::new)) {
            vm.close();
        }
        for (QemuProvider p : PROVIDERS) {
            for (Prepared prep : p.prepared.values()) {
                if (prep.launcher() != null) {
                    prep.launcher().close();
                }
            }
        }
    }

    @Override
    public String toString() {
        return id() + ": " + description();
    }
}
