package dev.stealtime.tck.support.race;

import java.time.Duration;

/**
 * Carries of a 64-bit steal total into its upper 32-bit word, which the torn-read races of both
 * suites (X86-TORN-READ, ARM-ATOMIC-UPDATE) need: a torn value shows only when both words change
 * in one update. Three ways to get them, in this order:
 * <ul>
 *   <li><b>exact</b> timing: each step preempts almost 2^32 ns of virtual time (free);</li>
 *   <li><b>seeded</b>: the hypervisor accumulates in guest memory, so the guest plants the total
 *       just below a boundary before each step (free);</li>
 *   <li><b>driven</b>: the hypervisor keeps its own total and time is real, so nothing but real
 *       preemption moves it: a step preempts long enough to bring the total within a margin of the
 *       next 2^32 ns boundary, and the ordinary short steps after it carry. Each carry costs 2^32 ns
 *       (4.29 s) of preemption, so the race drives {@link #DRIVEN_MINIMUM} of them, bounded by
 *       {@link #drivenBound}; a race that reaches the bound with fewer is not exercised, and its
 *       rule fails saying so (it never passes unexercised).</li>
 * </ul>
 */
public final class Carries {

    public static final long WORD = 1L << 32;
    /** Carries a race must see when they come free (exact or seeded): nearly every update carries. */
    public static final int FREE_MINIMUM = 10;
    /** Carries a race must see when it drives them with long preemptions (each costs 4.29 s of real time). */
    public static final int DRIVEN_MINIMUM = 3;

    /** How the carries come. */
    public enum Mode {
        EXACT, SEEDED, DRIVEN,
        /** a race that does not need carries (X86-VERSION-ADVANCES): they are only counted */
        COUNTED
    }

    private final Mode mode;
    private final long margin;
    private long crossings;
    private long drivenNanos;

    /**
     * @param margin how far below the next boundary a driving preemption aims (the ordinary steps
     *               after it cover the rest): a few steps plus twice the tolerance, so neither a
     *               short report nor an overrun skips the carry
     */
    public Carries(Mode mode, long margin) {
        this.mode = mode;
        this.margin = Math.max(1, margin);
    }

    public Mode mode() {
        return mode;
    }

    /** The carries the race must have seen: {@link #FREE_MINIMUM} or {@link #DRIVEN_MINIMUM}. */
    public int minimum() {
        return mode == Mode.DRIVEN ? DRIVEN_MINIMUM : mode == Mode.COUNTED ? 0 : FREE_MINIMUM;
    }

    /** How long a driven race may run to reach its minimum: 1.5 times the preemption its carries need, plus the budget. */
    public static Duration drivenBound(Duration budget) {
        return budget.plus(Duration.ofNanos(DRIVEN_MINIMUM * WORD * 3 / 2));
    }

    /**
     * The preemption for the next step with the total at {@code current}: {@code step}, or when
     * driving and the next boundary is further than the margin, what brings the total there.
     */
    public Duration preemption(long current, Duration step) {
        // driven for as long as the race runs: beyond the minimum while the budget lasts (free when the
        // provider's time is virtual, none extra for a real one: each carry outlasts a default budget)
        if (mode != Mode.DRIVEN) {   // also COUNTED: never driven
            return step;
        }
        long boundary = ((current >>> 32) + 1) << 32;
        long gap = boundary - current - margin;
        if (gap <= step.toNanos()) {
            return step;
        }
        drivenNanos += gap;
        return Duration.ofNanos(gap);
    }

    /**
     * Before a driven step that may carry (the total is within {@code step} + {@code slack} of the
     * next boundary): the writer waits until every reader is sampling ({@link Race#awaitReaders}),
     * since a driven race has only a few carries and a torn store is visible for microseconds.
     */
    public void beforeStep(long current, Duration step, long slack) {
        if (mode == Mode.DRIVEN) {
            long boundary = ((current >>> 32) + 1) << 32;
            if (boundary - current <= step.toNanos() + slack) {
                Race.awaitReaders(5_000_000);
            }
        }
    }

    /** Records an update from {@code before} to {@code after}; true when it carried into the upper word. */
    public boolean updated(long before, long after) {
        boolean carried = (after >>> 32) != (before >>> 32);
        if (carried) {
            crossings++;
        }
        return carried;
    }

    public long crossings() {
        return crossings;
    }

    public boolean minimumReached() {
        return crossings >= minimum();
    }

    /** One line for the writer log: how the carries came, and what driving them cost. */
    public String describe() {
        return switch (mode) {
            case EXACT -> String.format("carries: exact timing, each step preempts almost 2^32 ns; %,d carried (at least %d needed)",
                    crossings, minimum());
            case SEEDED -> String.format("carries: the total is seeded below a 2^32 ns boundary before each step; %,d carried (at least %d needed)",
                    crossings, minimum());
            case COUNTED -> String.format("carries: %,d (this race does not need them)", crossings);
            case DRIVEN -> String.format("carries: the hypervisor keeps its own total, so long preemptions drove it to 2^32 ns boundaries "
                    + "(%,d ns = %.1f s of preemption for that); %,d carried (at least %d needed)", drivenNanos, drivenNanos / 1e9, crossings, minimum());
        };
    }
}
