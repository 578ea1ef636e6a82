package dev.stealtime.tck.x86;

import dev.stealtime.tck.support.GuestLayout;

import static dev.stealtime.tck.x86.KvmStealTime.hex;

/**
 * Named places for a structure: low RAM, the last 64 bytes of low RAM, above 4 GiB. The name
 * shows the address at layout base 0; {@link #gpa(GuestLayout)} is the address in a layout.
 */
public enum Place {
    LOW("low RAM", GuestLayout.low(2)),
    EDGE("last 64 bytes of low RAM", GuestLayout.LOW_EDGE),
    HIGH("above 4 GiB", GuestLayout.HIGH_SLOT);

    final String label;
    private final long gpa;

    Place(String label, long gpa) {
        this.label = label;
        this.gpa = gpa;
    }

    /** The address in {@code layout}: low places move with its base, the high one stays at 4 GiB. */
    long gpa(GuestLayout layout) {
        return this == HIGH ? gpa : layout.base() + gpa;
    }

    @Override
    public String toString() {
        return label + " (" + hex(gpa) + ")";
    }
}
