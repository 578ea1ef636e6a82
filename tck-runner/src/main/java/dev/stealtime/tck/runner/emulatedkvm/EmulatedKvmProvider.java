package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.Configurable;
import dev.stealtime.tck.runner.MachineDescription;
import dev.stealtime.tck.runner.adapter.AdapterLink;
import dev.stealtime.tck.runner.adapter.AdapterProvider;
import dev.stealtime.tck.runner.adapter.UnixLink;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.TckConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
     * protocol.c). Backed by EmulatedKvmMeasurementBenchmark; see the README for its figures.
     */
    static final Duration TOLERANCE = Duration.ofMillis(20);
    /** Beyond the workload a call asks for: the emulated machine is slow, and slower under load. */
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);

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
    private volatile EmulatedMachine current;
    private volatile TckConfig config = TckConfig.fromEnvironment();

    EmulatedKvmProvider(Guest guest) {
        this.guest = guest;
    }

    @Override
    public boolean takes(TckConfig.Key key) {
        return key == TckConfig.Key.KERNEL || key == TckConfig.Key.KVM_MODULES && guest.kvmModules;
    }

    @Override
    public synchronized void configure(TckConfig config) {
        if (started != null) {
            throw new IllegalStateException(guest.providerId + " is configured before it starts");
        }
        config.kernel();       // validated: a readable file
        config.kvmModules().ifPresent(dir -> KvmModules.select(dir, Map.of(), false));   // holds KVM modules
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

    @Override
    public String version() {
        Started s = start();
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
        return guest == Guest.ARM64 ? Set.copyOf(EnumSet.of(Capability.MULTI_VCPU, Capability.MEMORY_HOLES, Capability.HIGH_MEMORY))
                : Set.copyOf(EnumSet.of(Capability.MULTI_VCPU, Capability.MEMORY_HOLES, Capability.HIGH_MEMORY,
                Capability.HOST_MSR_ACCESS, Capability.WITHHOLD_STEAL_TIME));
    }

    @Override
    public TimingPrecision timing() {
        Started s = started;
        return s != null && s.failure() == null ? s.adapter().timing() : TimingPrecision.measured(TOLERANCE);
    }

    /**
     * Missing host packages, a machine that does not come up, KVM modules that do not load, or a
     * kernel whose KVM is absent or lacks steal time make the provider unavailable (never a failure).
     */
    @Override
    public Availability availability() {
        try {
            Started s = start();
            if (s.failure() != null) {
                return Availability.no(s.failure());
            }
            Availability a = s.adapter().availability();
            if (!a.available()) {
                // the kernel under test lacks KVM or steal time: say which kernel, and what its console said
                EmulatedMachine m = current;
                return Availability.no(a.reason() + " (guest kernel " + s.machine().get("kernel release") + ", "
                        + s.machine().get("kernel image") + ", sha256 " + s.machine().get("kernel image sha256") + ")"
                        + (m == null ? "" : "; console: " + m.consoleTail()));
            }
            return a;
        } catch (RuntimeException | Error e) { // must never throw
            return Availability.no("cannot start the emulated " + guest.arch + " machine: " + e);
        }
    }

    @Override
    public Vm open(VmSpec spec) {
        Started s = start();
        if (s.failure() != null) {
            throw new IllegalStateException(guest.providerId + " provider unavailable: " + s.failure());
        }
        return s.adapter().open(spec);
    }

    @Override
    public Map<String, String> machine() {
        Started s = started;
        return s == null || s.failure() != null ? Map.of() : s.machine();
    }

    /** Prepares and boots once; remembers a failure too, so an unavailable provider is asked once. */
    private synchronized Started start() {
        if (started != null) {
            return started;
        }
        List<String> missing = HostTools.missingPackages(guest);
        if (!missing.isEmpty()) {
            return started = new Started(null, Map.of(), "missing host packages: " + String.join(" ", missing)
                    + " (apt-get install " + String.join(" ", missing) + ")");
        }
        try {
            workDir = Files.createTempDirectory("tck-" + guest.providerId + "-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            return started = new Started(null, Map.of(), "cannot create a private temporary directory: " + e.getMessage());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, guest.providerId + " shutdown"));
        try {
            MachineImage debian = MachineImage.prepare(guest, workDir);
            Optional<Path> mine = config.kernel();
            Map<String, KvmModules.Module> modules = guest.kvmModules
                    ? KvmModules.select(config.kvmModules().orElse(null), debian.kvmModules(), mine.isEmpty()) : Map.of();
            KernelUnderTest kernel = KernelUnderTest.of(mine.orElse(debian.kernel()),
                    mine.isPresent() ? "--kernel" : "Debian " + debian.kernelRelease(), modules);
            Path initrd = workDir.resolve("initrd.cpio.gz");
            KvmModules.appendTo(debian.initrd(), modules, initrd);
            Guest.Accelerator accel = guest.accelerator();
            AdapterProvider adapter;
            try {
                adapter = new AdapterProvider(() -> link(accel, kernel.image(), initrd), CALL_TIMEOUT);
            } catch (RuntimeException e) {
                throw new IllegalStateException("kernel " + kernel.image() + " (sha256 " + kernel.sha256() + "): "
                        + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
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
            machine.putAll(kernel.describe());
            machine.put("boot", current.bootMillis() + " ms (QEMU start to the adapter listening)");
            return started = new Started(adapter, Map.copyOf(machine), null);
        } catch (RuntimeException | IOException e) {
            shutdown();
            return started = new Started(null, Map.of(), e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    /** A session: boots a fresh machine (the first one, or after the adapter faulted) and connects. */
    private AdapterLink link(Guest.Accelerator accel, Path kernel, Path initrd) {
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
