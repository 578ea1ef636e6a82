package dev.stealtime.tck.runner.run;

import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.support.NotApplicableException;
import org.testng.IConfigurationListener;
import org.testng.ITestListener;
import org.testng.ITestResult;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Turns TestNG results into {@link TestOutcome}s. A skip is NOT APPLICABLE only when its cause is a
 * {@link NotApplicableException}; any other skip (a failed configuration method, a dependency) is a
 * FAIL, so nothing that went wrong can pass for "not applicable".
 */
final class ResultCollector implements ITestListener, IConfigurationListener {

    private final List<TestOutcome> outcomes = Collections.synchronizedList(new ArrayList<>());
    private final ProgressListener progress;
    /** The last configuration failure or skip cause seen, per thread. */
    private final ThreadLocal<Throwable> lastConfigProblem = new ThreadLocal<>();

    ResultCollector(ProgressListener progress) {
        this.progress = progress;
    }

    List<TestOutcome> outcomes() {
        return List.copyOf(outcomes);
    }

    @Override
    public void onConfigurationFailure(ITestResult tr) {
        lastConfigProblem.set(tr.getThrowable());
    }

    @Override
    public void onConfigurationSkip(ITestResult tr) {
        if (tr.getThrowable() != null) {
            lastConfigProblem.set(tr.getThrowable());
        }
    }

    @Override
    public void onConfigurationSuccess(ITestResult tr) {
        if (tr.getMethod().isBeforeMethodConfiguration()) {
            lastConfigProblem.remove();
        }
    }

    @Override
    public void onTestSuccess(ITestResult r) {
        record(r, Outcome.PASS, "");
    }

    @Override
    public void onTestFailure(ITestResult r) {
        record(r, Outcome.FAIL, describe(r.getThrowable()));
    }

    @Override
    public void onTestFailedButWithinSuccessPercentage(ITestResult r) {
        record(r, Outcome.FAIL, describe(r.getThrowable()));
    }

    @Override
    public void onTestFailedWithTimeout(ITestResult r) {
        record(r, Outcome.FAIL, "timed out: " + describe(r.getThrowable()));
    }

    @Override
    public void onTestSkipped(ITestResult r) {
        Throwable cause = r.getThrowable() != null ? r.getThrowable() : lastConfigProblem.get();
        if (cause instanceof NotApplicableException na) {
            record(r, Outcome.NOT_APPLICABLE, na.getMessage().substring(NotApplicableException.PREFIX.length()));
        } else {
            record(r, Outcome.FAIL, "skipped, which the TCK counts as a failure: "
                    + (cause == null ? "TestNG skipped it without a reason" : describe(cause)));
        }
    }

    private static String describe(Throwable t) {
        if (t == null) {
            return "failed without an exception";
        }
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getName() : m.strip();
    }

    private void record(ITestResult r, Outcome outcome, String message) {
        Method m = r.getMethod().getConstructorOrMethod().getMethod();
        TckRule rule = m.getAnnotation(TckRule.class);
        List<String> ids = rule == null ? List.of() : Arrays.asList(rule.value());
        String name = m.getDeclaringClass().getSimpleName() + "." + m.getName() + parameters(r);
        TestOutcome o = new TestOutcome(name, ids, outcome, message, Math.max(0, r.getEndMillis() - r.getStartMillis()));
        outcomes.add(o);
        progress.testFinished(o, outcomes.size());
    }

    private static String parameters(ITestResult r) {
        Object[] p = r.getParameters();
        if (p == null || p.length == 0) {
            return "";
        }
        return Arrays.toString(p).replace('[', '(').replace(']', ')');
    }
}
