package dev.stealtime.tck.x86;

import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.LiveMemory;
import dev.stealtime.tck.support.Timing;
import dev.stealtime.tck.support.race.Carries;
import dev.stealtime.tck.support.race.Grade;
import dev.stealtime.tck.support.race.Outcome;
import dev.stealtime.tck.support.race.Probe;
import dev.stealtime.tck.support.race.Published;
import dev.stealtime.tck.support.race.Race;
import dev.stealtime.tck.support.race.RaceResult;
import dev.stealtime.tck.support.race.RaceSpec;

import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;

import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.STEAL;
import static dev.stealtime.tck.x86.KvmStealTime.VERSION;

/**
 * The x86 version-protocol race on the shared engine ({@link Race}): the calling thread drives real
 * updates of one vCPU's registered structure (preempt then run, over and over), while reader
 * threads read it the way a Linux guest does:
 * <pre>
 *   do { v = version; rmb(); s = steal; rmb(); } while ((v &amp; 1) || v != version);
 * </pre>
 * Each protocol-accepted read is graded against what the writer could have written, using bounds
 * the writer publishes around every update:
 * <ul>
 *   <li><b>floor</b>: the value in place before the update (published after the previous one
 *       completed; a reader reads it before sampling);</li>
 *   <li><b>ceiling</b>: the most any update may have published by then (raised before the update
 *       can start; a reader reads it after sampling). Exact provider: the floor plus all the steal
 *       the host measured that has not been published yet: steal of earlier steps that the
 *       hypervisor did not publish at once (seed 000: "The interval between updates of this
 *       structure is arbitrary"), plus this step's preemption, first as requested, then as the host
 *       measured it. So an update that publishes several steps' steal at once, or one during the
 *       preemption, is acceptable. Measured provider: the floor plus 2^31 ns.</li>
 * </ul>
 * Every update is made to carry steal across a 32-bit boundary, where a torn 64-bit value is far
 * outside those bounds: a lower half of the new value with the upper half of the old one is below
 * the floor, and the other mix is about 2^32 above the ceiling. Exact provider: each step preempts
 * 2^32 - 2^24 ns of virtual time, so both halves change on nearly every update. Measured provider:
 * before each step the guest seeds the accumulator a little below the next 32-bit boundary (only
 * when the provider was seen to accumulate in guest memory; the seed is stored like a guest
 * seqlock writer: version made odd, one 64-bit store, version even again).
 */
public final class VersionProtocolRace {

    /** Which observations this race forbids: torn values (X86-TORN-READ) or versions that do not cover updates (X86-VERSION-ADVANCES). */
    public enum Focus {
        TORN_VALUES, VERSION_COVERS_UPDATES
    }

    /** What the race did besides its histogram; an update is a step after which steal or version had changed. */
    public record Report(RaceResult result, long hypervisorUpdates, Carries carries, boolean seeded,
                         long consistentReads, String writerLog) {
    }

    // what a reader's sample returns: the rows of the outcome tables beside the tests that judge them
    // (VersionProtocolTests.TORN_READ_OUTCOMES, VERSION_ADVANCES_OUTCOMES), which name each row at its index
    static final int ADVANCED = 0;
    static final int UNCHANGED = 1;
    static final int AFTER_RETRY = 2;
    static final int GAVE_UP = 3;
    static final int BELOW_FLOOR = 4;
    static final int ABOVE_CEILING = 5;
    static final int WENT_BACKWARDS = 6;
    static final int SAME_VERSION = 7;
    static final int VERSION_BACKWARDS = 8;

    /** Retries of one protocol read before it may count as "no consistent read"... */
    static final int MAX_RETRIES = 100;
    /** ...and for how long a reader keeps retrying (a guest retries until it succeeds; a slow but correct update must not starve the readers). */
    static final long GIVE_UP_NANOS = 50_000;

    /**
     * How long a race may go on to reach a minimum of hypervisor updates, at least. A hypervisor that
     * stopped updating ends the race at once ({@link #STALLED_STEPS}), so only a slow one pays it: the
     * qemu provider makes about 25 updates/s at load 7 (500 in 19.5 s) and fewer under more load,
     * where 20 s made the rule fail "not exercised" on a machine that was merely busy.
     */
    static final Duration MIN_UPDATES_BOUND = Duration.ofSeconds(60);
    /**
     * The most hypervisor updates one writer step counts (its version's advance / 2), so a version
     * that leaps cannot stand in for updates. QEMU inside an emulated machine: about 1,200 per step.
     */
    static final int MAX_UPDATES_PER_STEP = 10_000;
    /** Writer steps in a row without a hypervisor update after which the hypervisor is taken to have stopped updating. */
    static final int STALLED_STEPS = 200;

    /** Exact provider: steal added per step, just under 2^32 so both halves change on nearly every update. */
    static final long EXACT_STEP_NANOS = (1L << 32) - (1L << 24);
    /** Measured provider: the most one step may add. Far below 2^32, so torn mixes stay detectable. */
    static final long MEASURED_CEILING_NANOS = 1L << 31;

    private VersionProtocolRace() {
    }

    /**
     * Races the structure at {@code gpa}, which the caller registered on {@code cpu} and let the vCPU
     * run once (so it is filled and stable), grading every sample by {@code outcomes}: a table over
     * this race's outcome indices that forbids what {@code focus} is about.
     *
     * @param seed seed the accumulator below a 32-bit boundary before each step (measured providers
     *             that accumulate in guest memory; ignored with an exact provider, which does not need it)
     */
    public static Report run(Focus focus, List<Outcome> outcomes, StealTimeVcpu cpu, GuestMemory memory, long gpa, Timing timing,
                             Duration budget, int readers, boolean seed) {
        return run(focus, outcomes, cpu, memory, gpa, timing, budget, readers, seed, 0);
    }

    /**
     * As above, and the race goes on past its budget (up to {@link RaceSpec#MAX_STRETCH} times it, or
     * the driven-carry bound) until at least {@code minUpdates} hypervisor updates were raced.
     */
    public static Report run(Focus focus, List<Outcome> outcomes, StealTimeVcpu cpu, GuestMemory memory, long gpa, Timing timing,
                             Duration budget, int readers, boolean seed, long minUpdates) {
        Writer writer = new Writer(cpu, memory, gpa, timing, seed && !timing.exact(), focus == Focus.TORN_VALUES);
        String name = String.format("x86 version protocol, %s (vCPU %d, structure at 0x%x)",
                focus == Focus.TORN_VALUES ? "torn steal values" : "version covers every update", cpu.index(), gpa);
        Duration stretched = budget.multipliedBy(RaceSpec.MAX_STRETCH);
        if (minUpdates > 0 && stretched.compareTo(MIN_UPDATES_BOUND) < 0) {
            stretched = MIN_UPDATES_BOUND;     // an adapter's round trips make updates slow
        }
        Duration bound = writer.carries.mode() == Carries.Mode.DRIVEN ? Carries.drivenBound(budget) : stretched;
        RaceSpec spec = new RaceSpec(name, outcomes, writer, () -> new Reader(memory, gpa, writer.bounds, outcomes),
                readers, budget).sampledThrough(memory, GuestLayout.raceScratch(gpa));
        // a torn value shows only in an update that carries, a version not made odd only in an update a
        // reader lands in: the race goes on until it has seen its minimum of both
        // (a hypervisor that stopped updating cannot reach it: the race ends then, and its rule fails "not exercised")
        spec = spec.until(new RaceSpec.Minimum(() -> writer.stalled()
                || writer.carries.minimumReached() && writer.hypervisorUpdates >= minUpdates, bound));
        RaceResult result = Race.run(spec);
        long consistent = result.counts()[ADVANCED] + result.counts()[UNCHANGED] + result.counts()[AFTER_RETRY];
        return new Report(result, writer.hypervisorUpdates, writer.carries, writer.seed, consistent, writer.log());
    }

    /** Bounds the writer publishes for the readers. */
    static final class Bounds {
        final Published<Long> floor = new Published<>(0L);
        final Published<Long> ceiling = new Published<>(0L);
    }

    /** One step: (seed,) preempt, run; then publish the new floor. Runs on the calling thread. */
    static final class Writer implements Runnable {
        final Bounds bounds = new Bounds();
        private final StealTimeVcpu cpu;
        private final LiveMemory view;
        private final boolean exact;
        private final boolean seed;
        private final Duration preempt;
        private final Duration run;
        private final long tolerance;
        private final SplittableRandom random = new SplittableRandom(0x5ea1L);
        /** Exact provider: steal the host measured that no update has published yet (0 at the start: the caller settled the structure). */
        private long unpublished;
        private long hostSeen;
        private long value;
        private int version;
        long hypervisorUpdates;
        private long stepsWithoutUpdate;
        final Carries carries;

        /** True once {@link #STALLED_STEPS} steps in a row brought no update (seeding alone does not count). */
        boolean stalled() {
            return stepsWithoutUpdate >= STALLED_STEPS;
        }
        private long steps;
        private final StringBuilder log = new StringBuilder();

        /**
         * @param driveCarries when steal can be neither seeded nor moved by exact time, drive it to
         *                     32-bit boundaries with long preemptions ({@link Carries}); else only count carries
         */
        Writer(StealTimeVcpu cpu, GuestMemory memory, long gpa, Timing timing, boolean seed, boolean driveCarries) {
            this.cpu = cpu;
            this.view = new LiveMemory(memory, gpa, SIZE);
            this.exact = timing.exact();
            this.seed = seed;
            this.run = timing.scaled(Duration.ofMillis(1));
            this.preempt = exact ? Duration.ofNanos(EXACT_STEP_NANOS) : timing.scaled(Duration.ofMillis(1));
            // the provider's tolerance, and with exact timing the run's length: the suite's accounting
            // rules judge the amounts, this race only what no complete update could have written
            this.tolerance = timing.toleranceNanos() + (exact ? run.toNanos() : 0);
            this.hostSeen = exact ? cpu.hostSteal() : 0;
            this.carries = new Carries(!driveCarries ? Carries.Mode.COUNTED : exact ? Carries.Mode.EXACT : seed ? Carries.Mode.SEEDED
                    : Carries.Mode.DRIVEN,
                    4 * preempt.toNanos() + 2 * timing.toleranceNanos());
            this.value = view.u64(STEAL);
            this.version = view.u32(VERSION);
            bounds.floor.set(value);
            // measured: the hypervisor may update before the first step too ("at any time it sees
            // fit"; QEMU's vCPU 0 polls the serial port between calls), within the same 2^31 ns
            bounds.ceiling.set(exact ? value : value + MEASURED_CEILING_NANOS);
            log.append(String.format("start: steal 0x%016x version %s%n", value, KvmStealTime.version(version)));
        }

        @Override
        public void run() {
            long before = value;
            if (seed) {
                // just below the next 32-bit boundary, by less than one step adds
                long s = ((value >>> 32) + 1 << 32) - 1 - random.nextLong(preempt.toNanos() / 2);
                if (Long.compareUnsigned(s, value) <= 0) {
                    s += 1L << 32;                               // never below what readers saw
                }
                bounds.ceiling.set(s + MEASURED_CEILING_NANOS);
                view.storeU32(VERSION, version + 1);             // a guest seqlock write: odd,
                view.storeU64(STEAL, s);                         // one 64-bit store,
                version += 2;
                view.storeU32(VERSION, version);                 // even again
                bounds.floor.set(s);
                before = s;
            } else if (exact) {
                // an update may land during the preemption: allow the requested amount up front
                bounds.ceiling.set(value + unpublished + preempt.toNanos() + tolerance);
            }
            // an own total cannot be seeded: a long preemption brings it near the next 2^32 boundary
            Duration d = exact || seed ? preempt : carries.preemption(value, preempt);   // COUNTED: always preempt
            carries.beforeStep(value, d, tolerance);
            if (!exact && !seed) {
                bounds.ceiling.set(value + (d.equals(preempt) ? 0 : d.toNanos()) + MEASURED_CEILING_NANOS);
            }
            long stepStarted = System.nanoTime();
            cpu.preempt(d);
            if (exact) {
                hostMeasured();
                bounds.ceiling.set(Math.max(bounds.ceiling.get(), before + unpublished + tolerance));   // as the host measured it
            }
            cpu.run(run);
            if (exact) {
                hostMeasured();
                bounds.ceiling.set(Math.max(bounds.ceiling.get(), before + unpublished + tolerance));
            }
            long now = view.u64(STEAL);
            if (exact) {
                unpublished = Math.max(0, unpublished - (now - before));
            }
            int v = view.u32(VERSION);
            if (v != version || now != before) {
                // a guest that keeps running between calls (the test guest under QEMU polls its serial
                // port) is updated on many entries per step: the version's advance counts them
                int advance = v - version;
                hypervisorUpdates += Math.max(1, Math.min(MAX_UPDATES_PER_STEP, advance > 0 ? advance / 2 : 0));
                stepsWithoutUpdate = 0;
            } else {
                stepsWithoutUpdate++;
            }
            carries.updated(before, now);
            if (steps++ < 16) {
                log.append(String.format("step %d: steal 0x%016x -> 0x%016x, version %s -> %s%n", steps, before, now,
                        KvmStealTime.version(version), KvmStealTime.version(v)));
            }
            value = now;
            version = v;
            bounds.floor.set(now);
            if (exact) {
                // virtual time costs nothing, so without a pause the writer would be inside an update
                // nearly all the time and a slow but correct update would starve the readers: the
                // guest "runs" between two steps as long as the step took
                // step took; parked, not spinning, so the readers get the CPU (on a 2-CPU machine a
                // spinning writer leaves them little, and a reader that is not running sees no update)
                java.util.concurrent.locks.LockSupport.parkNanos(System.nanoTime() - stepStarted);
            }
        }

        /** Adds the host's measure since the last reading to the unpublished steal. */
        private void hostMeasured() {
            long h = cpu.hostSteal();
            unpublished += h - hostSeen;
            hostSeen = h;
        }

        String log() {
            return log + String.format("... %,d steps, %,d hypervisor updates (each step that changed the structure counts its version's "
                    + "advance / 2, at least 1), %,d crossing a 32-bit boundary; last: steal 0x%016x version %s%n%s%n",
                    steps, hypervisorUpdates, carries.crossings(), value, KvmStealTime.version(version), carries.describe());
        }
    }

    /** One reader thread: the guest's protocol, then the grading. Allocates only to describe a forbidden sample. */
    static final class Reader implements Probe {
        private final LiveMemory live;
        private final Bounds bounds;
        private final boolean[] forbidden;
        private boolean seen;
        private long lastSteal;
        private int lastVersion;

        Reader(GuestMemory memory, long gpa, Bounds bounds, List<Outcome> outcomes) {
            this.live = new LiveMemory(memory, gpa, SIZE);
            this.bounds = bounds;
            this.forbidden = new boolean[outcomes.size()];
            for (int i = 0; i < forbidden.length; i++) {
                forbidden[i] = outcomes.get(i).grade() == Grade.FORBIDDEN;
            }
        }

        @Override
        public int sample(Witness witness) {
            long floor = bounds.floor.get();
            int retries = 0;
            long started = 0;
            int v;
            long s;
            while (true) {
                v = live.u32(VERSION);
                s = live.u64(STEAL);
                if ((v & 1) == 0 && v == live.u32(VERSION)) {
                    break;
                }
                if ((v & 1) != 0 && live.sampled()) {
                    live.u32(VERSION);   // sampled memory: every attempt makes the same three loads (replayed in order)
                }
                if (live.sampled()) {
                    if (++retries >= MAX_RETRIES) {
                        return GAVE_UP;  // graded by replay after the race: a count, not a clock
                    }
                } else if (++retries == MAX_RETRIES) {
                    started = System.nanoTime();
                } else if (retries > MAX_RETRIES && (retries & 63) == 0 && System.nanoTime() - started > GIVE_UP_NANOS) {
                    return GAVE_UP;
                }
            }
            long ceiling = bounds.ceiling.get();

            boolean below = Long.compareUnsigned(s, floor) < 0;
            boolean above = Long.compareUnsigned(s, ceiling) > 0;
            boolean backwards = seen && Long.compareUnsigned(s, lastSteal) < 0;
            boolean sameVersion = seen && v == lastVersion && s != lastSteal;
            boolean versionBack = seen && v - lastVersion < 0;

            int outcome = -1;
            // the forbidden family of this race first, so a sample is reported for what the rule forbids
            if (forbidden[BELOW_FLOOR] || forbidden[ABOVE_CEILING]) {
                outcome = below ? BELOW_FLOOR : above ? ABOVE_CEILING : backwards ? WENT_BACKWARDS
                        : sameVersion ? SAME_VERSION : versionBack ? VERSION_BACKWARDS : -1;
            } else {
                outcome = sameVersion ? SAME_VERSION : versionBack ? VERSION_BACKWARDS : below ? BELOW_FLOOR
                        : above ? ABOVE_CEILING : backwards ? WENT_BACKWARDS : -1;
            }
            if (outcome >= 0) {
                if (forbidden[outcome]) {
                    witness.saw(String.format("accepted steal 0x%016x at version %s (floor 0x%016x, ceiling 0x%016x; "
                                    + "this reader's previous accepted read: %s)", s, KvmStealTime.version(v), floor, ceiling,
                            seen ? String.format("steal 0x%016x at version %s", lastSteal, KvmStealTime.version(lastVersion)) : "none"));
                }
                return outcome; // an anomaly is not taken as this reader's new reference
            }
            int result = retries > 0 ? AFTER_RETRY : seen && s == lastSteal ? UNCHANGED : ADVANCED;
            seen = true;
            lastSteal = s;
            lastVersion = v;
            return result;
        }
    }
}
