package dev.stealtime.tck.runner;

import dev.stealtime.tck.runner.host.HostPackages;
import org.testng.SkipException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Self-tests that need a host piece (the kvm-arm64 packages, a C compiler): on a machine without it
 * they are skipped with the reason and the packages to install (never failed: the README's test
 * command passes on a machine nobody set up by hand), and the reason is left in
 * {@code target/host-skips/} for the reports module to print at the end of the build. Where the
 * environment says the pieces must be there ({@value #REQUIRE_ENV}={@code all}, or a list of groups:
 * what {@code .ci/run} sets after installing them), a missing piece fails instead, so CI cannot go
 * green by skipping.
 */
public final class HostRequirement {

    public static final String REQUIRE_ENV = "TCK_SELFTEST_REQUIRE_HOST";

    private HostRequirement() {
    }

    /** Returns when the host has every package of {@code group}; else skips (or fails, see above). */
    public static void requireOrSkip(String group, String what) {
        requireOrSkip(group, what, (String[]) null);
    }

    /** The same for only the named packages of {@code group}. */
    public static void requireOrSkip(String group, String what, String... packages) {
        HostPackages.Missing m = HostPackages.here().missing(group, packages == null ? null : List.of(packages));
        if (!m.none()) {
            unavailable(group, what, m.reason());
        }
    }

    /**
     * Leaves the reason for the build's closing note when the host lacks a package of {@code group},
     * without skipping anything: for a {@code @Factory} whose instances need different groups. TestNG
     * skips the {@code @BeforeClass} of every later instance once one instance's has skipped, so only
     * the first instance's {@link #requireOrSkip} would be recorded; the factory calls this for all.
     */
    public static void noteIfMissing(String group, String what) {
        HostPackages.Missing m = HostPackages.here().missing(group, null);
        if (!m.none()) {
            record(group, line(what, m.reason()));
        }
    }

    /** Skips (or fails where required) {@code what}, which needs {@code group}, for {@code reason}. */
    public static void unavailable(String group, String what, String reason) {
        String line = line(what, reason);
        if (required(group)) {
            throw new AssertionError(line + " (" + REQUIRE_ENV + "=" + System.getenv(REQUIRE_ENV)
                    + ": this machine must have them; .ci/run installs them)");
        }
        record(group, line);
        throw new SkipException(line);
    }

    private static String line(String what, String reason) {
        return what + " not tested here: " + reason;
    }

    static boolean required(String group) {
        String v = System.getenv(REQUIRE_ENV);
        if (v == null || v.isBlank()) {
            return false;
        }
        for (String g : v.split(",")) {
            if (g.strip().equals("all") || g.strip().equals(group)) {
                return true;
            }
        }
        return false;
    }

    private static void record(String group, String line) {
        String dir = System.getProperty("tck.selftest.host-skips");
        if (dir == null) {
            return;
        }
        try {
            Path d = Files.createDirectories(Path.of(dir));
            Files.writeString(d.resolve(group + "-" + Integer.toHexString(line.hashCode()) + ".txt"), line + "\n");
        } catch (IOException e) {
            // only the build's closing note
        }
    }
}
