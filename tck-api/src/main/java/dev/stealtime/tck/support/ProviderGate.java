package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.HypervisorProvider;
import org.testng.ISuite;
import org.testng.ISuiteListener;
import org.testng.ITestContext;

/**
 * The vendor gate's checks that apply to the whole run, once, before any test (registered through
 * {@code META-INF/services/org.testng.ITestNGListener}, so a vendor's plain surefire build gets it
 * from the tck-api jar): an unknown or ambiguous {@code tck.provider}, or a provider that is not
 * available on this machine, stops the run with one line instead of failing or skipping every
 * test; and a run in which no test of the suites passed and none failed (everything NOT APPLICABLE)
 * fails as NOT TESTED instead of going green. Under {@code tck run} the runner does both itself and
 * this listener stands aside.
 */
public final class ProviderGate implements ISuiteListener {

    /** One line, no stack trace: what the vendor's build log shows. */
    public static final class GateFailure extends RuntimeException {
        public GateFailure(String message) {
            super(message, null, false, false);
        }
    }

    @Override
    public void onStart(ISuite suite) {
        if (TckContext.installedByRunner() || !suiteHasTckTests(suite)) {
            return;
        }
        HypervisorProvider p;
        try {
            p = TckContext.provider();
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new GateFailure("Steal-Time TCK: " + e.getMessage() + " [set tck.provider / TCK_PROVIDER]");
        }
        Availability a = p.availability();
        if (!a.available()) {
            throw new GateFailure("Steal-Time TCK: NOT TESTED: provider '" + p.id() + "' is unavailable here: " + a.reason());
        }
    }

    @Override
    public void onFinish(ISuite suite) {
        if (TckContext.installedByRunner() || !suiteHasTckTests(suite)) {
            return;
        }
        int passed = 0;
        int failed = 0;
        int skipped = 0;
        for (var r : suite.getResults().values()) {
            ITestContext c = r.getTestContext();
            passed += c.getPassedTests().size();
            failed += c.getFailedTests().size() + c.getFailedButWithinSuccessPercentageTests().size();
            skipped += c.getSkippedTests().size();
        }
        if (passed == 0 && failed == 0 && skipped > 0) {
            throw new GateFailure("Steal-Time TCK: NOT TESTED: none of the " + skipped + " tests of the claimed profiles "
                    + TckContext.config().profiles() + " could be performed against provider '" + TckContext.provider().id()
                    + "' (every one NOT APPLICABLE: see their reasons)");
        }
    }

    private static boolean suiteHasTckTests(ISuite suite) {
        return suite.getAllMethods().stream().anyMatch(m -> TckTest.class.isAssignableFrom(m.getRealClass()));
    }
}
