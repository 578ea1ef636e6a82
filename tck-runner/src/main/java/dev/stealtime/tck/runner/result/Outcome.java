package dev.stealtime.tck.runner.result;

/** A rule's outcome in a run. */
public enum Outcome {
    PASS,
    FAIL,
    /** The provider declared it cannot do what the rule needs, or the level was not claimed; the reason says which. */
    NOT_APPLICABLE,
    /** The run was interrupted before this rule's tests ran (only in an INTERRUPTED run's summary). */
    NOT_RUN
}
