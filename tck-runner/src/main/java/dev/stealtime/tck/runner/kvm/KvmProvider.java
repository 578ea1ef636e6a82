package dev.stealtime.tck.runner.kvm;

import com.sun.jna.Native;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The Linux KVM of this machine, through {@code /dev/kvm}, driving a tiny real-mode x86 guest
 * (see {@link GuestCode}). Pure Java over JNA. Steal is induced by a real-time competitor thread
 * pinned to the vCPU thread's CPU, and checked against that thread's {@code run_delay}.
 */
public final class KvmProvider implements HypervisorProvider {

    /**
     * Slack on each timing bound, measured on this kind of machine (2 CPUs, nested KVM, other
     * engineers' builds keeping the load average at 7-9) with KvmMeasurementBenchmark, 100
     * repetitions per row, with and without two extra CPU hogs:
     * <ul>
     *   <li>preempt(d), d = 1, 5, 20, 50 ms: guest steal never fell short of d (least excess
     *       +0.013 ms, median +0.02-0.06 ms), so the lower bound needs no slack of its own;</li>
     *   <li>steal delta never exceeded the run_delay delta (max 0.000 ms) when run_delay is read
     *       before the entry that establishes the baseline steal; read after it, the steal delta can
     *       exceed the run_delay delta by whatever run-queue wait the vCPU thread suffered between its
     *       last entry and the read (up to 24 ms seen here under heavy load);</li>
     *   <li>idle(d) under contention, recorded by one short entry afterwards: median 0.02-0.06 ms,
     *       max 4.4-5.4 ms per 100, worst seen 8.2 ms: run-queue wait of the vCPU thread when it is
     *       handed the request and for the recording entry; real steal that the guest cannot tell
     *       apart from idle time, and visible in run_delay too.</li>
     * </ul>
     * 10 ms covers every figure seen under the load this machine really has; the TCK's timing
     * multiplier scales it for heavier load.
     */
    static final Duration TOLERANCE = Duration.ofMillis(10);

    private volatile Set<Capability> capabilities;

    @Override
    public String id() {
        return "kvm";
    }

    @Override
    public String description() {
        return "Linux KVM through /dev/kvm";
    }

    @Override
    public String version() {
        String kernel = kernelRelease();
        String mismatch = hostMismatch();
        if (mismatch != null) {
            return kernel + " (KVM unavailable: " + mismatch + ")";
        }
        try {
            int fd = LibC.INSTANCE.open(Kvm.DEVICE, LibC.O_RDWR | LibC.O_CLOEXEC);
            if (fd < 0) {
                return kernel + " (KVM unavailable: " + Kvm.DEVICE + ": " + Os.strerror(Native.getLastError()) + ")";
            }
            try {
                return kernel + " KVM API " + LibC.INSTANCE.ioctl(fd, Kvm.GET_API_VERSION, 0L);
            } finally {
                LibC.INSTANCE.close(fd);
            }
        } catch (RuntimeException | LinkageError e) {
            return kernel + " (KVM unavailable: " + e + ")";
        }
    }

    @Override
    public Set<Architecture> architectures() {
        return EnumSet.of(Architecture.X86_64);
    }

    /**
     * MULTI_VCPU, MEMORY_HOLES, HIGH_MEMORY and HOST_MSR_ACCESS always; WITHHOLD_STEAL_TIME where the
     * kernel has {@code KVM_CAP_ENFORCE_PV_FEATURE_CPUID} (Linux 5.10+).
     */
    @Override
    public Set<Capability> capabilities() {
        Set<Capability> c = capabilities;
        if (c == null) {
            c = EnumSet.of(Capability.MULTI_VCPU, Capability.MEMORY_HOLES, Capability.HIGH_MEMORY,
                    Capability.HOST_MSR_ACCESS, Capability.DIRTY_LOG, Capability.MOVABLE_MEMORY);
            if (hasExtension(Kvm.CAP_ENFORCE_PV_FEATURE_CPUID)) {
                c.add(Capability.WITHHOLD_STEAL_TIME);
            }
            capabilities = c = Set.copyOf(c);
        }
        return c;
    }

    @Override
    public TimingPrecision timing() {
        return TimingPrecision.measured(TOLERANCE);
    }

    @Override
    public Availability availability() {
        try {
            String mismatch = hostMismatch();
            if (mismatch != null) {
                return Availability.no(mismatch);
            }
            int fd = LibC.INSTANCE.open(Kvm.DEVICE, LibC.O_RDWR | LibC.O_CLOEXEC);
            if (fd < 0) {
                return Availability.no(Kvm.DEVICE + ": " + Os.strerror(Native.getLastError()));
            }
            try {
                int api = LibC.INSTANCE.ioctl(fd, Kvm.GET_API_VERSION, 0L);
                if (api != Kvm.API_VERSION) {
                    return Availability.no(Kvm.DEVICE + ": KVM_GET_API_VERSION answered " + api + ", expected "
                            + Kvm.API_VERSION);
                }
                if (!Cpuid.supported(fd).stealTimeSupported()) {
                    return Availability.no("KVM on this host does not offer KVM_FEATURE_STEAL_TIME "
                            + "(kernel without CONFIG_SCHED_INFO?)");
                }
            } finally {
                LibC.INSTANCE.close(fd);
            }
            return Availability.yes();
        } catch (Throwable t) { // must never throw: JNA missing, no libc, ...
            return Availability.no("cannot probe " + Kvm.DEVICE + ": " + t);
        }
    }

    @Override
    public Vm open(VmSpec spec) {
        if (spec.architecture() != Architecture.X86_64) {
            throw new UnsupportedOperationException("the kvm provider builds x86-64 guests only, not "
                    + spec.architecture());
        }
        if (!spec.stealTimeOffered() && !capabilities().contains(Capability.WITHHOLD_STEAL_TIME)) {
            throw new UnsupportedOperationException("this kernel lacks KVM_CAP_ENFORCE_PV_FEATURE_CPUID: "
                    + "steal time cannot be withheld");
        }
        Availability a = availability();
        if (!a.available()) {
            throw new IllegalStateException("kvm provider unavailable: " + a.reason());
        }
        return new KvmVm(spec, hostCpus());
    }

    /** Why this host cannot run the provider at all (not Linux, not x86-64), or null. */
    private static String hostMismatch() {
        String os = System.getProperty("os.name", "?");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return "host OS is " + os + ", the kvm provider needs Linux";
        }
        String arch = System.getProperty("os.arch", "?");
        if (!arch.equals("amd64") && !arch.equals("x86_64")) {
            return "host is " + arch + ", the kvm provider drives x86-64 guests";
        }
        return null;
    }

    /** The CPUs vCPU threads are pinned to, in turn: those this process may use. */
    private static List<Integer> hostCpus() {
        List<Integer> cpus = Os.allowedCpus();
        if (cpus.isEmpty()) {
            throw new IllegalStateException("sched_getaffinity returned no CPUs");
        }
        return cpus;
    }

    private static boolean hasExtension(int cap) {
        try {
            int fd = LibC.INSTANCE.open(Kvm.DEVICE, LibC.O_RDWR | LibC.O_CLOEXEC);
            if (fd < 0) {
                return false;
            }
            try {
                return LibC.INSTANCE.ioctl(fd, Kvm.CHECK_EXTENSION, (long) cap) > 0;
            } finally {
                LibC.INSTANCE.close(fd);
            }
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    private static String kernelRelease() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        } catch (IOException | RuntimeException e) {
            return System.getProperty("os.version", "unknown kernel");
        }
    }

    @Override
    public String toString() {
        return id() + ": " + description();
    }
}
