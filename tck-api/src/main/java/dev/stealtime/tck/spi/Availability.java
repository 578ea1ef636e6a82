package dev.stealtime.tck.spi;

/**
 * Whether a provider can run on this machine, and if not, why (e.g. "/dev/kvm: No such file or
 * directory"). Shown by {@code tck providers}; an unavailable provider's tests are NOT APPLICABLE
 * with this reason. When available, {@code reason} is empty or a note for people.
 */
public record Availability(boolean available, String reason) {

    public static Availability yes() {
        return new Availability(true, "");
    }

    /** Available, with a note for people (e.g. what the first run will fetch); shown by {@code tck providers}. */
    public static Availability yes(String note) {
        return new Availability(true, note == null ? "" : note);
    }

    public static Availability no(String reason) {
        return new Availability(false, reason);
    }
}
