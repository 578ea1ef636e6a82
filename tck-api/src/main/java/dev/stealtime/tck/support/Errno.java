package dev.stealtime.tck.support;

import java.util.Arrays;

/** The Linux errno values the arm64 attribute interface returns, with their names. */
public enum Errno {
    EFAULT(14),
    EEXIST(17),
    EINVAL(22),
    ENXIO(6);

    private final int value;

    Errno(int value) {
        this.value = value;
    }

    /** The positive errno number. */
    public int value() {
        return value;
    }

    /** As the kernel returns it from an ioctl: {@code -value}. */
    public int negative() {
        return -value;
    }

    /** "0", "-EEXIST", or "-99 (unknown errno)" for a result value. */
    public static String describe(int result) {
        if (result == 0) {
            return "0";
        }
        return Arrays.stream(values()).filter(e -> e.negative() == result).findFirst()
                .map(e -> "-" + e.name())
                .orElse(result + (result < 0 ? " (errno " + -result + ")" : " (not an errno)"));
    }
}
