package dev.stealtime.tck.runner.run;

import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RuleResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import org.testng.IClassListener;
import org.testng.ITestClass;
import org.testng.ITestContext;
import org.testng.ITestListener;
import org.testng.ITestNGMethod;

import java.io.PrintWriter;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Console progress during {@code run}.
 * <ul>
 *   <li>normal: one line per rule as soon as its last test class has finished (suite, outcome,
 *       rule, level, number of tests, time), with the first line of each failing test's message;</li>
 *   <li>verbose: additionally one line per test as it completes, with failure and not-applicable
 *       messages in full;</li>
 *   <li>quiet: nothing during the run.</li>
 * </ul>
 * It knows which rules a suite will run from TestNG's plan at the start of each suite (it is a
 * TestNG listener as well as a {@link ProgressListener}); a claimed rule that no test covers is
 * printed as FAIL when its suite ends, as the final grading will have it.
 */
public final class ConsoleProgress implements ProgressListener, ITestListener, IClassListener {

    public enum Verbosity { QUIET, NORMAL, VERBOSE }

    /** At most this many failing tests are listed under a rule line (normal mode). */
    static final int MAX_FAILED_TESTS_LISTED = 3;

    private final PrintWriter out;
    private final Verbosity verbosity;
    private final List<String> profiles;
    /** Rule id → test classes still to finish. */
    private final Map<String, Set<Class<?>>> pending = new LinkedHashMap<>();
    /** Rule id → outcomes seen so far. */
    private final Map<String, List<TestOutcome>> seen = new LinkedHashMap<>();
    private final Set<String> printed = new HashSet<>();
    private int rulesPrinted;

    public ConsoleProgress(PrintWriter out, Verbosity verbosity, List<String> profiles) {
        this.out = out;
        this.verbosity = verbosity;
        this.profiles = List.copyOf(profiles);
    }

    // ---- TestNG: the plan and class completion ------------------------------------------------

    @Override
    public synchronized void onStart(ITestContext context) {
        for (ITestNGMethod m : context.getAllTestMethods()) {
            Method method = m.getConstructorOrMethod().getMethod();
            TckRule rule = method == null ? null : method.getAnnotation(TckRule.class);
            if (rule == null) {
                continue;
            }
            for (String id : rule.value()) {
                if (!printed.contains(id)) {
                    pending.computeIfAbsent(id, k -> new LinkedHashSet<>()).add(m.getRealClass());
                }
            }
        }
    }

    @Override
    public synchronized void onAfterClass(ITestClass testClass) {
        Class<?> cls = testClass.getRealClass();
        List<String> done = new ArrayList<>();
        for (Map.Entry<String, Set<Class<?>>> e : pending.entrySet()) {
            if (e.getValue().remove(cls) && e.getValue().isEmpty()) {
                done.add(e.getKey());
            }
        }
        done.forEach(this::ruleFinished);
    }

    /** Rules whose classes never reported completion, and claimed rules no test covers. */
    @Override
    public synchronized void onFinish(ITestContext context) {
        new ArrayList<>(pending.keySet()).forEach(this::ruleFinished);
        String suite = context.getName();
        for (Rule r : RuleCatalogue.get().all()) {
            if (r.suite().equals(suite) && profiles.contains(r.level().group()) && !printed.contains(r.id())
                    && !seen.containsKey(r.id())) {
                ruleFinished(r.id());
            }
        }
    }

    // ---- tests as they complete ---------------------------------------------------------------

    @Override
    public synchronized void testFinished(TestOutcome o, int done) {
        for (String id : o.ruleIds()) {
            seen.computeIfAbsent(id, k -> new ArrayList<>()).add(o);
        }
        if (verbosity != Verbosity.VERBOSE) {
            return;
        }
        out.printf("    %4d %-4s %-26s %s (%d ms)%n", done, mark(o.outcome()), String.join(",", o.ruleIds()), o.name(), o.millis());
        if (o.outcome() != Outcome.PASS && !o.message().isEmpty()) {
            out.println("              " + o.message().replace("\n", "\n              "));
        }
        out.flush();
    }

    private void ruleFinished(String id) {
        pending.remove(id);
        if (!printed.add(id)) {
            return;
        }
        Rule rule = RuleCatalogue.get().find(id).orElse(null);
        if (rule == null || verbosity == Verbosity.QUIET) {
            return;
        }
        List<TestOutcome> tests = seen.getOrDefault(id, List.of());
        if (tests.isEmpty()) {
            // a rule whose class ran without its tests: not selected (--rule), or a catalogue rule with
            // no test at all; the summary says which (NOT RUN, or FAIL "no test ran for this rule")
            return;
        }
        RuleResult r = TckRun.gradeRule(rule, tests, profiles);
        rulesPrinted++;
        out.printf("%-5s %-4s %-26s %-9s %3d test%s %7d ms%s%n", rule.suite(), mark(r.outcome()), id, rule.level(),
                tests.size(), tests.size() == 1 ? " " : "s", r.millis(),
                r.outcome() == Outcome.NOT_APPLICABLE ? "  " + TckRun.firstLine(r.message()) : "");
        if (r.outcome() == Outcome.FAIL && verbosity == Verbosity.NORMAL) {
            List<TestOutcome> failed = tests.stream().filter(t -> t.outcome() == Outcome.FAIL).toList();
            if (failed.isEmpty()) {
                out.println("           " + TckRun.firstLine(r.message()));
            }
            failed.stream().limit(MAX_FAILED_TESTS_LISTED)
                    .forEach(t -> out.println("           " + t.name() + ": " + TckRun.firstLine(t.message())));
            if (failed.size() > MAX_FAILED_TESTS_LISTED) {
                out.printf("           ... and %d more failing test(s) (-v lists them all)%n", failed.size() - MAX_FAILED_TESTS_LISTED);
            }
        } else if (r.outcome() == Outcome.FAIL && verbosity == Verbosity.VERBOSE && tests.isEmpty()) {
            out.println("           " + r.message());
        }
        out.flush();
    }

    /** How many rule lines were printed (for tests). */
    synchronized int rulesPrinted() {
        return rulesPrinted;
    }

    public static String mark(Outcome outcome) {
        return switch (outcome) {
            case PASS -> "PASS";
            case FAIL -> "FAIL";
            case NOT_APPLICABLE -> "N/A";
            case NOT_RUN -> "----";
        };
    }
}
