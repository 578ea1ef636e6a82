package dev.stealtime.tck.support;

import org.testng.IConfigurable;
import org.testng.IConfigureCallBack;
import org.testng.IHookCallBack;
import org.testng.IHookable;
import org.testng.ITestResult;
import org.testng.SkipException;

/**
 * Turns a skip that is not a declared NOT APPLICABLE into a failure, wherever the suites run: in
 * {@code tck run} and under a vendor's plain surefire alike. A provider (or anything it calls) that
 * throws its own {@link SkipException} would otherwise let a test count as "skipped" and the build
 * pass; the TCK never turns a failure into a skip. A {@link NotApplicableException} stays a skip.
 *
 * <p>A TestNG listener ({@link IHookable} and {@link IConfigurable} are TestNG listener interfaces)
 * that every suite class inherits from {@link TckTest}, so it ships inside the suite jars and needs
 * no registration: TestNG runs each test and set-up method of the suites through it. (A listener
 * loaded through {@code META-INF/services} cannot do this: TestNG fixes a skip's status before an
 * {@code IInvokedMethodListener} sees it.)
 */
public class UndeclaredSkipIsFailure implements IHookable, IConfigurable {

    /** The message every converted skip starts with. */
    public static final String PREFIX = "skipped, which the TCK counts as a failure: ";

    /** What a converted skip throws: not an assertion, so reports show it as a broken test, not a rule violation. */
    public static final class UndeclaredSkip extends RuntimeException {
        public UndeclaredSkip(String message, Throwable cause) {
            super(message, cause);
        }
    }

    @Override
    public void run(IHookCallBack callBack, ITestResult testResult) {
        callBack.runTestMethod(testResult);
        failIfUndeclaredSkip(testResult.getThrowable(), "skipped");
    }

    @Override
    public void run(IConfigureCallBack callBack, ITestResult testResult) {
        callBack.runConfigurationMethod(testResult);
        failIfUndeclaredSkip(testResult.getThrowable(), "set-up " + testResult.getMethod().getMethodName() + " skipped");
    }

    /** Throws {@link UndeclaredSkip} when {@code thrown} is a skip other than NOT APPLICABLE. */
    static void failIfUndeclaredSkip(Throwable caught, String what) {
        // TestNG's callback records what reflection threw: the method's own exception is the cause
        Throwable thrown = caught instanceof java.lang.reflect.InvocationTargetException ite ? ite.getCause() : caught;
        if (thrown instanceof SkipException && !(thrown instanceof NotApplicableException)) {
            throw new UndeclaredSkip(PREFIX + what + " with " + thrown.getClass().getName() + ": " + thrown.getMessage()
                    + " (only NotApplicableException, which the TCK throws for what the provider declared, is NOT APPLICABLE)", thrown);
        }
    }
}
