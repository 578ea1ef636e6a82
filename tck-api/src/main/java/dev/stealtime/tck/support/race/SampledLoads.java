package dev.stealtime.tck.support.race;

/**
 * For {@link dev.stealtime.tck.support.LiveMemory} on sampled guest RAM: a load made by a race
 * probe that is being discovered or replayed ({@link Sampled}) is served from the recorded samples.
 */
public final class SampledLoads {

    private SampledLoads() {
    }

    /** True when a probe is being discovered or replayed on this thread. */
    public static boolean active() {
        return Sampled.cursor() != null;
    }

    /** The value the probe on this thread loads (only when {@link #active()}). */
    public static long load(long gpa, int width) {
        return Sampled.cursor().load(gpa, width);
    }
}
