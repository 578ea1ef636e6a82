package dev.stealtime.tck.spi;

import java.time.Duration;
import java.util.Objects;

/**
 * How precisely a provider's workload control and steal accounting can be checked.
 * <ul>
 *   <li>{@link #exact()}: virtual time; {@code preempt(d)} adds exactly {@code d} of steal, so the
 *       TCK asserts equalities.</li>
 *   <li>{@link #measured(Duration)}: a real scheduler; the TCK asserts bounded inequalities and allows
 *       {@code tolerance} of slack on each bound. KVM is measured.</li>
 * </ul>
 *
 * @param isExact   true for virtual time
 * @param tolerance slack on each bound; zero when exact
 */
public record TimingPrecision(boolean isExact, Duration tolerance) {

    public TimingPrecision {
        Objects.requireNonNull(tolerance, "tolerance");
        if (tolerance.isNegative()) {
            throw new IllegalArgumentException("negative tolerance");
        }
        if (isExact && !tolerance.isZero()) {
            throw new IllegalArgumentException("exact timing has no tolerance");
        }
    }

    public static TimingPrecision exact() {
        return new TimingPrecision(true, Duration.ZERO);
    }

    public static TimingPrecision measured(Duration tolerance) {
        return new TimingPrecision(false, tolerance);
    }

    @Override
    public String toString() {
        if (isExact) {
            return "exact";
        }
        long ns = tolerance.toNanos();
        String t = ns % 1_000_000 == 0 ? ns / 1_000_000 + " ms" : ns % 1000 == 0 ? ns / 1000 + " µs" : ns + " ns";
        return "measured(±" + t + ")";
    }
}
