package dev.stealtime.tck.runner.emulatedkvm;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the upstream selftest {@code tools/testing/selftests/kvm/steal_time} said in the emulated
 * machine.
 *
 * @param outcome PASS (exit 0), FAIL (another exit status: an assertion failed), SKIP (exit 4,
 *                kselftest's skip: steal time not offered) or ERROR (it did not run to its end: no
 *                /dev/kvm, the machine did not come up, or it timed out)
 * @param detail  the assertion or the reason, one line
 * @param millis  wall time of the boot and the run
 */
public record SelftestResult(String outcome, int rc, String detail, long millis) {

    static final Pattern EXIT = Pattern.compile("TCK-SELFTEST EXIT rc=(\\d+)");
    private static final int KSFT_SKIP = 4;

    /** Judges a selftest boot from its console lines; {@code finished} is false when it was killed. */
    public static SelftestResult judge(List<String> console, boolean finished, long millis) {
        Optional<Integer> rc = console.stream().map(EXIT::matcher).filter(Matcher::find)
                .map(m -> Integer.parseInt(m.group(1))).findFirst();
        if (rc.isEmpty()) {
            String why = finished ? "the machine ended before the selftest did" : "timed out";
            return new SelftestResult("ERROR", -1, why + "; console: " + tail(console), millis);
        }
        int code = rc.get();
        String assertion = console.stream()
                .filter(l -> l.contains("Assertion") || l.contains("Expected") || l.contains("didn't")
                        || l.contains("without") || l.contains("Failed guest assert") || l.contains("==== Test"))
                .map(String::trim).reduce((a, b) -> a + " | " + b).orElse("");
        if (code == 0) {
            return new SelftestResult("PASS", 0, "", millis);
        }
        if (code == KSFT_SKIP) {
            return new SelftestResult("SKIP", code, assertion.isEmpty() ? tail(console) : assertion, millis);
        }
        return new SelftestResult("FAIL", code, assertion.isEmpty() ? tail(console) : assertion, millis);
    }

    private static String tail(List<String> console) {
        return String.join(" | ", console.subList(Math.max(0, console.size() - 4), console.size()));
    }
}
