package dev.stealtime.tck.runner.selftest.arm64;

import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import dev.stealtime.tck.runner.selftest.FaultyVariant;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The detection table works per rule; this works per test method: every arm64 test method must
 * fail against at least one faulty variant. A test method that no defect can fail proves nothing.
 * (Data-driven cases count together: a method is killed when any of its cases fails.)
 */
public class Arm64KillMatrixTest {

    /** Races only need to tear once here (the detection table runs them with the full self-test budget). */
    private static final String RACE_BUDGET_PROPERTY = "tck.selftest.race.budget";

    @Test
    public void everyArm64TestMethodFailsAgainstSomeVariant() throws IOException {
        String configured = System.getProperty(RACE_BUDGET_PROPERTY);
        if (configured == null) {
            System.setProperty(RACE_BUDGET_PROPERTY, "100ms");
        }
        try {
            killMatrix();
        } finally {
            if (configured == null) {
                System.clearProperty(RACE_BUDGET_PROPERTY);
            }
        }
    }

    private void killMatrix() throws IOException {
        Map<String, List<String>> killers = new TreeMap<>();
        for (TestOutcome t : DetectionTable.run(new ReferenceProvider(), Suite.ARM64).tests()) {
            killers.put(method(t), new ArrayList<>());
        }
        for (FaultyVariant v : Arm64Variants.all()) {
            RunResult r = DetectionTable.run(v.provider(), Suite.ARM64);
            for (TestOutcome t : r.tests()) {
                if (t.outcome() == Outcome.FAIL) {
                    List<String> k = killers.computeIfAbsent(method(t), m -> new ArrayList<>());
                    if (!k.contains(v.name())) {
                        k.add(v.name());
                    }
                }
            }
        }
        Map<String, List<String>> unkilled = new LinkedHashMap<>();
        StringBuilder report = new StringBuilder("Kill matrix (arm64): test method → variants it failed against\n");
        killers.forEach((m, vs) -> {
            report.append(String.format("%-95s %s%n", m, vs.isEmpty() ? "NONE" : String.join(", ", vs)));
            if (vs.isEmpty()) {
                unkilled.put(m, vs);
            }
        });
        System.out.println(report);
        Path out = Path.of("target", "kill-matrix-arm64.txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, report, StandardCharsets.UTF_8);
        assertThat(unkilled.keySet()).as("arm64 test methods that no faulty variant fails%n%s", report).isEmpty();
    }

    private static String method(TestOutcome t) {
        int paren = t.name().indexOf('(');
        return paren < 0 ? t.name() : t.name().substring(0, paren);
    }
}
