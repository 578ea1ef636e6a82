package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.runner.adapter.AdapterProvider;
import dev.stealtime.tck.runner.adapter.AdapterSources;
import dev.stealtime.tck.runner.adapter.ExecLink;
import dev.stealtime.tck.runner.host.HostKvm;
import dev.stealtime.tck.runner.host.HostPackages;
import dev.stealtime.tck.runner.host.NativeSources;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The Linux KVM of this machine, through {@code /dev/kvm}: the C adapter {@code tck-kvm} (the x86-64
 * half of {@code native/kvm}, the same program the emulated providers run inside their machines),
 * built for this host on first use and driven over the adapter protocol on stdin/stdout. Guest RAM
 * is a file in the session's shared directory that the TCK maps too, so the races read the very
 * pages KVM writes (protocol §5). One driver of the KVM ioctls, for the host and the emulated
 * machines alike; the measurements that decided it are in docs/figures.md ("The kvm provider").
 *
 * <p>The adapter is built with the host's {@code gcc} into {@code ~/.cache/stealtime-tck/kvm-host}
 * (by a hash of its sources and flags: once per TCK version), with the provider id {@code kvm} and
 * this provider's tolerance. {@code TCK_KVM_ADAPTER=PATH} names a prebuilt one instead (a machine
 * without a compiler): {@code build-adapter.sh x86_64 SRC OUT -DPROVIDER_ID='"kvm"' -DTOLERANCE_NS=10000000ull}.
 */
public final class KvmProvider implements HypervisorProvider, AutoCloseable {

    /**
     * Slack on each timing bound; the adapter declares the same ({@code TOLERANCE_NS}, {@link #FLAGS}).
     * Measured with KvmMeasurementBenchmark (nested KVM, load average 7-9, 100 repetitions per row):
     * preempt(d) never fell short of d; the steal delta never exceeded the run_delay delta when
     * run_delay is read before the baseline entry; idle(d) under contention was recorded with at most
     * 8.2 ms of real run-queue wait. 10 ms covers every figure seen; the timing multiplier scales it.
     */
    static final Duration TOLERANCE = Duration.ofMillis(10);

    /** The compiler flags that make the adapter this provider. */
    public static final List<String> FLAGS = List.of("-DPROVIDER_ID=\"kvm\"", "-DTOLERANCE_NS=" + TOLERANCE.toNanos() + "ull");

    static final String DEVICE = "/dev/kvm";
    /** The environment variable naming a prebuilt adapter. */
    static final String PREBUILT = "TCK_KVM_ADAPTER";
    private static final String GROUP = "kvm";

    private record Started(AdapterProvider adapter, String failure) {
    }

    private volatile Started started;

    @Override
    public String id() {
        return "kvm";
    }

    @Override
    public String description() {
        return "Linux KVM through /dev/kvm (the C adapter tck-kvm, built for this host)";
    }

    @Override
    public String version() {
        Started s = started;
        if (s != null && s.adapter() != null) {
            return s.adapter().version();
        }
        String why = hostProblem();
        return kernelRelease() + (why == null ? "" : " (KVM unavailable: " + why + ")");
    }

    @Override
    public Set<Architecture> architectures() {
        return EnumSet.of(Architecture.X86_64);
    }

    /**
     * The adapter's (started for the question where the host can run it): MULTI_VCPU, MEMORY_HOLES, HIGH_MEMORY, HOST_MSR_ACCESS, DIRTY_LOG and
     * MOVABLE_MEMORY always; WITHHOLD_STEAL_TIME and STEAL_TIME_ALONE where the kernel has
     * {@code KVM_CAP_ENFORCE_PV_FEATURE_CPUID} (Linux 5.10+).
     */
    @Override
    public Set<Capability> capabilities() {
        Started s = started;
        if (s == null && hostProblem() == null) {
            s = start();              // the handshake is cheap, and only the adapter knows what this kernel offers
        }
        if (s != null && s.adapter() != null) {
            return s.adapter().capabilities();
        }
        return Set.copyOf(EnumSet.of(Capability.MULTI_VCPU, Capability.MEMORY_HOLES, Capability.HIGH_MEMORY,
                Capability.HOST_MSR_ACCESS, Capability.DIRTY_LOG, Capability.MOVABLE_MEMORY));
    }

    @Override
    public TimingPrecision timing() {
        return TimingPrecision.measured(TOLERANCE);
    }

    /** Builds (first use) and starts the adapter, when the host can run it. */
    @Override
    public void prepare() {
        start();
    }

    /**
     * Not Linux on x86-64, no usable {@code /dev/kvm}, no compiler for the adapter: unavailable, saying
     * which, without building anything. Otherwise what the adapter's handshake says (it checks the KVM
     * API version and that KVM offers steal time).
     */
    @Override
    public Availability availability() {
        try {
            String why = hostProblem();
            if (why != null) {
                return Availability.no(why);
            }
            Started s = started;
            if (s == null) {
                return Availability.yes("host KVM " + HostKvm.probe().describe());
            }
            return s.failure() != null ? Availability.no(s.failure()) : s.adapter().availability();
        } catch (RuntimeException | Error e) { // must never throw
            return Availability.no("cannot probe " + DEVICE + ": " + e);
        }
    }

    @Override
    public Vm open(VmSpec spec) {
        if (spec.architecture() != Architecture.X86_64) {
            throw new UnsupportedOperationException("the kvm provider builds x86-64 guests only, not " + spec.architecture());
        }
        Started s = start();
        if (s.failure() != null) {
            throw new IllegalStateException("kvm provider unavailable: " + s.failure());
        }
        return s.adapter().open(spec);
    }

    @Override
    public synchronized void close() {
        Started s = started;
        if (s != null && s.adapter() != null) {
            s.adapter().close();
        }
    }

    private synchronized Started start() {
        if (started != null) {
            return started;
        }
        String why = hostProblem();
        if (why != null) {
            return started = new Started(null, why);
        }
        try {
            Path adapter = adapter();
            AdapterProvider p = new AdapterProvider(() -> ExecLink.start(List.of(adapter.toString(), "--stdio"), null),
                    AdapterSources.timeout());
            Runtime.getRuntime().addShutdownHook(new Thread(p::close, "kvm adapter shutdown"));
            return started = new Started(p, null);
        } catch (RuntimeException | IOException e) {
            return started = new Started(null, e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    /** The adapter to run: {@value #PREBUILT}, or the one built for this host (built now when missing). */
    private static Path adapter() throws IOException {
        String prebuilt = System.getenv(PREBUILT);
        if (prebuilt != null && !prebuilt.isBlank()) {
            Path p = Path.of(prebuilt);
            if (!Files.isExecutable(p)) {
                throw new IOException(PREBUILT + "=" + prebuilt + " is not an executable file");
            }
            return p;
        }
        HostPackages.Missing missing = HostPackages.here().missing(GROUP);
        if (!missing.none()) {
            throw new IOException(missing.reason());
        }
        return HostAdapter.build(NativeSources.cacheDir("kvm-host"), FLAGS);
    }

    /** Why this host cannot run the provider (not Linux on x86-64, no usable /dev/kvm), or null. */
    private static String hostProblem() {
        String os = System.getProperty("os.name", "?");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return "host OS is " + os + ", the kvm provider needs Linux";
        }
        String arch = System.getProperty("os.arch", "?");
        if (!arch.equals("amd64") && !arch.equals("x86_64")) {
            return "host is " + arch + ", the kvm provider drives x86-64 guests";
        }
        Path dev = Path.of(DEVICE);
        if (!Files.exists(dev)) {
            return DEVICE + ": No such file or directory";
        }
        try (RandomAccessFile f = new RandomAccessFile(DEVICE, "rw")) {
            return null;
        } catch (IOException e) {
            return DEVICE + ": " + e.getMessage();
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
