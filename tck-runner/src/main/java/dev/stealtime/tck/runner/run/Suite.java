package dev.stealtime.tck.runner.run;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The conformance suites, by their command-line names. */
public enum Suite {
    X86("x86", "dev.stealtime.tck.x86", "tck-x86-msr"),
    ARM64("arm64", "dev.stealtime.tck.arm64", "tck-arm64-pvtime");

    public final String cliName;
    /** Java package holding the suite's test classes (they ship in the suite's jar). */
    public final String testPackage;

    /** The Maven artifact (jar) the suite ships in. */
    public final String artifact;

    Suite(String cliName, String testPackage, String artifact) {
        this.artifact = artifact;
        this.cliName = cliName;
        this.testPackage = testPackage;
    }

    /** {@code x86}, {@code arm64} or {@code all}. */
    public static List<Suite> parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("all")) {
            return List.of(values());
        }
        return Arrays.stream(values()).filter(s -> s.cliName.equals(t)).findFirst().map(List::of)
                .orElseThrow(() -> new IllegalArgumentException("unknown suite '" + text + "' (expected x86, arm64 or all)"));
    }
}
