package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.reference.GuestRam;

/**
 * What a faulty variant that alternates does to the structure at {@code base} after each update,
 * told whether the update is an even-numbered one (issue 27: a defect that shows on every second
 * update only passes a rule judged on two snapshots with an even number of updates between them).
 */
@FunctionalInterface
public interface EverySecondUpdate {
    void stamp(GuestRam ram, long base, boolean secondUpdate);
}
