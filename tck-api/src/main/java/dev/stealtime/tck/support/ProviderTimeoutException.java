package dev.stealtime.tck.support;

/**
 * A provider call that did not return within its limit ({@code tck.call.timeout} scaled by the
 * timing multiplier, plus the call's own workload duration). The message names the call and the
 * limit and carries the first frames of the stuck thread; the whole thread dump is attached to the
 * test's report.
 */
public final class ProviderTimeoutException extends ProviderException {

    private final boolean attempted;

    public ProviderTimeoutException(String message, boolean attempted) {
        super(message, null);
        this.attempted = attempted;
    }

    /** False when the call was not even made (its VM was abandoned, or the provider given up, earlier). */
    public boolean attempted() {
        return attempted;
    }
}
