package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Prints how much steal the kvm provider's workload control really induces on this machine: for
 * several {@code preempt(d)}, the guest-visible steal delta next to the vCPU thread's run_delay
 * delta, and the same for {@code idle(d)} under contention.
 *
 * <p>Measuring pattern for the upper bound: read run_delay, then let the vCPU enter (run), then read
 * steal. Reading run_delay after that entry instead would count, in the steal delta but not in the
 * run_delay delta, any run-queue wait the vCPU thread suffered between its last entry and the read
 * (on this loaded machine up to 24 ms in 400 samples). The figures behind
 * {@link KvmProvider#TOLERANCE}. A benchmark that prints, not a test that asserts.
 *
 * <pre>
 *   java -cp tck-runner/target/test-classes:tck-runner/target/classes:tck-runner/target/lib/* \
 *        dev.stealtime.tck.runner.kvm.KvmMeasurementBenchmark [repetitions] [background-load-threads]
 * </pre>
 * Background load threads are unpinned SCHED_OTHER spinners, standing in for whatever else the
 * machine is doing.
 */
public final class KvmMeasurementBenchmark {

    private static final int[] PREEMPT_MS = {1, 5, 20, 50};
    private static final int[] IDLE_MS = {5, 20};
    private static final long STRUCT = GuestLayout.low(0);

    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int load = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        KvmProvider provider = new KvmProvider();
        if (!provider.availability().available()) {
            System.out.println("kvm provider unavailable: " + provider.availability().reason());
            return;
        }
        System.out.printf("kvm provider %s, %s; %d CPUs; %d repetitions; %d background load thread(s); tolerance %s%n",
                provider.version(), provider.timing(), Runtime.getRuntime().availableProcessors(), reps, load,
                KvmProvider.TOLERANCE);
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
        try (Vm vm = provider.open(GuestLayout.forProvider(provider).spec(Architecture.X86_64, 1))) {
            X86Vcpu v = (X86Vcpu) vm.vcpu(0);
            if (v.guestWrmsr(X86Vcpu.MSR_KVM_STEAL_TIME, STRUCT | 1).faulted()) {
                throw new IllegalStateException("WRMSR faulted");
            }
            ByteBuffer st = vm.memory().liveView(STRUCT, 64).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 10; i++) { // warm up the JIT and the busy-loop calibration
                v.run(Duration.ofMillis(2));
                v.preempt(Duration.ofMillis(1));
                v.idle(Duration.ofMillis(1));
            }
            System.out.println();
            System.out.println("preempt(d): steal delta = guest-visible steal growth across the call;"
                    + " run_delay delta = schedstat growth from just before the run(2 ms) that precedes it (ms)");
            System.out.println("   d | steal delta min / median / max   | run_delay delta median | min(steal-d) | steal-run_delay min / max | wall median");
            for (int d : PREEMPT_MS) {
                double[] steal = new double[reps];
                double[] delay = new double[reps];
                double[] wall = new double[reps];
                for (int i = 0; i < reps; i++) {
                    // run_delay first, then an entry that brings steal up to date: every bit of
                    // run_delay the steal delta can contain then lies inside the run_delay delta
                    long r0 = v.hostStealMeasureNanos();
                    v.run(Duration.ofMillis(2));
                    long s0 = st.getLong(0);
                    long t0 = System.nanoTime();
                    v.preempt(Duration.ofMillis(d));
                    wall[i] = (System.nanoTime() - t0) / 1e6;
                    steal[i] = (st.getLong(0) - s0) / 1e6;
                    delay[i] = (v.hostStealMeasureNanos() - r0) / 1e6;
                }
                double[] over = new double[reps];
                double[] gap = new double[reps];
                for (int i = 0; i < reps; i++) {
                    over[i] = steal[i] - d;
                    gap[i] = steal[i] - delay[i];
                }
                System.out.printf("%4d | %8.3f / %8.3f / %8.3f | %22.3f | %12.3f | %11.3f / %11.3f | %11.3f%n",
                        d, min(steal), median(steal), max(steal), median(delay), min(over), min(gap), max(gap),
                        median(wall));
            }
            System.out.println();
            System.out.println("idle(d) while a competitor holds the vCPU's CPU, then one short guest entry (RDMSR) so KVM records the steal (ms)");
            System.out.println("   d | steal delta median / max | run_delay delta over idle only: median / max | wall median");
            for (int d : IDLE_MS) {
                double[] steal = new double[reps];
                double[] delay = new double[reps];
                double[] wall = new double[reps];
                for (int i = 0; i < reps; i++) {
                    v.run(Duration.ofMillis(2));
                    long s0 = st.getLong(0);
                    long r0 = v.hostStealMeasureNanos();
                    long t0 = System.nanoTime();
                    v.idle(Duration.ofMillis(d));
                    wall[i] = (System.nanoTime() - t0) / 1e6;
                    delay[i] = (v.hostStealMeasureNanos() - r0) / 1e6;
                    v.guestRdmsr(X86Vcpu.MSR_KVM_STEAL_TIME); // one short entry: KVM records the steal
                    steal[i] = (st.getLong(0) - s0) / 1e6;
                }
                System.out.printf("%4d | %8.3f / %8.3f      | %14.3f / %8.3f                 | %11.3f%n",
                        d, median(steal), max(steal), median(delay), max(delay), median(wall));
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
