package dev.stealtime.tck.support.race;

import java.util.ArrayList;
import java.util.List;

/**
 * A value the writer of a race publishes for its readers (such as the bounds a sample is graded
 * against): readers {@link #get} it before and after their loads, the writer {@link #set}s it.
 * With live guest RAM it is a plain volatile. When guest RAM is sampled by the provider
 * ({@link dev.stealtime.tck.spi.GuestMemory.Sharing#SAMPLED}), the race engine relates each sample
 * to the value in force when it was taken: every {@code set} during the race is a new generation
 * whose number the engine stores in guest RAM, the provider's readers load that number before and
 * after their own loads, and when the samples are graded afterwards {@code get} answers what was
 * published at the generation the sample saw (before its first load: the one loaded before; after
 * it: the one loaded after).
 */
public final class Published<T> {

    private volatile T value;
    /** Generations and values set while a sampled race ran (writer thread only; read after it). */
    private final List<Long> generations = new ArrayList<>();
    private final List<T> history = new ArrayList<>();

    public Published(T initial) {
        set(initial);
    }

    /** The current value; while a sampled race is being graded, the value the sample saw. */
    public T get() {
        if (Sampled.grading) {
            Sampled.Cursor c = Sampled.cursor();
            if (c != null) {
                return c.published(this);
            }
        }
        return value;
    }

    /** Publishes a new value. */
    public void set(T v) {
        value = v;
        Sampled.Writing w = Sampled.writing();
        memo = null;
        if (w == null) {
            generations.clear();
            history.clear();
            generations.add(0L);
            history.add(v);
        } else {
            long g = w.nextGeneration();
            generations.add(g);
            history.add(v);
            w.announce(g);
        }
    }

    /** The value in force at generation {@code g}: the last one set at or before it. */
    T at(long g) {
        if (g == memoGeneration && memo != null) {
            return memo;
        }
        int lo = 0;
        int hi = generations.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (generations.get(mid) <= g) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        memoGeneration = g;
        memo = history.get(lo);
        return memo;
    }

    /** The last lookup (grading is single-threaded and repeats generations a lot). */
    private long memoGeneration = -1;
    private T memo;

    T current() {
        return value;
    }
}
