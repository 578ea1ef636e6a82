package dev.stealtime.tck.support.race;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a {@link RaceSpec}: reader threads sample while the calling thread (the vCPU's driver) runs
 * the writer until the budget is spent. Real concurrency against the provider's live memory, no
 * replay. Readers keep sampling until the writer stops, so every update is raced. Where the TCK
 * cannot map guest RAM, the provider's own readers load it and {@link Sampled} grades their loads.
 */
public final class Race {

    private static final int MAX_EXAMPLES = 8;

    private Race() {
    }

    /**
     * Runs the race: with live memory the readers are threads here; with memory the provider
     * samples ({@link RaceSpec#sampled()}) they are the provider's, and their loads are graded here
     * afterwards by the same probes ({@link Published}).
     */
    /**
     * {@link System#nanoTime()} for a probe: while a sampled race is graded, a time no earlier than
     * the sample being graded was taken (so time-based bounds stay as tight as live).
     */
    public static long nanoTime() {
        if (Sampled.grading) {
            Sampled.Cursor c = Sampled.cursor();
            if (c != null) {
                return c.nanoTime();
            }
        }
        return System.nanoTime();
    }

    /** The live race the calling writer thread runs, for {@link #awaitReaders}; null otherwise. */
    private static final ThreadLocal<java.util.concurrent.atomic.AtomicLongArray> PROGRESS = new ThreadLocal<>();

    /**
     * Called by a writer right before an update that matters most (one that carries into the upper
     * 32-bit word, of which a driven race has only a few): waits, yielding its CPU, until every
     * reader has sampled again since the call (so each is on a CPU and reading right then), at most
     * {@code maxNanos}. A no-op outside a live race (a sampled race's readers are the provider's).
     */
    public static void awaitReaders(long maxNanos) {
        java.util.concurrent.atomic.AtomicLongArray progress = PROGRESS.get();
        if (progress == null) {
            return;
        }
        long[] seen = new long[progress.length()];
        for (int r = 0; r < seen.length; r++) {
            seen[r] = progress.get(r);
        }
        long deadline = System.nanoTime() + maxNanos;
        for (int r = 0; r < seen.length && System.nanoTime() - deadline < 0; ) {
            if (progress.get(r) > seen[r] + 1) {
                r++;
            } else {
                Thread.yield();
            }
        }
    }

    public static RaceResult run(RaceSpec spec) {
        if (spec.sampled()) {
            return Sampled.run(spec);
        }
        java.util.concurrent.atomic.AtomicLongArray progress = new java.util.concurrent.atomic.AtomicLongArray(spec.readers());
        int nOutcomes = spec.outcomes().size();
        long[][] perReader = new long[spec.readers()][nOutcomes];
        List<String> examples = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<Throwable> readerFailure = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(spec.readers());
        Thread[] threads = new Thread[spec.readers()];
        StopFlag flag = new StopFlag();

        for (int r = 0; r < spec.readers(); r++) {
            long[] counts = perReader[r];
            Probe probe = spec.probes().get();
            Probe.Witness witness = description -> {
                if (examples.size() < MAX_EXAMPLES) {
                    examples.add(description);
                }
            };
            int reader = r;
            threads[r] = new Thread(() -> {
                started.countDown();
                try {
                    long batches = 0;
                    while (!flag.stopped) {
                        // batches keep the volatile check off the per-sample path
                        for (int i = 0; i < 16; i++) {
                            counts[probe.sample(witness)]++;
                        }
                        progress.lazySet(reader, ++batches);   // for awaitReaders: a plain store on x86
                    }
                    counts[probe.sample(witness)]++; // one more after the last update completed
                } catch (Throwable t) {
                    readerFailure.compareAndSet(null, t);
                }
            }, "tck-race-reader-" + r);
            threads[r].setDaemon(true);
            threads[r].start();
        }

        long updates = 0;
        long t0 = System.nanoTime();
        PROGRESS.set(progress);
        try {
            started.await();
            do {
                spec.writer().run();
                updates++;
            } while (spec.keepGoing(t0, updates));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("race interrupted", e);
        } finally {
            PROGRESS.remove();
            flag.stopped = true;
            for (Thread t : threads) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        if (readerFailure.get() != null) {
            throw new IllegalStateException("a race reader failed: " + readerFailure.get(), readerFailure.get());
        }
        long[] total = new long[nOutcomes];
        for (long[] c : perReader) {
            for (int i = 0; i < nOutcomes; i++) {
                total[i] += c[i];
            }
        }
        return new RaceResult(spec, total, updates, List.copyOf(examples), elapsed);
    }

    private static final class StopFlag {
        volatile boolean stopped;
    }
}
