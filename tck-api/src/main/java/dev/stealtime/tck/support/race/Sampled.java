package dev.stealtime.tck.support.race;

import dev.stealtime.tck.spi.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Races against guest RAM the provider samples ({@link GuestMemory#startSampling}): the same probes
 * as a live race, replayed afterwards over the values the provider's readers loaded.
 * <ol>
 *   <li>Discovery: one probe takes one sample on this thread against the current memory; the loads
 *       it makes are the sampling program's body.</li>
 *   <li>The program is {@code [generation, body…, generation]}: the generation word (8 bytes at the
 *       race's scratch address) is bumped by every {@link Published#set} during the race.</li>
 *   <li>The provider's readers repeat the program while the writer runs, exactly as live readers
 *       would; then each reader's records are replayed through a fresh probe, in order, each record
 *       as many times as it was seen. A probe's loads read the recorded values, its
 *       {@link Published#get}s the generations around them.</li>
 * </ol>
 * Records seen many times in a row are graded by replaying until the probe reaches a fixed point
 * (two samples in a row inside the record's repeats with the same outcome and length), then
 * counting the rest of the repeats as samples of that outcome.
 * The provider never grades anything; the probes do, as they do live. A probe must make the same
 * loads in the same order in every attempt (no short-circuited load), so that its attempts line up
 * with the program's iterations.
 */
final class Sampled {

    /** Records a reader may keep (distinct runs of values; repeats are counted, not stored). */
    static final int MAX_RECORDS = 1 << 20;

    /** True while some thread grades samples; keeps {@link Published#get} a plain volatile read otherwise. */
    static volatile boolean grading;

    private static final ThreadLocal<Cursor> CURSOR = new ThreadLocal<>();
    private static final ThreadLocal<Writing> WRITING = new ThreadLocal<>();

    private Sampled() {
    }

    /** Where the probe on this thread loads from while discovering or replaying, else null. */
    static Cursor cursor() {
        return CURSOR.get();
    }

    static Writing writing() {
        return WRITING.get();
    }

    /** A probe's loads and published reads, served from somewhere other than live memory. */
    interface Cursor {
        long load(long gpa, int width);

        <T> T published(Published<T> p);

        /** A time no earlier than the sample's loads (System.nanoTime() scale). */
        long nanoTime();
    }

    /** The end of a reader's records, met inside a sample (that partial sample is not counted). */
    static final class EndOfSamples extends RuntimeException {
        static final EndOfSamples INSTANCE = new EndOfSamples();

        private EndOfSamples() {
            super("end of the recorded samples", null, false, false);
        }
    }

    /** The writer's side: numbers every publication and stores the number in guest RAM. */
    static final class Writing {
        private final GuestMemory memory;
        private final long scratch;
        private long generation;
        /** When each generation (index) was published; the race's end after the last. */
        final List<Long> times = new ArrayList<>();

        Writing(GuestMemory memory, long scratch) {
            this.memory = memory;
            this.scratch = scratch;
            times.add(System.nanoTime());
        }

        long nextGeneration() {
            times.add(System.nanoTime());
            return ++generation;
        }

        /** A time after every load that saw generation {@code g}: when {@code g + 1} was published (or the end). */
        long after(long g) {
            return g + 1 < times.size() ? times.get((int) (g + 1)) : end;
        }

        long end = Long.MAX_VALUE;

        void announce(long g) {
            memory.write(scratch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(g).array());
        }
    }

    /** Discovery: loads go to guest RAM through {@link GuestMemory#read}, and are recorded. */
    private static final class Discovery implements Cursor {
        private final GuestMemory memory;
        final List<GuestMemory.Load> loads = new ArrayList<>();

        Discovery(GuestMemory memory) {
            this.memory = memory;
        }

        @Override
        public long load(long gpa, int width) {
            loads.add(new GuestMemory.Load(gpa, width));
            ByteBuffer b = ByteBuffer.wrap(memory.read(gpa, width)).order(ByteOrder.LITTLE_ENDIAN);
            return width == 8 ? b.getLong() : Integer.toUnsignedLong(b.getInt());
        }

        @Override
        public <T> T published(Published<T> p) {
            return p.current();
        }

        @Override
        public long nanoTime() {
            return System.nanoTime();
        }
    }

    /** Replay of one reader's records: iteration after iteration, each record {@code count} times. */
    private static final class Replay implements Cursor {
        private final List<GuestMemory.Load> body;
        private final long[] values;
        private final long[] counts;
        private final int stride;
        private int record;
        private long repeat;
        private int position;          // next body load in the current iteration; body.size() = used up
        private boolean loadedInSample;

        private final Writing writing;

        Replay(List<GuestMemory.Load> body, GuestMemory.Recorded rec, Writing writing) {
            this.writing = writing;
            this.body = body;
            this.values = rec.values();
            this.counts = rec.counts();
            this.stride = body.size() + 2;
            this.record = 0;
            this.repeat = 0;
            this.position = 0;
        }

        boolean exhausted() {
            return record >= counts.length || (position == body.size() && record == counts.length - 1 && repeat + 1 >= counts[record]);
        }

        /** Where the replay is: record index and repeat, or -1 mid-iteration. */
        long mark() {
            return position == body.size() ? ((long) record << 32) | repeat : -1;
        }

        /**
         * Skips whole samples of {@code perSample} iterations within the current record's repeats
         * and returns how many.
         */
        long skipRepeats(long perSample) {
            if (position != body.size() || record >= counts.length || perSample <= 0) {
                return 0;
            }
            long remaining = counts[record] - 1 - repeat;
            long k = remaining / perSample;
            repeat += k * perSample;
            return k;
        }

        void beginSample() {
            loadedInSample = false;
            if (position > 0 && position < body.size()) {
                position = body.size();             // a partial iteration is not continued by the next sample
            }
        }

        private void nextIteration() {
            if (++repeat >= counts[record]) {
                record++;
                repeat = 0;
            }
            position = 0;
            if (record >= counts.length) {
                throw EndOfSamples.INSTANCE;
            }
        }

        @Override
        public long load(long gpa, int width) {
            if (record >= counts.length) {
                throw EndOfSamples.INSTANCE;
            }
            if (position == body.size()) {
                nextIteration();
            }
            GuestMemory.Load want = body.get(position);
            if (want.gpa() != gpa || want.width() != width) {
                throw new IllegalStateException(String.format("a race probe loaded %d bytes at 0x%x where its program has %d bytes at 0x%x: "
                        + "a probe must make the same loads in every attempt to be replayed", width, gpa, want.width(), want.gpa()));
            }
            loadedInSample = true;
            return values[record * stride + 1 + position++];
        }

        @Override
        public <T> T published(Published<T> p) {
            if (record >= counts.length) {
                throw EndOfSamples.INSTANCE;
            }
            if (!loadedInSample) {
                // before the sample's first load: the generation loaded before the iteration it will read
                int r = record;
                if (position == body.size() && repeat + 1 >= counts[record]) {
                    r++;
                }
                if (r >= counts.length) {
                    throw EndOfSamples.INSTANCE;
                }
                return p.at(values[r * stride]);
            }
            return p.at(values[record * stride + stride - 1]);
        }

        @Override
        public long nanoTime() {
            int r = Math.min(record, counts.length - 1);
            return writing.after(values[r * stride + stride - 1]);
        }
    }

    static RaceResult run(RaceSpec spec) {
        GuestMemory memory = spec.memory();
        int nOutcomes = spec.outcomes().size();
        Probe.Witness quiet = d -> { };

        Discovery discovery = new Discovery(memory);
        CURSOR.set(discovery);
        try {
            spec.probes().get().sample(quiet);
        } finally {
            CURSOR.remove();
        }
        if (discovery.loads.isEmpty()) {
            throw new IllegalStateException("race " + spec.name() + ": its probe made no loads");
        }
        List<GuestMemory.Load> body = List.copyOf(discovery.loads);
        GuestMemory.Load generation = new GuestMemory.Load(spec.scratchGpa(), 8);
        List<GuestMemory.Load> program = new ArrayList<>();
        program.add(generation);
        program.addAll(body);
        program.add(generation);

        Probe[] probes = new Probe[spec.readers()];
        for (int r = 0; r < probes.length; r++) {
            probes[r] = spec.probes().get();
        }
        Writing writing = new Writing(memory, spec.scratchGpa());
        writing.announce(0);
        long updates = 0;
        long t0 = System.nanoTime();
        List<GuestMemory.Recorded> recorded;
        WRITING.set(writing);
        try {
            GuestMemory.Sampling sampling = memory.startSampling(spec.readers(), program, MAX_RECORDS);
            try {
                do {
                    spec.writer().run();
                    updates++;
                } while (spec.keepGoing(t0, updates));
            } finally {
                recorded = sampling.stop();
                writing.end = System.nanoTime();
            }
        } finally {
            WRITING.remove();
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        if (recorded.size() != spec.readers()) {
            throw new IllegalStateException("the provider returned samples of " + recorded.size() + " readers, not " + spec.readers());
        }

        long[] total = new long[nOutcomes];
        List<String> examples = Collections.synchronizedList(new ArrayList<>());
        Probe.Witness witness = d -> {
            if (examples.size() < 8) {
                examples.add(d);
            }
        };
        grading = true;
        try {
            for (int r = 0; r < probes.length; r++) {
                Replay replay = new Replay(body, recorded.get(r), writing);
                CURSOR.set(replay);
                try {
                    long lastStart = -1;
                    long lastEnd = -1;
                    int lastOutcome = -1;
                    while (!replay.exhausted()) {
                        replay.beginSample();
                        long start = replay.mark();
                        int outcome;
                        try {
                            outcome = probes[r].sample(witness);
                        } catch (EndOfSamples e) {
                            break;
                        }
                        total[outcome]++;
                        long end = replay.mark();
                        // A probe fed the same record again and again reaches a fixed point: two
                        // samples in a row inside one record's repeats, with the same outcome and the
                        // same number of iterations, are followed by more of the same. Count them
                        // without replaying each (a torn record seen a million times is graded in µs).
                        if (start >= 0 && end >= 0 && lastStart >= 0 && (start >>> 32) == (end >>> 32)
                                && (lastStart >>> 32) == (start >>> 32) && lastEnd == start && outcome == lastOutcome
                                && end - start == start - lastStart) {
                            total[outcome] += replay.skipRepeats(end - start);
                            end = replay.mark();
                            start = end;     // nothing to compare the next sample with but a fresh pair
                            outcome = -1;
                        }
                        lastStart = start;
                        lastEnd = end;
                        lastOutcome = outcome;
                    }
                } finally {
                    CURSOR.remove();
                }
            }
        } finally {
            grading = false;
        }
        return new RaceResult(spec, total, updates, List.copyOf(examples), elapsed);
    }
}
