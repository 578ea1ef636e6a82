package dev.stealtime.tck.support;

import org.testng.SkipException;

/**
 * The outcome NOT APPLICABLE: the provider declared that it lacks an architecture or a capability
 * (or cannot run on this machine), so the test cannot be performed. Carries the reason. The runner
 * counts only this exception as NOT APPLICABLE; any other skip is reported as a failure.
 */
public final class NotApplicableException extends SkipException {

    public static final String PREFIX = "NOT APPLICABLE: ";

    public NotApplicableException(String reason) {
        super(PREFIX + reason);
    }

    @Override
    public boolean isSkip() {
        return true;
    }
}
