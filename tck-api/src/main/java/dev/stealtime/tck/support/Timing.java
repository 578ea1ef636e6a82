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

    /** Slack allowed on each bound, in nanoseconds (0 when exact). */
    public long toleranceNanos() {
        return Math.round(precision.tolerance().toNanos() * multiplier);
    }

    @Override
    public String toString() {
        return precision + (multiplier == 1 ? "" : " ×" + multiplier);
    }
}
