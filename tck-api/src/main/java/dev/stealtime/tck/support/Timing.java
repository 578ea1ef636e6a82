package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.TimingPrecision;

import java.time.Duration;

/**
 * Durations and tolerances for workload-driven assertions, scaled by the configured multiplier.
 * With exact providers the tolerance is zero and bounds are equalities.
 */
public final class Timing {

    private final TimingPrecision precision;
    private final double multiplier;

    public Timing(TimingPrecision precision, double multiplier) {
        this.precision = precision;
        this.multiplier = multiplier;
    }

    public boolean exact() {
        return precision.isExact();
    }

    /** {@code base} scaled by the multiplier. */
    public Duration scaled(Duration base) {
        return Duration.ofNanos(Math.round(base.toNanos() * multiplier));
    }

    /** How many times the tolerance a workload duration that a bound is checked against lasts at least. */
    public static final int TOLERANCE_FACTOR = 5;

    /**
     * A workload duration (a preemption, an idle period) whose effect is checked against a bound
     * with this tolerance: {@code base} scaled by the multiplier, and never shorter than
     * {@link #TOLERANCE_FACTOR} times the tolerance, so the induced amount minus the tolerance stays
     * well above zero and a provider declaring a wide tolerance cannot pass by reporting nothing.
     * Both suites size their workloads with this one method.
     */
    public Duration measurable(Duration base) {
        return Duration.ofNanos(Math.max(scaled(base).toNanos(), TOLERANCE_FACTOR * toleranceNanos()));
    }

    /** Slack allowed on each bound, in nanoseconds (0 when exact). */
    public long toleranceNanos() {
        return Math.round(precision.tolerance().toNanos() * multiplier);
    }

    @Override
    public String toString() {
        return precision + (multiplier == 1 ? "" : " ×" + multiplier);
    }
}
