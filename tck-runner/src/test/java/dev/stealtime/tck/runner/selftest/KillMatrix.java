package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.runner.run.Suite;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The detection table works per rule; the kill matrix works per test method: every test method of a
 * suite must fail against at least one faulty variant. A test method that no defect can fail proves
 * nothing. (Data-driven cases count together: a method is killed when any of its cases fails.) The
 * matrix goes to stdout and to {@code target/kill-matrix-SUITE.txt}.
 */
public final class KillMatrix {

    /** Races only need to tear once here (the detection table runs them with the full self-test budget). */
    private static final String RACE_BUDGET_PROPERTY = "tck.selftest.race.budget";

    private KillMatrix() {
    }

    /** Runs {@code suite} against the reference and every variant; fails naming the test methods no variant failed. */
    public static void assertEveryTestMethodFailsAgainstSomeVariant(Suite suite, List<FaultyVariant> variants) throws IOException {
        String configured = System.getProperty(RACE_BUDGET_PROPERTY);
        if (configured == null) {
            System.setProperty(RACE_BUDGET_PROPERTY, "100ms");
        }
        try {
            killMatrix(suite, variants);
        } finally {
            if (configured == null) {
                System.clearProperty(RACE_BUDGET_PROPERTY);
            }
        }
    }

    private static void killMatrix(Suite suite, List<FaultyVariant> variants) throws IOException {
        Map<String, List<String>> killers = new TreeMap<>();
        for (TestOutcome t : DetectionTable.run(new ReferenceProvider(), suite).tests()) {
            killers.put(method(t), new ArrayList<>());
        }
        for (FaultyVariant v : variants) {
            RunResult r = DetectionTable.run(v.provider(), suite);
            for (TestOutcome t : r.tests()) {
                if (t.outcome() == Outcome.FAIL) {
                    List<String> k = killers.computeIfAbsent(method(t), m -> new ArrayList<>());
                    if (!k.contains(v.name())) {
                        k.add(v.name());
                    }
                }
            }
        }
        List<String> unkilled = new ArrayList<>();
        StringBuilder report = new StringBuilder("Kill matrix (" + suite.cliName + "): test method → variants it failed against\n");
        killers.forEach((m, vs) -> {
            report.append(String.format("%-95s %s%n", m, vs.isEmpty() ? "NONE" : String.join(", ", vs)));
            if (vs.isEmpty()) {
                unkilled.add(m);
            }
        });
        System.out.println(report);
        Path out = Path.of("target", "kill-matrix-" + suite.cliName + ".txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, report, StandardCharsets.UTF_8);
        assertThat(unkilled).as("%s test methods that no faulty variant fails%n%s", suite.cliName, report).isEmpty();
    }

    private static String method(TestOutcome t) {
        int paren = t.name().indexOf('(');
        return paren < 0 ? t.name() : t.name().substring(0, paren);
    }
}
