package dev.stealtime.tck.spi;

/**
 * Whether a provider can run on this machine, and if not, why (e.g. "/dev/kvm: No such file or
 * directory"). Shown by {@code tck providers}; an unavailable provider's tests are NOT APPLICABLE
 * with this reason.
 */
public record Availability(boolean available, String reason) {

    public static Availability yes() {
        return new Availability(true, "");
    }

    public static Availability no(String reason) {
        return new Availability(false, reason);
    }
}
