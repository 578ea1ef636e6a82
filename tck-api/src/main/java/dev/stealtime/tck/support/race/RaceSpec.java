package dev.stealtime.tck.support.race;

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
 */
public record RaceSpec(String name, List<Outcome> outcomes, Runnable writer, Supplier<Probe> probes,
                       int readers, Duration budget) {

    public RaceSpec {
        outcomes = List.copyOf(outcomes);
        if (readers < 1) {
            throw new IllegalArgumentException("a race needs at least one reader");
        }
    }
}
