package dev.stealtime.tck.support.race;

/**
 * A reader's side of a race: takes one sample the way the guest would read, and says which
 * {@link Outcome} (by index into the race's outcome list) it was. One instance per reader thread,
 * so it may keep state (such as the last value it saw). Must not allocate on the fast path.
 */
@FunctionalInterface
public interface Probe {

    /**
     * @param witness where to describe a forbidden sample (only called for those; cheap otherwise)
     * @return index of the outcome in {@link RaceSpec#outcomes()}
     */
    int sample(Witness witness);

    /** Receives descriptions of forbidden samples; the race keeps the first few. */
    interface Witness {
        void saw(String description);
    }
}
