package dev.stealtime.tck.rules;

import java.util.Arrays;
import java.util.Locale;

/**
 * How binding a rule is. Each level is also a TestNG group of the same name (a profile a vendor claims).
 */
public enum Level {
    /** Stated by the interface documents. Gates. */
    REQUIRED("required", true),
    /** What Linux KVM does where the documents are silent; gates for a hypervisor claiming KVM's ABI. */
    LINUX_ABI("linux-abi", true),
    /** Optional behaviour: a failure is reported and never gates. */
    ADVISORY("advisory", false);

    /** TestNG group names, usable in {@code @Test(groups = ...)}. */
    public static final String REQUIRED_GROUP = "required";
    public static final String LINUX_ABI_GROUP = "linux-abi";
    public static final String ADVISORY_GROUP = "advisory";

    private final String group;
    private final boolean gating;

    Level(String group, boolean gating) {
        this.group = group;
        this.gating = gating;
    }

    /** The TestNG group and profile name: {@code required}, {@code linux-abi}, {@code advisory}. */
    public String group() {
        return group;
    }

    /** Whether a failure at this level fails the run. */
    public boolean gating() {
        return gating;
    }

    public static Level fromGroup(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(l -> l.group.equals(n)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(
                        "unknown profile '" + name + "' (expected required, linux-abi or advisory)"));
    }

    @Override
    public String toString() {
        return group;
    }
}
