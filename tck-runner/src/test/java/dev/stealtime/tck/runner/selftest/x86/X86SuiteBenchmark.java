package dev.stealtime.tck.runner.selftest.x86;

import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.run.ProgressListener;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.TckConfig;
import dev.stealtime.tck.support.Timing;
import dev.stealtime.tck.x86.StealTimeVcpu;
import dev.stealtime.tck.x86.StealTimeVm;
import dev.stealtime.tck.x86.VersionProtocolRace;
import dev.stealtime.tck.x86.VersionProtocolTests;

import java.time.Duration;
import java.util.List;

/**
 * Not a test: prints how long the x86 suite takes against the reference (goal: at most 5 s with the
 * default configuration, race budget included) and how many graded samples per second the torn-read
 * race takes (goal: at least 5 M/s).
 * <pre>
 *   ./mvnw -B -q -pl tck-runner test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=dev.stealtime.tck.runner.selftest.x86.X86SuiteBenchmark [-Dexec.args="RUNS"]
 * </pre>
 * The first suite run includes JVM warm-up (class loading, JIT); later runs show the steady state.
 */
public final class X86SuiteBenchmark {

    private X86SuiteBenchmark() {
    }

    /** One torn-read race against {@code provider} with the configured budget, as one line of figures. */
    public static String race(HypervisorProvider provider, TckConfig config) {
        Duration budget = config.raceBudget();
        int readers = Math.max(1, Math.min(3, Runtime.getRuntime().availableProcessors() - 1));
        try (Vm vm = provider.open(GuestLayout.forProvider(provider).spec(Architecture.X86_64, 1))) {
            Timing timing = new Timing(provider.timing(), config.timingMultiplier());
            StealTimeVcpu cpu = StealTimeVm.of(vm, timing).vcpu(0);
            long gpa = GuestLayout.low(0);
            cpu.guestWrmsr(gpa | 1);
            cpu.run(Duration.ofMillis(1));
            VersionProtocolRace.Report report = VersionProtocolRace.run(VersionProtocolRace.Focus.TORN_VALUES, VersionProtocolTests.TORN_READ_OUTCOMES, cpu,
                    vm.memory(), gpa, timing, budget, readers, false);
            var result = report.result();
            return String.format("%,d graded samples by %d reader(s) in %d ms = %,.1f M samples/s; "
                            + "%,d writer steps (%,.0f/s), %,d crossing a 32-bit boundary, %,d forbidden",
                    result.samples(), readers, result.elapsed().toMillis(), result.samplesPerSecond() / 1e6,
                    result.updates(), result.updates() / (result.elapsed().toNanos() / 1e9), report.carries().crossings(),
                    result.forbidden());
        }
    }

    public static void main(String[] args) {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        TckConfig config = TckConfig.fromEnvironment();
        HypervisorProvider reference = new ReferenceProvider();
        System.out.printf("x86 suite against the reference, race budget %s, %d CPU(s)%n", config.raceBudget(),
                Runtime.getRuntime().availableProcessors());
        for (int i = 1; i <= runs; i++) {
            long t0 = System.nanoTime();
            RunResult r = new TckRun(reference, config, List.of(Suite.X86), ProgressListener.SILENT).execute();
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf("  run %d: %.2f s wall, %d rules PASS, %d FAIL, %d NOT_APPLICABLE, %d test results%s%n", i, seconds,
                    r.count(Outcome.PASS), r.count(Outcome.FAIL), r.count(Outcome.NOT_APPLICABLE), r.tests().size(),
                    i == 1 ? " (cold JVM)" : "");
        }

        for (int i = 1; i <= runs; i++) {
            System.out.println("  torn-read race " + i + ": " + race(reference, config));
        }
        System.exit(0);
    }
}
