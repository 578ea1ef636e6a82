package dev.stealtime.tck.support.race;

/** How an observation is judged, as in jcstress. */
public enum Grade {
    /** Allowed by the rule. */
    ACCEPTABLE,
    /** Forbidden by the rule: one such observation fails the test. */
    FORBIDDEN
}
