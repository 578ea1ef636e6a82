package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.adapter.AdapterLink;
import dev.stealtime.tck.runner.adapter.AdapterProvider;
import dev.stealtime.tck.runner.adapter.UnixLink;
import dev.stealtime.tck.runner.host.HostKvm;
import dev.stealtime.tck.runner.host.HostPackages;
import dev.stealtime.tck.runner.providers.Configurable;
import dev.stealtime.tck.runner.providers.MachineDescription;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.TckConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Real Linux KVM in an emulated machine, for either architecture ({@link Guest}): QEMU boots a
 * kernel — Debian's cloud kernel by default, or the kernel under test ({@code --kernel}) — whose
 * KVM offers {@code /dev/kvm} with steal time (x86, {@code MSR_KVM_STEAL_TIME}; its KVM is a set of
 * modules, Debian's or those under test, {@code --kvm-modules}) or PV time (arm64, built in). The
 * C adapter {@code tck-kvm} (sources in {@code tck-runner/src/main/native/kvm}, built for the guest's
 * architecture) drives it there and speaks the adapter protocol (docs/adapter-protocol.md) over a
 * virtio-serial port that is a Unix socket on this side. Guest RAM lives inside the emulated
 * machine, out of this process's reach, so the adapter answers {@code "memory":"sampled"} and the
 * races read through its sampling calls.
 *
 * <p>Nothing happens until the provider is first asked whether it is available (or to open a VM):
 * then the machine image is prepared (cached, see {@link MachineImage}) and the machine booted,
 * once for the run. It is shut down, with every temporary file, when the JVM exits (also on
 * Ctrl-C); after an adapter fault the next session boots a fresh machine. A kernel that does not
 * boot, lacks KVM or steal time, or KVM modules that do not load make the provider unavailable
 * with the reason and the console's tail: NOT TESTED, never FAIL.
 *
 * <p>The two providers are this one class; {@link Arm64} and {@link X86} only name it for
 * {@link java.util.ServiceLoader}, which needs a public no-argument constructor per provider.
 */
public class EmulatedKvmProvider implements HypervisorProvider, MachineDescription, Configurable {

    /**
     * Slack on each timing bound; must equal the adapter's handshake ({@code TOLERANCE_NS} in
     * protocol.c). Backed by EmulatedKvmMeasurementBenchmark; see docs/figures.md for its figures.
     */
    static final Duration TOLERANCE = Duration.ofMillis(20);
    /** Beyond the workload a call asks for: the emulated machine is slow, and slower under load. */
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);
    /** How long {@code open} may take before the machine counts as hung (well inside tck.call.timeout with a reboot). */
    static final Duration OPEN_BOUND = Duration.ofSeconds(3);
    /**
     * How long closing a VM may take before the machine counts as hung: a VM is gone with its machine,
     * so a {@code close} past this bound stops the machine and returns; the next {@code open} boots a
     * fresh one.
     */
    static final Duration CLOSE_BOUND = Duration.ofSeconds(5);
    /** How many machines one {@code open} may try. */
    static final int OPEN_ATTEMPTS = 3;
    private static final ScheduledExecutorService HANG_TIMER =
            Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "tck-emulated-machine-hang-timer");
                t.setDaemon(true);
                return t;
            });

    /** {@code kvm-arm64}: KVM/arm64 with PV time in an emulated arm64 machine. */
    public static final class Arm64 extends EmulatedKvmProvider {
        public Arm64() {
            super(Guest.ARM64);
        }
    }

    /** {@code kvm-x86-emulated}: KVM/x86 with steal time in an emulated x86-64 machine. */
    public static final class X86 extends EmulatedKvmProvider {
        public X86() {
            super(Guest.X86_64);
        }
    }

    /** What starting gave: the running adapter, or why it could not start. */
    private record Started(AdapterProvider adapter, Map<String, String> machine, String failure) {
    }

    private final Guest guest;
    private volatile Started started;
    private volatile Path workDir;
    private final AtomicInteger machines = new AtomicInteger();
    private final AtomicInteger replaced = new AtomicInteger();
    private volatile EmulatedMachine current;
    /** How QEMU runs the machines: chosen at the first boot, TCG from then on if KVM failed to start. */
    private volatile Guest.Accelerator accel;
    private volatile TckConfig config = TckConfig.fromEnvironment();

    EmulatedKvmProvider(Guest guest) {
        this.guest = guest;
    }

    @Override
    public boolean takes(TckConfig.Key key) {
        return key == TckConfig.Key.KERNEL || key == TckConfig.Key.ACCEL || key == TckConfig.Key.KVM_MODULES && guest.kvmModules;
    }

    @Override
    public synchronized void configure(TckConfig config) {
        if (started != null) {
            throw new IllegalStateException(guest.providerId + " is configured before it starts");
        }
        config.kernel();       // validated: a readable file
        config.kvmModules().ifPresent(dir -> KvmModules.select(dir, Map.of(), false));   // holds KVM modules
        guest.accelerator(HostKvm.probe(), config.accel());                              // a forced kvm this host can run
        this.config = config;
    }

    @Override
    public String id() {
        return guest.providerId;
    }

    @Override
    public String description() {
        return "Linux KVM/" + (guest == Guest.ARM64 ? "arm64" : "x86") + " in an emulated " + guest.arch
                + " machine (QEMU), through the C adapter tck-kvm";
    }

    /** The adapter's version once the machine is up (after {@link #prepare()}); before that, says so. */
    @Override
    public String version() {
        Started s = started;
        if (s == null) {
            return "not started (the emulated machine boots when a run prepares the provider)";
        }
        if (s.failure() != null) {
            return "unavailable (" + s.failure() + ")";
        }
        return s.adapter().version() + " (guest of " + s.machine().get("emulator") + ", " + s.machine().get("accelerator") + ")";
    }

    @Override
    public Set<Architecture> architectures() {
        return EnumSet.of(guest.architecture);
    }

    @Override
    public Set<Capability> capabilities() {
        Started s = started;
        if (s != null && s.failure() == null) {
            return s.adapter().capabilities();
        }
        // what the adapter's hello will declare (arch_capabilities in native/kvm, dirty.c for the last two)
        return guest == Guest.ARM64 ? Set.copyOf(EnumSet.of(Capability.MULTI_VCPU, Capability.MEMORY_HOLES, Capability.HIGH_MEMORY,
                Capability.DIRTY_LOG, Capability.MOVABLE_MEMORY))
                : Set.copyOf(EnumSet.of(Capability.MULTI_VCPU, Capability.MEMORY_HOLES, Capability.HIGH_MEMORY,
                Capability.HOST_MSR_ACCESS, Capability.WITHHOLD_STEAL_TIME, Capability.STEAL_TIME_ALONE, Capability.DIRTY_LOG,
                Capability.MOVABLE_MEMORY));
    }

    @Override
    public TimingPrecision timing() {
        Started s = started;
        return s != null && s.failure() == null ? s.adapter().timing() : TimingPrecision.measured(TOLERANCE);
    }

    /** Prepares the machine image (the first time: downloads Debian's kernel) and boots the machine, once. */
    @Override
    public void prepare() {
        start();
    }

    /**
     * After {@link #prepare()}: whether the machine came up and its KVM offers steal time. Missing
     * host packages, a machine that does not come up, KVM modules that do not load, or a kernel whose
     * KVM is absent or lacks steal time make the provider unavailable (never a failure). Unprepared
     * (a listing): whether the host has every package, and a note on the machine image and on the
     * last boot, without booting.
     */
    @Override
    public Availability availability() {
        try {
            Started s = started;
            if (s == null) {
                HostPackages.Missing missing = HostPackages.here().missing(guest.providerId);
                return missing.none()
                        ? Availability.yes(BootRecord.describe(guest) + "; accelerator "
                            + guest.accelerator(HostKvm.probe(), config.accel()).description()
                            + (guest.kvmModules ? "; WITHHOLD_STEAL_TIME and STEAL_TIME_ALONE need KVM_CAP_ENFORCE_PV_FEATURE_CPUID"
                            + " in the guest kernel (Linux 5.10+; Debian's has it): a run's summary lists what the adapter offered" : ""))
                        : Availability.no(missing.reason());
            }
            if (s.failure() != null) {
                return Availability.no(s.failure());
            }
            Availability a = s.adapter().availability();
            if (!a.available()) {
                // the kernel under test lacks KVM or steal time: say which kernel, and what its console said
                EmulatedMachine m = current;
                String hint = guest.kvmModules && config.kernel().isPresent() && config.kvmModules().isEmpty()
                        ? "; a kernel of one's own gets none of Debian's KVM modules: give its own with --kvm-modules, or build KVM in" : "";
                return Availability.no(a.reason() + hint + " (guest kernel " + s.machine().get("kernel release") + ", "
                        + s.machine().get("kernel image") + ", sha256 " + s.machine().get("kernel image sha256") + ")"
                        + (m == null ? "" : "; console: " + m.consoleTail()));
            }
            return a;
        } catch (RuntimeException | Error e) { // must never throw
            return Availability.no("cannot start the emulated " + guest.arch + " machine: " + e);
        }
    }

    /**
     * 30 s: room inside one call for two replacements of a hung machine (each a bound of
     * {@link #OPEN_BOUND} plus a boot of about 2.5 s) and a slow third {@code open} under load.
     */
    @Override
    public Optional<Duration> defaultCallTimeout() {
        return Optional.of(Duration.ofSeconds(30));
    }

    /**
     * Opens a VM in the current machine. An emulated machine now and then stops answering while a VM
     * is created (seen on x86 under TCG, 2026-12-02: about one {@code open} in fifty, the whole guest
     * silent, its adapter's watchdog too; the cause is not found): a machine that has not answered
     * {@code open} within {@link #OPEN_BOUND} is stopped and replaced, and the {@code open} repeated
     * on the fresh machine, at most {@link #OPEN_ATTEMPTS} times in all, the last without the bound.
     * No test has seen the VM yet, so nothing observed is repeated. Each replacement is said on stderr
     * and counted in {@link #machine()} ("machines replaced after a hang"). Give such a provider a
     * call timeout that holds the replacements: {@link #defaultCallTimeout()}.
     */
    @Override
    public Vm open(VmSpec spec) {
        Started s = start();   // prepared by the run; a plain surefire build may open without it
        if (s.failure() != null) {
            throw new IllegalStateException(guest.providerId + " provider unavailable: " + s.failure());
        }
        for (int attempt = 1; attempt < OPEN_ATTEMPTS; attempt++) {
            Vm vm = openBounded(s, spec);
            if (vm != null) {
                return new BoundedClose(vm, current);
            }
            int n = replaced.incrementAndGet();
            System.err.printf("tck: %s: the emulated machine did not answer `open` within %d s; stopped and replaced "
                    + "(%d so far this run), `open` repeated%n", guest.providerId, OPEN_BOUND.toSeconds(), n);
        }
        return new BoundedClose(s.adapter().open(spec), current);
    }

    /**
     * A VM whose {@code close} is bounded by {@link #CLOSE_BOUND}: the guest kernel has been seen to
     * spin inside KVM while a VM is torn down (x86 under TCG, 2026-12-02: "soft lockup - CPU#1 stuck
     * for 26s! [tck-kvm]" on the console). Closing ends the VM either way, so a machine that has not
     * answered within the bound is stopped (its VMs end with it), said on stderr and counted; the
     * close returns, and the next {@code open} boots a fresh machine. Nothing a test observes is
     * lost: the VM was being closed.
     */
    private final class BoundedClose implements Vm {
        private final Vm vm;
        private final EmulatedMachine machine;

        BoundedClose(Vm vm, EmulatedMachine machine) {
            this.vm = vm;
            this.machine = machine;
        }

        @Override
        public VmSpec spec() {
            return vm.spec();
        }

        @Override
        public GuestMemory memory() {
            return vm.memory();
        }

        @Override
        public List<? extends Vcpu> vcpus() {
            return vm.vcpus();
        }

        @Override
        public void close() {
            if (machine == null) {
                vm.close();
                return;
            }
            HangBound bound = HangBound.arm(machine, CLOSE_BOUND);
            RuntimeException failed = null;
            try {
                vm.close();
            } catch (RuntimeException e) {
                failed = e;
            }
            if (bound.disarm()) {
                if (failed != null) {
                    throw failed;            // the machine failed on its own: not a hang
                }
                return;
            }
            int n = replaced.incrementAndGet();
            System.err.printf("tck: %s: the emulated machine did not answer `close` within %d s; stopped (%d so far "
                    + "this run), the next `open` boots a fresh one%n", guest.providerId, CLOSE_BOUND.toSeconds(), n);
        }
    }

    /** One {@code open} within {@link #OPEN_BOUND}, or null when the machine was stopped for not answering. */
    private Vm openBounded(Started s, VmSpec spec) {
        EmulatedMachine m = current;
        if (m == null) {
            return s.adapter().open(spec);
        }
        HangBound bound = HangBound.arm(m, OPEN_BOUND);
        Vm vm;
        try {
            vm = s.adapter().open(spec);
        } catch (RuntimeException e) {
            if (bound.disarm()) {
                throw e;                 // the machine failed on its own: not a hang
            }
            return null;                 // stopped for not answering
        }
        if (bound.disarm()) {
            return vm;
        }
        try {                            // the bound struck as the answer came: that machine is gone
            vm.close();
        } catch (RuntimeException closing) {
            // the session ended with the machine
        }
        return null;
    }

    /**
     * A call's bound: ARMED until either the call's end disarms it or it strikes and stops the
     * machine; whichever comes first decides (a Future's cancel() cannot tell a running task from a
     * pending one).
     */
    private static final class HangBound {
        private static final int ARMED = 0;
        private static final int DISARMED = 1;
        private static final int STRUCK = 2;
        private final AtomicInteger state = new AtomicInteger(ARMED);
        private ScheduledFuture<?> strike;

        static HangBound arm(EmulatedMachine machine, Duration bound) {
            HangBound b = new HangBound();
            b.strike = HANG_TIMER.schedule(() -> {
                if (b.state.compareAndSet(ARMED, STRUCK)) {
                    machine.stop();
                }
            }, bound.toMillis(), TimeUnit.MILLISECONDS);
            return b;
        }

        /** True when the call ended first; false when the bound struck (returns once the machine is stopped). */
        boolean disarm() {
            if (state.compareAndSet(ARMED, DISARMED)) {
                strike.cancel(false);
                return true;
            }
            waitFor(strike);
            return false;
        }
    }

    private static void waitFor(Future<?> f) {
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | CancellationException e) {
            // stop() never throws
        }
    }

    @Override
    public Map<String, String> machine() {
        Started s = started;
        if (s == null || s.failure() != null) {
            return Map.of();
        }
        if (replaced.get() == 0) {
            return s.machine();
        }
        Map<String, String> m = new LinkedHashMap<>(s.machine());
        m.put("machines replaced after a hang", replaced.get() + " (an `open` not answered within " + OPEN_BOUND.toSeconds()
                + " s or a `close` within " + CLOSE_BOUND.toSeconds() + " s: the machine was stopped and a fresh one booted,"
                + " the `open` repeated)");
        return Collections.unmodifiableMap(m);
    }

    /** Prepares and boots once; remembers a failure too, so an unavailable provider is asked once. */
    private synchronized Started start() {
        if (started != null) {
            return started;
        }
        HostPackages.Missing missing = HostPackages.here().missing(guest.providerId);
        if (!missing.none()) {
            return started = new Started(null, Map.of(), missing.reason());
        }
        try {
            workDir = Files.createTempDirectory("tck-" + guest.providerId + "-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            return started = new Started(null, Map.of(), "cannot create a private temporary directory: " + e.getMessage());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, guest.providerId + " shutdown"));
        try {
            long t0 = System.nanoTime();
            MachineImage debian = MachineImage.prepare(guest, workDir);
            long imageMillis = (System.nanoTime() - t0) / 1_000_000;
            Optional<Path> mine = config.kernel();
            Map<String, KvmModules.Module> modules = guest.kvmModules
                    ? KvmModules.select(config.kvmModules().orElse(null), debian.kvmModules(), mine.isEmpty()) : Map.of();
            KernelUnderTest kernel = KernelUnderTest.of(mine.orElse(debian.kernel()),
                    mine.isPresent() ? "--kernel" : "Debian " + debian.kernelRelease(), modules);
            Path initrd = workDir.resolve("initrd.cpio.gz");
            KvmModules.appendTo(debian.initrd(), modules, initrd);
            accel = guest.accelerator(HostKvm.probe(), config.accel());
            AdapterProvider adapter;
            try {
                adapter = connect(kernel, initrd);
            } catch (RuntimeException e) {
                if (!accel.fallsBack()) {
                    throw e;
                }
                String failure = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
                System.err.printf("tck: %s: QEMU with -accel kvm did not start the machine (%s); retrying once with TCG%n",
                        guest.providerId, failure);
                accel = accel.fallBack(guest, failure.replaceFirst("; console: .*", ""));
                adapter = connect(kernel, initrd);
            }
            Map<String, String> facts = current.facts();
            Map<String, String> machine = new LinkedHashMap<>();
            machine.put("emulator", EmulatedMachine.qemuVersion(guest));
            machine.put("accelerator", accel.description());
            machine.put("machine", String.join(" ", guest.machine) + ", " + EmulatedMachine.CPUS + " CPUs, "
                    + EmulatedMachine.MEMORY_MIB + " MiB");
            machine.put("cpu", accel.cpu() + " (" + facts.getOrDefault("cpu", "?") + ")");
            machine.put("kernel release", facts.getOrDefault("kernel", "?"));
            machine.put("kvm", facts.getOrDefault("kvm", "?"));
            machine.putAll(kernel.describe(List.of(facts.getOrDefault("modules", "").split(" "))));
            machine.put("boot", current.bootMillis() + " ms (QEMU start to the adapter listening; the machine image took "
                    + imageMillis + " ms to check or prepare)");
            BootRecord.booted(guest, facts.getOrDefault("kernel", "?") + " (" + accel.name() + ")");
            return started = new Started(adapter, Collections.unmodifiableMap(machine), null);
        } catch (RuntimeException | IOException e) {
            shutdown();
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            BootRecord.failed(guest, why);
            return started = new Started(null, Map.of(), why);
        }
    }

    /** The adapter over a first machine booted with {@link #accel}. */
    private AdapterProvider connect(KernelUnderTest kernel, Path initrd) {
        try {
            return new AdapterProvider(() -> link(kernel.image(), initrd), CALL_TIMEOUT);
        } catch (RuntimeException e) {
            throw new IllegalStateException("kernel " + kernel.image() + " (sha256 " + kernel.sha256() + "): "
                    + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
        }
    }

    /** A session: boots a fresh machine (the first one, or after the adapter faulted) and connects. */
    private AdapterLink link(Path kernel, Path initrd) {
        int n = machines.incrementAndGet();
        Path dir = workDir.resolve("machine-" + n);
        Path shared = workDir.resolve("shared-" + n);
        try {
            Files.createDirectories(dir);
            Files.createDirectories(shared);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        EmulatedMachine m = EmulatedMachine.boot(guest, accel, kernel, initrd, dir);
        current = m;
        if (!m.moduleFailures().isEmpty()) {
            m.stop();
            throw new IllegalStateException("KVM modules did not load: " + String.join("; ", m.moduleFailures())
                    + "; console: " + m.consoleTail());
        }
        return new UnixLink(m.socket(), guest.providerId + ":qemu-machine-" + n, shared, shared.toString(), m::consoleTail, m::stop);
    }

    /** The machine of the current session (null before the first boot). */
    EmulatedMachine currentMachine() {
        return current;
    }

    /** How many machines this provider booted (one per adapter session). */
    int machinesBooted() {
        return machines.get();
    }

    /** The private temporary directory (null before the first start). */
    Path workDir() {
        return workDir;
    }

    /**
     * Ends the adapter session, stops the machine and removes every temporary file. Idempotent. Not
     * synchronized: as a shutdown hook it must also end a boot in progress (killing QEMU ends it).
     */
    void shutdown() {
        EmulatedMachine m = current;
        Started s = started;
        if (s != null && s.adapter() != null) {
            s.adapter().close();
        }
        if (m != null) {
            m.stop();
        }
        if (workDir != null) {
            EmulatedMachine.deleteTree(workDir);
        }
    }
}
