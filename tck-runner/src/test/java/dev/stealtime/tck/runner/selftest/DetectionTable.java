package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.run.ProgressListener;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
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

    /**
     * A faulty variant run {@code runs} times.
     *
     * @param failed     the rules that failed in any run
     * @param caught     deterministic: its named rules failed in every run; racy: in at least one
     * @param caughtRuns the runs in which every named rule failed
     * @param why        the message of each falsely accusing rule (what its failing tests said)
     */
    public record Row(FaultyVariant variant, List<String> failed, boolean caught, Set<String> falseAccusations,
                      long millis, Map<String, String> why, int runs, int caughtRuns) {

        /** "10/10", or "7/10 (racy)". */
        public String catchRate() {
            return caughtRuns + "/" + runs + (variant.deterministic() ? "" : " (racy)");
        }
    }

    /**
     * How many times each faulty variant runs: system property {@code tck.selftest.repeat}, 1 by
     * default; 10 in the {@code -Pmutation} build that CI runs. A deterministic variant must be caught
     * by its named rule in every run; a racy one reports its catch rate and must be caught at least once.
     */
    public static int repeat() {
        int n = Integer.getInteger("tck.selftest.repeat", 1);
        if (n < 1) {
            throw new IllegalArgumentException("tck.selftest.repeat must be at least 1, not " + n);
        }
        return n;
    }

    /**
     * A run that must conform: a legal variant with the profiles it is legal at, or a faulty variant
     * whose defect is below {@code required} run with {@code --profile required} only.
     *
     * @param name     the variant
     * @param kind     "legal" or "below required"
     * @param profiles the levels claimed
     * @param notPassed claimed rules that did not PASS, with their outcome and message
     */
    public record PassRow(String name, String kind, List<String> profiles, List<String> notPassed, boolean conforms, long millis) {
        public boolean passed() {
            return conforms && notPassed.isEmpty();
        }
    }

    private final Suite suite;
    private final List<Row> rows = new ArrayList<>();
    private final List<PassRow> passRows = new ArrayList<>();

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

    /** A run with the self-test configuration and this race budget (e.g. the default 2 s of {@code tck run}). */
    public static RunResult run(dev.stealtime.tck.spi.HypervisorProvider provider, Suite suite, String raceBudget) {
        TckConfig config = selfTestConfig().with(TckConfig.Key.RACE_BUDGET, raceBudget);
        return new TckRun(provider, config, List.of(suite), ProgressListener.SILENT).execute();
    }

    /** A run claiming only {@code profiles} (as {@code --profile}). */
    public static RunResult run(dev.stealtime.tck.spi.HypervisorProvider provider, Suite suite, List<String> profiles) {
        TckConfig config = selfTestConfig().with(TckConfig.Key.PROFILES, String.join(",", profiles));
        return new TckRun(provider, config, List.of(suite), ProgressListener.SILENT).execute();
    }

    /** Runs a legal variant claiming the levels it is legal at: every claimed rule must PASS. */
    public PassRow addLegal(LegalVariant v) {
        return addPassing(v.name(), "legal", v.provider(), v.profiles());
    }

    /** True when every rule the variant's defect violates is below {@code required} (linux-abi or advisory). */
    public static boolean belowRequired(FaultyVariant v) {
        return v.mustFail().stream().allMatch(id -> dev.stealtime.tck.rules.RuleCatalogue.get().rule(id).level()
                != dev.stealtime.tck.rules.Level.REQUIRED);
    }

    /**
     * Both halves for {@code faulty} and {@code legal}: every faulty variant is run claiming every
     * level (it must be caught), every one whose defect is below {@code required} again claiming
     * only {@code required} (it must conform: levels do not leak), every legal one claiming the
     * levels it is legal at (it must pass).
     */
    public static DetectionTable bothHalves(Suite suite, List<FaultyVariant> faulty, List<LegalVariant> legal) {
        DetectionTable table = new DetectionTable(suite);
        for (FaultyVariant v : faulty) {   // one at a time: a run installs its provider process-wide
            table.add(v);
        }
        for (FaultyVariant v : faulty) {
            if (belowRequired(v)) {
                table.addBelowRequired(v);
            }
        }
        for (LegalVariant v : legal) {
            table.addLegal(v);
        }
        return table;
    }

    /** Runs a faulty variant whose defect is below {@code required} with {@code --profile required}: it must conform. */
    public PassRow addBelowRequired(FaultyVariant v) {
        return addPassing(v.name(), "below required", v.provider(), List.of(dev.stealtime.tck.rules.Level.REQUIRED_GROUP));
    }

    private PassRow addPassing(String name, String kind, dev.stealtime.tck.spi.HypervisorProvider provider, List<String> profiles) {
        RunResult r = run(provider, suite, profiles);
        List<String> notPassed = new ArrayList<>();
        for (dev.stealtime.tck.runner.result.RuleResult rr : r.rules()) {
            if (profiles.contains(rr.rule().level().group()) && rr.outcome() != dev.stealtime.tck.runner.result.Outcome.PASS) {
                notPassed.add(rr.rule().id() + " " + rr.outcome() + ": " + rr.message());
            }
        }
        PassRow row = new PassRow(name, kind, profiles, notPassed, r.conforms(), r.elapsed().toMillis());
        passRows.add(row);
        return row;
    }

    public List<PassRow> passRows() {
        return List.copyOf(passRows);
    }

    /** Runs {@code v} {@link #repeat()} times. */
    public Row add(FaultyVariant v) {
        return add(v, repeat());
    }

    /**
     * Runs {@code v} {@code runs} times, each with a fresh provider: the first run is the whole suite
     * (it judges false accusations), the repeats run only the tests of the rules the variant must
     * fail (all a repeat has to learn is whether they fail every time; a tenth of the cost).
     */
    public Row add(FaultyVariant v, int runs) {
        Set<String> failed = new TreeSet<>();
        Set<String> allowed = new HashSet<>(v.mustFail());
        allowed.addAll(v.mayAlsoFail());
        Set<String> accused = new TreeSet<>();
        Map<String, String> why = new LinkedHashMap<>();
        int caughtRuns = 0;
        long millis = 0;
        for (int i = 1; i <= runs; i++) {
            RunResult r = i == 1 ? run(v.provider(), suite)
                    : new TckRun(v.provider(), selfTestConfig(), List.of(suite), ProgressListener.SILENT).onlyRules(v.mustFail()).execute();
            millis += r.elapsed().toMillis();
            // a restricted repeat ran only the named rules' tests: a named rule counts as failed there only
            // when one of its tests failed (a rule left without tests is graded FAIL "no test ran", which
            // would count a repeat whose filter went wrong as a catch), and no other rule is judged
            List<String> failedNow = i == 1 ? r.failedRuleIds()
                    : v.mustFail().stream().filter(id -> r.rule(id).tests().stream()
                    .anyMatch(t -> t.outcome() == dev.stealtime.tck.runner.result.Outcome.FAIL)).toList();
            failed.addAll(failedNow);
            if (failedNow.containsAll(v.mustFail())) {
                caughtRuns++;
            }
            for (String id : failedNow) {
                if (!allowed.contains(id) && accused.add(id)) {
                    why.put(id, (runs > 1 ? "run " + i + " of " + runs + ": " : "") + r.rule(id).message());
                }
            }
        }
        boolean caught = v.deterministic() ? caughtRuns == runs : caughtRuns > 0;
        Row row = new Row(v, List.copyOf(failed), caught, accused, millis, why, runs, caughtRuns);
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
                out.add(row.variant().name() + " ESCAPED: " + (row.runs() == 1 ? missing + " did not fail (failed: " + row.failed() + ")"
                        : row.variant().mustFail() + " failed in " + row.catchRate() + " runs (a deterministic defect must be caught every time; "
                        + "failed in any run: " + row.failed() + ")"));
            }
            if (!row.falseAccusations().isEmpty()) {
                out.add(row.variant().name() + " FALSELY ACCUSED: " + row.falseAccusations() + " failed but the defect does not violate them: "
                        + row.why());
            }
        }
        for (PassRow row : passRows) {
            if (!row.passed()) {
                out.add(row.name() + " (" + row.kind() + ", profiles " + row.profiles() + ") FAILED A FAIR HYPERVISOR: "
                        + (row.notPassed().isEmpty() ? "the run did not conform" : String.join(" | ", row.notPassed())));
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
        int runs = rows.stream().mapToInt(Row::runs).max().orElse(1);
        if (runs > 1) {
            sb.append("each variant run ").append(runs).append(" times; CAUGHT = runs in which its named rule failed\n");
        }
        sb.append(String.format("%-36s %-8s %s%6s  %s%n", "VARIANT", "CAUGHT", runs > 1 ? String.format("%-13s ", "RATE") : "", "MS", "RULES FAILED"));
        for (Row row : rows) {
            sb.append(String.format("%-36s %-8s %s%6d  %s%s%n", row.variant().name(), row.caught() ? "yes" : "ESCAPED",
                    runs > 1 ? String.format("%-13s ", row.catchRate()) : "", row.millis(), row.failed(),
                    row.falseAccusations().isEmpty() ? "" : "  FALSE: " + row.falseAccusations()));
        }
        if (!passRows.isEmpty()) {
            sb.append("\nThe other half (").append(suite.cliName).append("): hypervisors that must pass every claimed rule\n");
            sb.append(String.format("%-36s %-15s %-8s %6s  %s%n", "VARIANT", "KIND", "PASSED", "MS", "PROFILES CLAIMED"));
            for (PassRow row : passRows) {
                sb.append(String.format("%-36s %-15s %-8s %6d  %s%s%n", row.name(), row.kind(), row.passed() ? "yes" : "NO",
                        row.millis(), String.join(",", row.profiles()), row.notPassed().isEmpty() ? "" : "  NOT PASSED: " + row.notPassed()));
            }
        }
        return sb.toString();
    }
}
