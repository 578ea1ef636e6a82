package dev.stealtime.tck.runner.kvmarm64;

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
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Real Linux KVM/arm64, hosted in an emulated arm64 machine: QEMU ({@code -M virt,virtualization=on})
 * boots Debian's arm64 kernel, which offers {@code /dev/kvm} with PV time; the C adapter
 * {@code tck-kvm-arm64} (sources in {@code tck-runner/src/main/native/kvm-arm64}) drives it there and
 * speaks the adapter protocol (docs/adapter-protocol.md) over a virtio-serial port that is a Unix socket
 * on this side. Guest RAM lives inside the emulated machine, out of this process's reach, so the
 * adapter answers {@code "memory":"sampled"} and the races read through its sampling calls.
 *
 * <p>Nothing happens until the provider is first asked whether it is available (or to open a VM):
 * then the machine image is prepared (cached, see {@link MachineImage}) and the machine booted. It
 * stays up for the run and is shut down, with every temporary file, when the JVM exits (also on
 * Ctrl-C); after an adapter fault the next session boots a fresh machine.
 *
 * <p>Capabilities: MULTI_VCPU, MEMORY_HOLES, HIGH_MEMORY. Not WITHHOLD_STEAL_TIME: Linux answers
 * {@code KVM_HAS_DEVICE_ATTR(PVTIME_IPA)} with 0 whenever {@code kvm_arm_pvtime_supported()} (the
 * host has scheduler statistics), for every VM, so a VM whose vCPUs lack PV time on the attribute
 * side cannot be built; only the hypercalls could be withheld (firmware register
 * {@code KVM_REG_ARM_STD_HYP_BMAP}, bit {@code KVM_REG_ARM_STD_HYP_BIT_PV_TIME}).
 */
public final class KvmArm64Provider implements HypervisorProvider, MachineDescription, Configurable {

    static final String ID = "kvm-arm64";
    /**
     * Slack on each timing bound; must equal the adapter's handshake ({@code TOLERANCE_NS} in
     * protocol.c). Backed by KvmArm64MeasurementBenchmark; see the README for its figures.
     */
    static final Duration TOLERANCE = Duration.ofMillis(20);
    /** Beyond the workload a call asks for: the emulated machine is slow, and slower under load. */
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);
    private static final Set<Capability> CAPABILITIES = Set.copyOf(EnumSet.of(Capability.MULTI_VCPU,
            Capability.MEMORY_HOLES, Capability.HIGH_MEMORY));

    /** What starting gave: the running adapter, or why it could not start. */
    private record Started(AdapterProvider adapter, Map<String, String> machine, String failure) {
    }

    private volatile Started started;
    private volatile Path workDir;
    private final AtomicInteger machines = new AtomicInteger();
    private volatile EmulatedMachine current;
    private volatile TckConfig config = TckConfig.fromEnvironment();

    @Override
    public boolean takes(TckConfig.Key key) {
        return key == TckConfig.Key.KERNEL;
    }

    @Override
    public synchronized void configure(TckConfig config) {
        if (started != null) {
            throw new IllegalStateException("kvm-arm64 is configured before it starts");
        }
        config.kernel();   // validated: a readable file
        this.config = config;
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "Linux KVM/arm64 in an emulated arm64 machine (QEMU), through the C adapter tck-kvm-arm64";
    }

    @Override
    public String version() {
        Started s = start();
        if (s.failure() != null) {
            return "unavailable (" + s.failure() + ")";
        }
        return s.adapter().version() + " (guest of " + s.machine().get("emulator") + ")";
    }

    @Override
    public Set<Architecture> architectures() {
        return EnumSet.of(Architecture.ARM64);
    }

    @Override
    public Set<Capability> capabilities() {
        Started s = started;
        return s != null && s.failure() == null ? s.adapter().capabilities() : CAPABILITIES;
    }

    @Override
    public TimingPrecision timing() {
        Started s = started;
        return s != null && s.failure() == null ? s.adapter().timing() : TimingPrecision.measured(TOLERANCE);
    }

    /** Missing host packages, or a machine that does not come up, make the provider unavailable (never a failure). */
    @Override
    public Availability availability() {
        try {
            Started s = start();
            if (s.failure() != null) {
                return Availability.no(s.failure());
            }
            Availability a = s.adapter().availability();
            if (!a.available()) {
                // the kernel under test lacks KVM or PV time: say which kernel, and what its console said
                EmulatedMachine m = current;
                return Availability.no(a.reason() + " (guest kernel " + s.machine().get("kernel release") + ", "
                        + s.machine().get("kernel image") + ", sha256 " + s.machine().get("kernel image sha256") + ")"
                        + (m == null ? "" : "; console: " + m.consoleTail()));
            }
            return a;
        } catch (RuntimeException | Error e) { // must never throw
            return Availability.no("cannot start the emulated arm64 machine: " + e);
        }
    }

    @Override
    public Vm open(VmSpec spec) {
        Started s = start();
        if (s.failure() != null) {
            throw new IllegalStateException("kvm-arm64 provider unavailable: " + s.failure());
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
        List<String> missing = HostTools.missingPackages();
        if (!missing.isEmpty()) {
            return started = new Started(null, Map.of(), "missing host packages: " + String.join(" ", missing)
                    + " (apt-get install " + String.join(" ", missing) + ")");
        }
        try {
            workDir = Files.createTempDirectory("tck-kvm-arm64-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            return started = new Started(null, Map.of(), "cannot create a private temporary directory: " + e.getMessage());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "kvm-arm64 shutdown"));
        try {
            MachineImage debian = MachineImage.prepare(workDir);
            KernelUnderTest kernel = config.kernel()
                    .map(k -> KernelUnderTest.of(k, "--kernel", Map.of()))
                    .orElseGet(() -> KernelUnderTest.of(debian.kernel(), "Debian " + debian.kernelRelease(), Map.of()));
            MachineImage image = new MachineImage(kernel.image(), debian.initrd(), debian.kernelRelease());
            AdapterProvider adapter;
            try {
                adapter = new AdapterProvider(() -> link(image), CALL_TIMEOUT);
            } catch (RuntimeException e) {
                throw new IllegalStateException("kernel " + kernel.image() + " (sha256 " + kernel.sha256() + "): "
                        + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
            }
            Map<String, String> machine = new LinkedHashMap<>();
            Map<String, String> facts = current.facts();
            machine.put("emulator", EmulatedMachine.qemuVersion());
            machine.put("accelerator", "tcg");
            machine.put("machine", "virt,virtualization=on,gic-version=3, " + EmulatedMachine.CPUS + " CPUs, "
                    + EmulatedMachine.MEMORY_MIB + " MiB");
            machine.put("cpu", EmulatedMachine.CPU + " (MIDR part number " + facts.get("midr-part") + ")");
            machine.put("guest kernel", facts.get("kernel") + " (KVM " + facts.get("kvm-mode") + ")");
            machine.put("kernel release", facts.get("kernel"));
            machine.putAll(kernel.describe());
            return started = new Started(adapter, Map.copyOf(machine), null);
        } catch (RuntimeException e) {
            shutdown();
            return started = new Started(null, Map.of(), e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    /** A session: boots a fresh machine (the first one, or after the adapter faulted) and connects. */
    private AdapterLink link(MachineImage image) {
        int n = machines.incrementAndGet();
        Path dir = workDir.resolve("machine-" + n);
        Path shared = workDir.resolve("shared-" + n);
        try {
            Files.createDirectories(dir);
            Files.createDirectories(shared);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        EmulatedMachine m = EmulatedMachine.boot(image, dir);
        current = m;
        return new UnixLink(m.socket(), "kvm-arm64:qemu-machine-" + n, shared, shared.toString(), m::consoleTail, m::stop);
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
