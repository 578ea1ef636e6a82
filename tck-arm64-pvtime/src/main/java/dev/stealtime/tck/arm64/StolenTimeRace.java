package dev.stealtime.tck.arm64;

import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.LiveMemory;
import dev.stealtime.tck.support.race.Carries;
import dev.stealtime.tck.support.race.Outcome;
import dev.stealtime.tck.support.race.Probe;
import dev.stealtime.tck.support.race.Published;
import dev.stealtime.tck.support.race.Race;
import dev.stealtime.tck.support.race.RaceResult;
import dev.stealtime.tck.support.race.RaceSpec;

import java.time.Duration;
import java.util.List;

/**
 * The torn-read race of ARM-ATOMIC-UPDATE, on the shared race engine. arm64 has no sequence
 * counter, so a guest reads stolen_time with one 64-bit load and must get a value the hypervisor
 * could have written. The writer (this thread, driving the vCPU) publishes, before each update:
 * a <b>floor</b> (the value in memory before the update: nothing written later is lower) and a
 * <b>ceiling</b> (the floor plus what the host measured since the last update, plus tolerance, and
 * while the vCPU is preempted at least the preemption asked for, since a hypervisor may also update
 * then; for
 * measured providers also never below the floor plus the wall-clock time since, since stolen time
 * cannot grow faster than time passes). Each reader loads the floor, then stolen_time, then the
 * ceiling; a value below the floor, above the ceiling, or below the reader's own previous value
 * is forbidden. The bounds are {@link Published}, so the race also runs on samples a provider
 * takes itself ({@link dev.stealtime.tck.spi.GuestMemory.Sharing#SAMPLED}).
 *
 * <p>Tearing only shows when the two 32-bit words change together, so every update is made to
 * carry into the upper word. Linux's hypervisor accumulates from guest memory on update, so before
 * each update (the vCPU is not running then) the writer re-seeds stolen_time just below the next
 * 2^32 boundary, half an update's worth below it, with one atomic store. Then "old upper word + new
 * lower word" lies below the floor and "new upper word + old lower word" above the ceiling. A
 * hypervisor that keeps its own accumulator ignores seeds (detected before the readers start, and
 * reported); with exact virtual time each preemption is then 2^32 − 64 Ki ns, which carries on
 * almost every update anyway; with measured time the race drives the carries itself with long
 * preemptions ({@link Carries}: 4.29 s each, three of them), and fails unexercised if they do not come.
 */
final class StolenTimeRace {

    static final long WORD = 1L << 32;
    /** Exact mode: each preemption carries into the upper word and lowers the lower word by 64 Ki. */
    static final long EXACT_STEP = WORD - 0x10000;

    // what a reader's sample returns: the rows of the outcome table beside the test that judges it
    // (StolenTimeAccountingTests.ATOMIC_UPDATE_OUTCOMES), which names each row at its index
    static final int UNCHANGED = 0;
    static final int ADVANCED = 1;
    static final int CROSSED = 2;
    static final int BELOW_FLOOR = 3;
    static final int ABOVE_CEILING = 4;
    static final int BACKWARDS = 5;

    /** What the readers judge against; replaced (never mutated) by the writer. */
    record Bounds(long floor, long ceiling, long sinceNanos) {
    }

    private final PvTimeVcpu vcpu;
    private final LiveMemory live;
    private final boolean exact;
    private final long tolerance;
    private final Duration step;
    private final Published<Bounds> bounds = new Published<>(new Bounds(0, 0, 0));

    private boolean seeded;
    private long hostBeforeLastRun;
    private long wallBeforeLastRun;
    private long lastDelta;
    private Carries carries;
    private long writerUpdates;
    private String seedReport = "";

    StolenTimeRace(PvTimeVcpu vcpu, LiveMemory live, boolean exact, long toleranceNanos, Duration measuredStep) {
        this.vcpu = vcpu;
        this.live = live;
        this.exact = exact;
        this.tolerance = toleranceNanos;
        this.step = exact ? Duration.ofNanos(EXACT_STEP) : measuredStep;
    }

    private long stolen() {
        return live.u64(PvTime.STOLEN_TIME);
    }

    /** Just below the first 2^32 boundary above {@code value} that leaves room for the margin. */
    private long seedAbove(long value, long margin) {
        long boundary = ((value >>> 32) + 1) << 32;
        while (boundary - margin < value) {
            boundary += WORD;
        }
        return boundary - margin;
    }

    /**
     * Before the readers start: plant a seed just below a boundary, let one update happen, and see
     * whether the hypervisor accumulated onto it.
     */
    void prepare() {
        long seed = seedAbove(7 * WORD, Math.max(1, step.toNanos() / 2));
        live.storeU64(PvTime.STOLEN_TIME, seed);
        vcpu.preempt(step);
        hostBeforeLastRun = vcpu.hostSteal();
        wallBeforeLastRun = System.nanoTime();
        vcpu.runBriefly();
        long after = stolen();
        seeded = after >= seed;
        lastDelta = after - seed;
        seedReport = seeded
                ? String.format("seeded stolen_time with 0x%x; the hypervisor accumulated onto it (0x%x after one update)", seed, after)
                : String.format("seeded stolen_time with 0x%x, but the hypervisor wrote 0x%x: it keeps its own accumulator, so the race "
                + "runs without seeds%s", seed, after, exact ? " (its exact steps of 2^32 - 64 Ki ns still carry into the upper word)" : " and rarely crosses a 32-bit boundary");
        bounds.set(new Bounds(after, after, wallBeforeLastRun));
        carries = new Carries(exact ? Carries.Mode.EXACT : seeded ? Carries.Mode.SEEDED : Carries.Mode.DRIVEN,
                4 * step.toNanos() + 2 * tolerance);
    }

    /** One update: (re-seed and) publish the floor, preempt, publish the host-measured ceiling, run. */
    private void update() {
        long current = stolen();
        if (seeded) {
            long seed = seedAbove(current, Math.max(1, lastDelta / 2));
            bounds.set(new Bounds(current, seed, wallBeforeLastRun));      // the seed may appear from now on
            live.storeU64(PvTime.STOLEN_TIME, seed);
            current = seed;
            bounds.set(new Bounds(current, current + tolerance, wallBeforeLastRun));
        }
        // an own total cannot be seeded: a long preemption brings it near the next 2^32 boundary
        Duration d = carries.preemption(current, step);
        carries.beforeStep(current, d, tolerance);
        // the hypervisor may also update while the vCPU is off its CPU: at most what was stolen so far
        bounds.set(new Bounds(current, current + d.toNanos() + tolerance, wallBeforeLastRun));
        vcpu.preempt(d);
        long host = vcpu.hostSteal();
        bounds.set(new Bounds(current, current + Math.max(d.toNanos(), host - hostBeforeLastRun) + tolerance, wallBeforeLastRun));
        hostBeforeLastRun = host;
        wallBeforeLastRun = System.nanoTime();
        vcpu.runBriefly();
        long written = stolen();
        lastDelta = written - current;
        carries.updated(current, written);
        writerUpdates++;
    }

    private final class Reader implements Probe {
        private long last = bounds.get().floor();

        @Override
        public int sample(Witness witness) {
            Bounds before = bounds.get();
            long value = live.u64(PvTime.STOLEN_TIME);
            Bounds after = bounds.get();
            long ceiling = after.ceiling();
            if (!exact) {
                ceiling = Math.max(ceiling, after.floor() + (Race.nanoTime() - after.sinceNanos()) + tolerance);
            }
            if (value < before.floor()) {
                witness.saw(String.format("read 0x%016x, below the floor 0x%016x (this reader's previous value 0x%016x)", value, before.floor(), last));
                return BELOW_FLOOR;
            }
            if (value > ceiling) {
                witness.saw(String.format("read 0x%016x, above the ceiling 0x%016x (floor 0x%016x)", value, ceiling, after.floor()));
                return ABOVE_CEILING;
            }
            if (value < last) {
                witness.saw(String.format("read 0x%016x after having read 0x%016x", value, last));
                return BACKWARDS;
            }
            int outcome = value == last ? UNCHANGED : (value >>> 32) != (last >>> 32) ? CROSSED : ADVANCED;
            last = value;
            return outcome;
        }
    }

    /** Races for {@code budget} (stretched until the carries are in), grading every sample by {@code outcomes}, a table over this race's outcome indices. */
    RaceResult run(List<Outcome> outcomes, int readers, Duration budget) {
        String name = String.format("arm64 stolen_time, one 64-bit load (vCPU %d, structure at 0x%x)", vcpu.index(), vcpu.ipa());
        Duration bound = carries.mode() == Carries.Mode.DRIVEN ? Carries.drivenBound(budget) : budget.multipliedBy(RaceSpec.MAX_STRETCH);
        RaceResult result = Race.run(new RaceSpec(name, outcomes, this::update, Reader::new, readers, budget)
                .sampledThrough(live.memory(), GuestLayout.raceScratch(live.gpa()))
                .until(new RaceSpec.Minimum(carries::minimumReached, bound))
                .servedWhen(() -> carries.crossings() >= RaceSpec.ENOUGH_CHANCES));
        Evidence.text("race writer: " + name, summary());
        return result;
    }

    Carries carries() {
        return carries;
    }

    String summary() {
        return String.format("%s%nstep: preempt %,d ns then run; %,d updates, %,d of them carried into the upper 32-bit word%n%s%n",
                seedReport, step.toNanos(), writerUpdates, carries.crossings(), carries.describe());
    }
}
