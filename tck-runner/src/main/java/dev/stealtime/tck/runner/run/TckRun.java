package dev.stealtime.tck.runner.run;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.runner.result.AllureScope;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RuleResult;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.ProviderGuard;
import dev.stealtime.tck.support.TckConfig;
import dev.stealtime.tck.support.TckContext;
import org.testng.IMethodInterceptor;
import org.testng.ITestNGListener;
import org.testng.TestNG;
import org.testng.xml.XmlPackage;
import org.testng.xml.XmlSuite;
import org.testng.xml.XmlTest;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Runs the selected suites against one provider with TestNG, driven from code, and grades every
 * catalogue rule of those suites.
 */
public final class TckRun {

    private final HypervisorProvider provider;
    private final TckConfig config;
    private final List<Suite> suites;
    private final ProgressListener progress;
    /** Where allure-testng writes this run's results; null: discarded (see AllureScope). */
    private Path allureResults;

    private final ResultCollector collector;
    private final long t0 = System.nanoTime();

    public TckRun(HypervisorProvider provider, TckConfig config, List<Suite> suites, ProgressListener progress) {
        this.provider = ProviderGuard.wrap(provider, config);
        this.collector = new ResultCollector(progress);
        this.config = config;
        this.suites = List.copyOf(suites);
        this.progress = progress;
    }

    /** The rules whose tests run; the others are NOT_RUN ("not selected"). */
    private RuleSelection selection = RuleSelection.all();

    /**
     * Runs only the test methods that prove one of {@code ruleIds}: what a repeat needs to learn
     * whether a rule fails every time, at a fraction of the whole suite's cost.
     */
    public TckRun onlyRules(Set<String> ruleIds) {
        return select(RuleSelection.ids(ruleIds));
    }

    /**
     * Runs only the tests of the selected rules ({@code tck run --rule}); the other rules are NOT_RUN
     * and the verdict is at best PARTIAL: a run so restricted is no conformance verdict.
     */
    public TckRun select(RuleSelection selection) {
        this.selection = selection;
        return this;
    }

    /** Write this run's Allure results to {@code dir} (otherwise they are discarded). */
    public TckRun allureResults(Path dir) {
        this.allureResults = dir;
        return this;
    }

    public RunResult execute() {
        List<String> profiles = config.profiles();
        TckContext.install(provider, config);
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(ProviderGuard.unwrap(provider).getClass().getClassLoader());
        try {
            TestNG testng = new TestNG(false);
            testng.setUseDefaultListeners(false);
            testng.setVerbose(0);
            testng.setXmlSuites(List.of(xmlSuite(profiles)));
            testng.addListener(collector);
            if (!selection.whole()) {
                testng.addListener((IMethodInterceptor) (methods, context) -> methods.stream().filter(m -> {
                    TckRule rule = m.getMethod().getConstructorOrMethod().getMethod().getAnnotation(TckRule.class);
                    return rule != null && Arrays.stream(rule.value()).anyMatch(selection::includes);
                }).toList());
            }
            if (progress instanceof ITestNGListener listener) {
                testng.addListener(listener);  // e.g. console progress that prints per rule
            }
            try (AllureScope allure = AllureScope.open(allureResults)) {
                testng.run();
            }
        } finally {
            thread.setContextClassLoader(previous);
            TckContext.clear();
        }
        List<TestOutcome> tests = collector.outcomes();
        return new RunResult(grade(tests, profiles, false), tests, Duration.ofNanos(System.nanoTime() - t0), false,
                selection.describe());
    }

    /**
     * What the run has produced so far, as an INTERRUPTED result: rules whose tests have not
     * (all) run are NOT_RUN. Safe to call from another thread (a shutdown hook) while the run goes on.
     */
    public RunResult partialResult() {
        List<TestOutcome> tests = collector.outcomes();
        return new RunResult(grade(tests, config.profiles(), true), tests, Duration.ofNanos(System.nanoTime() - t0), true,
                selection.describe());
    }

    private XmlSuite xmlSuite(List<String> profiles) {
        XmlSuite suite = new XmlSuite();
        suite.setName("Steal-Time TCK");
        for (Suite s : suites) {
            XmlTest test = new XmlTest(suite);
            test.setName(s.cliName);
            test.setXmlPackages(List.of(new XmlPackage(s.testPackage)));
            test.setIncludedGroups(new ArrayList<>(profiles));
            test.setPreserveOrder(true);
        }
        return suite;
    }

    /** Every catalogue rule of the selected suites gets an outcome; nothing is silently left out. */
    private List<RuleResult> grade(List<TestOutcome> tests, List<String> profiles, boolean interrupted) {
        List<RuleResult> out = new ArrayList<>();
        for (Suite s : suites) {
            for (Rule rule : RuleCatalogue.get().suite(s.cliName)) {
                RuleResult r = gradeRule(rule, tests, profiles);
                if (!selection.includes(rule.id()) && r.tests().isEmpty()) {
                    out.add(new RuleResult(rule, Outcome.NOT_RUN, r.tests(), "not selected (--rule " + selection.describe() + ")", 0));
                    continue;
                }
                if (interrupted && (r.outcome() != Outcome.FAIL || r.tests().isEmpty()) && profiles.contains(rule.level().group())) {
                    // a PASS or N/A on part of a rule's tests is not that rule's outcome
                    r = new RuleResult(rule, Outcome.NOT_RUN, r.tests(), "run interrupted"
                            + (r.tests().isEmpty() ? " before this rule's tests" : " after " + r.tests().size() + " of its tests"), r.millis());
                }
                out.add(r);
            }
        }
        return out;
    }

    static RuleResult gradeRule(Rule rule, List<TestOutcome> tests, List<String> profiles) {
        List<TestOutcome> mine = tests.stream().filter(t -> t.ruleIds().contains(rule.id())).toList();
        long millis = mine.stream().mapToLong(TestOutcome::millis).sum();
        if (!profiles.contains(rule.level().group())) {
            return new RuleResult(rule, Outcome.NOT_APPLICABLE, mine,
                    "level '" + rule.level() + "' not claimed (profiles: " + String.join(",", profiles) + ")", millis);
        }
        if (mine.isEmpty()) {
            return new RuleResult(rule, Outcome.FAIL, mine, "no test ran for this rule", millis);
        }
        List<TestOutcome> failed = mine.stream().filter(t -> t.outcome() == Outcome.FAIL).toList();
        if (!failed.isEmpty()) {
            return new RuleResult(rule, Outcome.FAIL, mine, failed.stream()
                    .map(t -> t.name() + ": " + firstLine(t.message())).collect(Collectors.joining(" | ")), millis);
        }
        if (mine.stream().allMatch(t -> t.outcome() == Outcome.NOT_APPLICABLE)) {
            return new RuleResult(rule, Outcome.NOT_APPLICABLE, mine, mine.get(0).message(), millis);
        }
        long na = mine.stream().filter(t -> t.outcome() == Outcome.NOT_APPLICABLE).count();
        String note = na == 0 ? "" : na + " of " + mine.size() + " tests not applicable: "
                + mine.stream().filter(t -> t.outcome() == Outcome.NOT_APPLICABLE).findFirst().orElseThrow().message();
        return new RuleResult(rule, Outcome.PASS, mine, note, millis);
    }

    /** A message on one line ({@link RunResult#firstLine}). */
    public static String firstLine(String s) {
        return RunResult.firstLine(s);
    }

    /** Levels that gate the exit code: the claimed ones among required and linux-abi. */
    public static boolean gates(Level level, List<String> profiles) {
        return level.gating() && profiles.contains(level.group());
    }
}
