package dev.stealtime.tck.support.race;

/**
 * One kind of observation a race can produce, e.g. "consistent, steal advanced" (acceptable) or
 * "torn: accepted value above every value written" (forbidden).
 */
public record Outcome(String name, Grade grade, String meaning) {

    public static Outcome acceptable(String name, String meaning) {
        return new Outcome(name, Grade.ACCEPTABLE, meaning);
    }

    public static Outcome forbidden(String name, String meaning) {
        return new Outcome(name, Grade.FORBIDDEN, meaning);
    }
}
