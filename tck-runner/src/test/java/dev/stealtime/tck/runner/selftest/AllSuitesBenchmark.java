package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.runner.run.ProgressListener;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
import dev.stealtime.tck.support.TckConfig;

import java.util.List;
import java.util.Set;

/**
 * Wall time of the suites against the reference hypervisor with the effective configuration
 * (default race budget 2 s per torn-read race), goal: both suites in at most 5 s. Prints each
 * suite alone and both together, cold (first run in this JVM) and warm, and how much of it the
 * races take (they run for their budget by design; everything else is the suites' own cost).
 * <pre>
 * ./mvnw -B -q -pl tck-runner test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=dev.stealtime.tck.runner.selftest.AllSuitesBenchmark
 * </pre>
 */
public final class AllSuitesBenchmark {

    private static final Set<String> RACE_RULES = Set.of("X86-TORN-READ", "ARM-ATOMIC-UPDATE");

    private AllSuitesBenchmark() {
    }

    public static void main(String[] args) {
        TckConfig config = TckConfig.fromEnvironment();
        System.out.printf("reference provider, race budget %s, timing multiplier %s, %d CPUs%n",
                config.raceBudget(), config.timingMultiplier(), Runtime.getRuntime().availableProcessors());
        System.out.printf("%-6s %-10s %8s %9s %9s  %s%n", "run", "suites", "wall ms", "races ms", "other ms", "rules pass/fail/n.a.");
        for (String pass : List.of("cold", "warm")) {
            measure(pass, config, List.of(Suite.X86));
            measure(pass, config, List.of(Suite.ARM64));
            measure(pass, config, List.of(Suite.values()));
        }
    }

    private static void measure(String pass, TckConfig config, List<Suite> suites) {
        long t0 = System.nanoTime();
        RunResult r = new TckRun(new ReferenceProvider(), config, suites, ProgressListener.SILENT).execute();
        long wall = (System.nanoTime() - t0) / 1_000_000;
        long races = r.tests().stream().filter(t -> t.ruleIds().stream().anyMatch(RACE_RULES::contains))
                .mapToLong(TestOutcome::millis).sum();
        String names = suites.size() == Suite.values().length ? "all" : suites.get(0).cliName;
        System.out.printf("%-6s %-10s %8d %9d %9d  %d/%d/%d%n", pass, names, wall, races, wall - races,
                r.count(Outcome.PASS), r.count(Outcome.FAIL), r.count(Outcome.NOT_APPLICABLE));
    }
}
