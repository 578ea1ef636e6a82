package dev.stealtime.tck.support.race;

import dev.stealtime.tck.spi.GuestMemory;

import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * A race: a writer that drives real updates (preempt/run cycles of a vCPU) for {@code budget}, and
 * {@code readers} threads that sample the live structure meanwhile with a {@link Probe} each.
 *
 * @param name     what is raced, e.g. "x86 version protocol (vCPU 0, structure at 0x10000)"
 * @param outcomes every outcome the probes can report
 * @param writer   one update step; called repeatedly until the budget is spent
 * @param probes   makes one probe per reader thread
 * @param readers  number of reader threads (at least 1)
 * @param budget   how long the writer keeps updating
 * @param memory   the guest RAM raced, when it may be {@link GuestMemory.Sharing#SAMPLED} (else null)
 * @param scratchGpa an 8-byte aligned guest address the race may overwrite, for the generation word
 *                 of a sampled race ({@link Published}); unused with live memory
 * @param minimum  what the race must have exercised before it may stop (null: only the budget and
 *                 {@link #MIN_UPDATES}); it keeps going past its budget until it has, up to the minimum's bound
 * @param served   when the race has served its purpose and may stop before its budget (null: it
 *                 uses its whole budget); see {@link #servedWhen}
 */
public record RaceSpec(String name, List<Outcome> outcomes, Runnable writer, Supplier<Probe> probes,
                       int readers, Duration budget, GuestMemory memory, long scratchGpa, Minimum minimum,
                       java.util.function.BooleanSupplier served) {

    /**
     * A stated minimum the race enforces by running longer: {@code reached} says whether it was
     * met, and the race stops at {@code bound} (from its start) in any case; the caller then
     * asserts it, so an unexercised race fails rather than passes.
     */
    public record Minimum(java.util.function.BooleanSupplier reached, Duration bound) {
    }

    /**
     * A race runs at least this many writer updates even when that takes longer than its budget
     * (a slow adapter, a loaded machine), up to {@link #MAX_STRETCH} times the budget: a race
     * that exercised too few updates proves nothing.
     */
    public static final long MIN_UPDATES = 100;
    /**
     * Reader threads of every race, whatever the number of CPUs: a torn or uncovered update is
     * visible only for the microseconds between two of the hypervisor's stores, and on a loaded
     * 2-CPU machine one reader is often off its CPU exactly then; three are rarely all off
     * (measured: a never-odd version with a 2 µs window, 100 updates raced, caught in 6 of 10 runs
     * with one reader, 9 of 10 with three, load ~17).
     */
    public static final int READERS = 3;
    /** How far past its budget a race may run to reach {@link #MIN_UPDATES}: ten budgets, or {@link #MIN_STRETCH}. */
    public static final int MAX_STRETCH = 10;
    /**
     * However short the budget, a race may run this long to reach {@link #MIN_UPDATES}: a provider whose
     * every preemption is slow (QEMU inside the emulated arm64 machine: 0.4-0.6 s a step) needs about
     * a minute for 100 (46 fitted in the 20 s of a 2 s budget, 2026-12-07). Only slow writers pay: a
     * race that has its updates stops at its budget.
     */
    public static final Duration MIN_STRETCH = Duration.ofSeconds(120);

    /**
     * How many chances a race that declares {@link #servedWhen} needs before it may stop early: each
     * is one more chance for a reader to land inside a tear a few nanoseconds wide. Measured on the
     * reference's torn arm64 variants (10 runs each, load 15-17): stopping after 1,000 carrying
     * updates caught {@code torn-32-bit-halves} in 7 of 10 runs and {@code torn-halves-own-total} in 3
     * of 10 (about 1.2 and 0.4 catches per 1,000), so 50,000 expect 60 and 18 catches.
     */
    public static final long ENOUGH_CHANCES = 50_000;

    /** True while the writer should keep updating. */
    boolean keepGoing(long startNanos, long updates) {
        if (served != null && updates >= MIN_UPDATES && served.getAsBoolean()
                && (minimum == null || minimum.reached().getAsBoolean())) {
            return false;
        }
        long elapsed = System.nanoTime() - startNanos;
        return elapsed < budget.toNanos() || (updates < MIN_UPDATES && elapsed < stretchNanos())
                || (minimum != null && !minimum.reached().getAsBoolean() && elapsed < minimum.bound().toNanos());
    }

    /** How long the race may run to reach {@link #MIN_UPDATES}. */
    long stretchNanos() {
        return Math.max(budget.toNanos() * MAX_STRETCH, MIN_STRETCH.toNanos());
    }

    public RaceSpec {
        outcomes = List.copyOf(outcomes);
        if (readers < 1) {
            throw new IllegalArgumentException("a race needs at least one reader");
        }
    }

    /** A race on live memory only. */
    public RaceSpec(String name, List<Outcome> outcomes, Runnable writer, Supplier<Probe> probes, int readers, Duration budget) {
        this(name, outcomes, writer, probes, readers, budget, null, -1, null, null);
    }

    /**
     * The same race, runnable also when {@code memory} is sampled by the provider: its probes must
     * read guest RAM through {@link dev.stealtime.tck.support.LiveMemory} and what the writer
     * publishes through {@link Published}, and {@code scratchGpa} is 8 bytes of guest RAM nothing
     * else uses during the race.
     */
    public RaceSpec sampledThrough(GuestMemory memory, long scratchGpa) {
        return new RaceSpec(name, outcomes, writer, probes, readers, budget, memory, scratchGpa, minimum, served);
    }

    /** The same race, kept going past its budget until {@code minimum} is reached (or its bound). */
    public RaceSpec until(Minimum minimum) {
        return new RaceSpec(name, outcomes, writer, probes, readers, budget, memory, scratchGpa, minimum, served);
    }

    /**
     * The same race, stopping before its budget once {@code served} says it has had enough chances
     * (counted in what the defect needs, e.g. updates that carried into the upper word, never in
     * mere steps: a race whose carries are driven by long preemptions has many steps and few
     * carries), with its minimums met. A fast hypervisor (the reference's arm64 race: about 60,000
     * carrying updates per second) stops early; a slow one (a real KVM: tens of steps per second)
     * still uses its whole budget, and a larger {@code --race-budget} still buys it more.
     */
    public RaceSpec servedWhen(java.util.function.BooleanSupplier served) {
        return new RaceSpec(name, outcomes, writer, probes, readers, budget, memory, scratchGpa, minimum, served);
    }

    /** True when the race runs on samples the provider took. */
    public boolean sampled() {
        return memory != null && memory.sharing() == GuestMemory.Sharing.SAMPLED;
    }
}
