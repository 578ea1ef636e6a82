package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.RunResult;
import dev.stealtime.tck.runner.Suite;
import dev.stealtime.tck.runner.TckRun;
import dev.stealtime.tck.runner.ProgressListener;
import dev.stealtime.tck.support.TckConfig;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Runs a suite against each faulty variant and records which rules failed: the TCK's measure of
 * its own detection power. {@link #problems()} lists every variant that escaped (its rule did not
 * fail) or was falsely accused (a rule outside its expected set failed).
 */
public final class DetectionTable {

    public record Row(FaultyVariant variant, List<String> failed, boolean caught, Set<String> falseAccusations,
                      long millis) {
    }

    private final Suite suite;
    private final List<Row> rows = new ArrayList<>();

    public DetectionTable(Suite suite) {
        this.suite = suite;
    }

    /** A config for self-test runs: short races (the defects tear within milliseconds). */
    public static TckConfig selfTestConfig() {
        return TckConfig.fromEnvironment()
                .with(TckConfig.Key.RACE_BUDGET, System.getProperty("tck.selftest.race.budget", "300ms"))
                .with(TckConfig.Key.PROFILES, "required,linux-abi,advisory");
    }

    public static RunResult run(dev.stealtime.tck.spi.HypervisorProvider provider, Suite suite) {
        return new TckRun(provider, selfTestConfig(), List.of(suite), ProgressListener.SILENT).execute();
    }

    public Row add(FaultyVariant v) {
        RunResult r = run(v.provider(), suite);
        List<String> failed = r.failedRuleIds();
        boolean caught = failed.containsAll(v.mustFail());
        Set<String> allowed = new HashSet<>(v.mustFail());
        allowed.addAll(v.mayAlsoFail());
        Set<String> accused = new TreeSet<>(failed);
        accused.removeAll(allowed);
        Row row = new Row(v, failed, caught, accused, r.elapsed().toMillis());
        rows.add(row);
        return row;
    }

    public List<Row> rows() {
        return List.copyOf(rows);
    }

    public List<String> problems() {
        List<String> out = new ArrayList<>();
        for (Row row : rows) {
            if (!row.caught()) {
                Set<String> missing = new TreeSet<>(row.variant().mustFail());
                missing.removeAll(row.failed());
                out.add(row.variant().name() + " ESCAPED: " + missing + " did not fail (failed: " + row.failed() + ")");
            }
            if (!row.falseAccusations().isEmpty()) {
                out.add(row.variant().name() + " FALSELY ACCUSED: " + row.falseAccusations() + " failed but the defect does not violate them");
            }
        }
        return out;
    }

    /** Rule id → variants it caught. */
    public Map<String, List<String>> catchesByRule() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        for (Row row : rows) {
            for (String id : row.failed()) {
                m.computeIfAbsent(id, k -> new ArrayList<>()).add(row.variant().name());
            }
        }
        return m;
    }

    public String render() {
        StringBuilder sb = new StringBuilder();
        sb.append("Detection table (").append(suite.cliName).append("): variant → rules failed\n");
        sb.append(String.format("%-36s %-8s %6s  %s%n", "VARIANT", "CAUGHT", "MS", "RULES FAILED"));
        for (Row row : rows) {
            sb.append(String.format("%-36s %-8s %6d  %s%s%n", row.variant().name(), row.caught() ? "yes" : "ESCAPED",
                    row.millis(), row.failed(), row.falseAccusations().isEmpty() ? "" : "  FALSE: " + row.falseAccusations()));
        }
        return sb.toString();
    }
}
