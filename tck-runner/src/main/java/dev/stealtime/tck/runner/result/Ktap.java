package dev.stealtime.tck.runner.result;

import dev.stealtime.tck.runner.host.OutDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code DIR/results.ktap}: the run in KTAP version 1, the kernel's test-result format (what
 * kselftest, KernelCI and LKFT consume; Documentation/dev-tools/ktap.rst), rendered from the run's
 * {@link RunSummary}. One test per suite that ran ({@code steal_time_x86}, {@code steal_time_arm64}),
 * and in it one subtest per catalogue rule, named by the rule id:
 * <ul>
 *   <li>PASS: {@code ok N RULE}</li>
 *   <li>FAIL: diagnostic lines ({@code # ...}) with the outcome, the level and the whole failure
 *       reason, then {@code not ok N RULE}</li>
 *   <li>NOT APPLICABLE / NOT RUN: {@code ok N RULE # SKIP reason} (the KTAP skip directive), the
 *       rest of a multi-line reason as diagnostics before it</li>
 * </ul>
 * A suite is {@code not ok} when one of its rules failed.
 */
public final class Ktap {

    public static final String FILE = "results.ktap";
    static final String INDENT = "    ";

    private Ktap() {
    }

    public static Path write(Path dir, RunSummary summary) throws IOException {
        return OutDir.writeAtomically(dir.resolve(FILE), render(summary));
    }

    public static String render(RunSummary s) {
        List<String> suites = s.rules().stream().map(RunSummary.RuleEntry::suite).distinct().toList();
        StringBuilder k = new StringBuilder("KTAP version 1\n");
        k.append("1..").append(suites.size()).append('\n');
        k.append("# Steal-Time TCK ").append(oneLine(s.tck().version())).append(": provider ").append(oneLine(s.provider().id()))
                .append(", verdict ").append(s.verdictText()).append('\n');
        int n = 0;
        for (String suite : suites) {
            n++;
            List<RunSummary.RuleEntry> rules = s.rules().stream().filter(r -> r.suite().equals(suite)).toList();
            String name = "steal_time_" + suite;
            k.append(INDENT).append("KTAP version 1\n");
            k.append(INDENT).append("# Subtest: ").append(name).append('\n');
            k.append(INDENT).append("1..").append(rules.size()).append('\n');
            int i = 0;
            boolean failed = false;
            for (RunSummary.RuleEntry r : rules) {
                i++;
                switch (r.outcome()) {
                    case "PASS" -> k.append(INDENT).append("ok ").append(i).append(' ').append(r.id()).append('\n');
                    case "FAIL" -> {
                        failed = true;
                        diagnostic(k, r.id() + ": FAIL (" + r.level() + (r.gates() ? ", gating" : ", does not gate") + ")");
                        diagnostic(k, r.message());
                        for (RunSummary.Failure f : r.failures()) {
                            diagnostic(k, f.test() + ":");
                            diagnostic(k, f.message());
                        }
                        k.append(INDENT).append("not ok ").append(i).append(' ').append(r.id()).append('\n');
                    }
                    default -> {
                        String kind = r.outcome().equals("NOT_RUN") ? "NOT RUN" : "NOT APPLICABLE";
                        String why = r.message() == null || r.message().isBlank() ? kind : kind + ": " + r.message();
                        String[] lines = why.split("\r?\n");
                        for (int l = 1; l < lines.length; l++) {
                            diagnostic(k, lines[l]);
                        }
                        k.append(INDENT).append("ok ").append(i).append(' ').append(r.id()).append(" # SKIP ")
                                .append(directiveText(lines[0])).append('\n');
                    }
                }
            }
            k.append(failed ? "not ok " : "ok ").append(n).append(' ').append(name).append('\n');
        }
        return k.toString();
    }

    /** Each line as a diagnostic line of the current test ({@code # ...}), never mistaken for a KTAP line. */
    private static void diagnostic(StringBuilder k, String text) {
        if (text == null || text.isEmpty()) {
            return;
        }
        for (String line : text.split("\r?\n", -1)) {
            k.append(INDENT).append("# ").append(line.replace("Subtest:", "Subtest -")).append('\n');
        }
    }

    /** A directive's text: one line; '#' would start another directive. */
    private static String directiveText(String s) {
        return s.replace('#', ' ').strip();
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
    }
}
