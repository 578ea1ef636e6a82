package dev.stealtime.tck.support.assertions;

import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.race.RaceResult;
import org.assertj.core.api.AbstractAssert;

/** Assertions on a race: no forbidden observation, and enough samples and updates to mean something. */
public final class RaceAssert extends AbstractAssert<RaceAssert, RaceResult> {

    private RaceAssert(RaceResult actual) {
        super(actual, RaceAssert.class);
        Evidence.text("race histogram: " + actual.spec().name(), actual.histogram());
    }

    public static RaceAssert assertThatRace(RaceResult result) {
        return new RaceAssert(result);
    }

    /** Not one forbidden observation. */
    public RaceAssert hasNoForbiddenObservation() {
        if (actual.forbidden() > 0) {
            // the first line is complete on its own (summaries and consoles show only it): what fired, how often
            throw failure("%,d forbidden observation(s) among %,d samples in %s: %s%n%s",
                    actual.forbidden(), actual.samples(), actual.spec().name(), actual.forbiddenSummary(), actual.histogram());
        }
        return this;
    }

    /** The race really raced: at least {@code updates} writer updates and {@code samples} samples. */
    public RaceAssert racedAtLeast(long updates, long samples) {
        if (actual.updates() < updates || actual.samples() < samples) {
            throw failure("the race did not exercise enough: expected at least %,d writer steps and %,d samples, saw %,d and %,d (%s)%n%s",
                    updates, samples, actual.updates(), actual.samples(), actual.spec().name(), actual.histogram());
        }
        return this;
    }

}
