package dev.stealtime.tck.runner;

import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Prints how much steal a measured provider's workload control really induces on this machine: for
 * several {@code preempt(d)}, the guest-visible steal delta next to the vCPU thread's run_delay
 * delta, and the same for {@code idle(d)} under contention. Shared by the benchmarks of the
 * providers on real schedulers ({@code kvm}, {@code kvm-arm64}); each says how to turn steal time on
 * in its guest and read it. A benchmark that prints, not a test that asserts.
 *
 * <p>Measuring pattern for the upper bound: read run_delay, then let the vCPU enter (run), then read
 * steal. Reading run_delay after that entry instead would count, in the steal delta but not in the
 * run_delay delta, any run-queue wait the vCPU thread suffered between its last entry and the read.
 */
public final class MeasurementBenchmark {

    /** What differs per interface: turning steal time on for vCPU 0, reading it, one short entry. */
    public interface Subject {
        /** Registers the steal-time structure of vCPU 0; returns how to read the guest-visible steal (ns). */
        LongSupplier enable(Vm vm);

        /** One short guest entry that makes the hypervisor record the steal. */
        void shortEntry(Vcpu v);
    }

    private final HypervisorProvider provider;
    private final VmSpec spec;
    private final Subject subject;
    private final int[] preemptMs;
    private final int[] idleMs;

    public MeasurementBenchmark(HypervisorProvider provider, VmSpec spec, Subject subject, int[] preemptMs, int[] idleMs) {
        this.provider = provider;
        this.spec = spec;
        this.subject = subject;
        this.preemptMs = preemptMs.clone();
        this.idleMs = idleMs.clone();
    }

    /** A benchmark's command line: {@code [repetitions per row (20)] [background load threads (0)]}. */
    public void run(String[] args) {
        run(args.length > 0 ? Integer.parseInt(args[0]) : 20, args.length > 1 ? Integer.parseInt(args[1]) : 0);
    }

    /** {@code reps} repetitions per row, with {@code load} unpinned SCHED_OTHER spinners meanwhile. */
    public void run(int reps, int load) {
        if (!provider.availability().available()) {
            System.out.println(provider.id() + " provider unavailable: " + provider.availability().reason());
            return;
        }
        System.out.printf("%s provider %s, %s; %d CPUs here; %d repetitions; %d background load thread(s)%n",
                provider.id(), provider.version(), provider.timing(), Runtime.getRuntime().availableProcessors(), reps, load);
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> hogs = new ArrayList<>();
        for (int i = 0; i < load; i++) {
            Thread t = new Thread(() -> {
                long x = 0;
                while (!stop.get()) {
                    x += System.nanoTime() & 1;
                }
                if (x == 42) {
                    System.out.print("");
                }
            }, "background-load-" + i);
            t.setDaemon(true);
            t.start();
            hogs.add(t);
        }
        try (Vm vm = provider.open(spec)) {
            Vcpu v = vm.vcpu(0);
            LongSupplier steal = subject.enable(vm);
            for (int i = 0; i < 10; i++) { // warm up the JIT and the busy-loop calibration
                v.run(Duration.ofMillis(2));
                v.preempt(Duration.ofMillis(1));
                v.idle(Duration.ofMillis(1));
            }
            System.out.println();
            System.out.println("preempt(d): steal delta = guest-visible steal growth across the call;"
                    + " run_delay delta = schedstat growth from just before the run(2 ms) that precedes it (ms)");
            System.out.println("   d | steal delta min / median / max   | run_delay delta median | min(steal-d) | steal-run_delay min / max | wall median");
            for (int d : preemptMs) {
                double[] st = new double[reps];
                double[] delay = new double[reps];
                double[] wall = new double[reps];
                for (int i = 0; i < reps; i++) {
                    // run_delay first, then an entry that brings steal up to date: every bit of
                    // run_delay the steal delta can contain then lies inside the run_delay delta
                    long r0 = v.hostStealMeasureNanos();
                    v.run(Duration.ofMillis(2));
                    long s0 = steal.getAsLong();
                    long t0 = System.nanoTime();
                    v.preempt(Duration.ofMillis(d));
                    wall[i] = (System.nanoTime() - t0) / 1e6;
                    st[i] = (steal.getAsLong() - s0) / 1e6;
                    delay[i] = (v.hostStealMeasureNanos() - r0) / 1e6;
                }
                double[] over = new double[reps];
                double[] gap = new double[reps];
                for (int i = 0; i < reps; i++) {
                    over[i] = st[i] - d;
                    gap[i] = st[i] - delay[i];
                }
                System.out.printf("%4d | %8.3f / %8.3f / %8.3f | %22.3f | %12.3f | %11.3f / %11.3f | %11.3f%n",
                        d, min(st), median(st), max(st), median(delay), min(over), min(gap), max(gap), median(wall));
            }
            System.out.println();
            System.out.println("idle(d) while a competitor holds the vCPU's CPU, then one short guest entry so the hypervisor records the steal (ms)");
            System.out.println("   d | steal delta median / max | run_delay delta over idle only: median / max | wall median");
            for (int d : idleMs) {
                double[] st = new double[reps];
                double[] delay = new double[reps];
                double[] wall = new double[reps];
                for (int i = 0; i < reps; i++) {
                    v.run(Duration.ofMillis(2));
                    long s0 = steal.getAsLong();
                    long r0 = v.hostStealMeasureNanos();
                    long t0 = System.nanoTime();
                    v.idle(Duration.ofMillis(d));
                    wall[i] = (System.nanoTime() - t0) / 1e6;
                    delay[i] = (v.hostStealMeasureNanos() - r0) / 1e6;
                    subject.shortEntry(v);
                    st[i] = (steal.getAsLong() - s0) / 1e6;
                }
                System.out.printf("%4d | %8.3f / %8.3f      | %14.3f / %8.3f                 | %11.3f%n",
                        d, median(st), max(st), median(delay), max(delay), median(wall));
            }
        } finally {
            stop.set(true);
        }
    }

    private static double min(double[] a) {
        return Arrays.stream(a).min().orElse(Double.NaN);
    }

    private static double max(double[] a) {
        return Arrays.stream(a).max().orElse(Double.NaN);
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
