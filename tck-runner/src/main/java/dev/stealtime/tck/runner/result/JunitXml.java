package dev.stealtime.tck.runner.result;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.runner.host.OutDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code DIR/junit.xml}, rendered from the run's {@link RunSummary}: the run in the JUnit XML format that GitLab, Jenkins and GitHub test
 * reporters read. One {@code <testsuite>} per suite, one {@code <testcase>} per rule (classname the
 * suite and level, name the rule id): a failed rule is a {@code <failure>} with the full message and
 * the failing tests' messages, a not-applicable rule is {@code <skipped>} with its reason.
 */
public final class JunitXml {

    public static final String FILE = "junit.xml";

    private JunitXml() {
    }

    public static Path write(Path dir, RunSummary summary) throws IOException {
        return OutDir.writeAtomically(dir.resolve(FILE), render(summary));
    }

    public static String render(RunSummary summary) {
        StringBuilder sb = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        List<RunSummary.RuleEntry> rules = summary.rules();
        sb.append(String.format(Locale.ROOT, "<testsuites name=\"Steal-Time TCK (%s)\" tests=\"%d\" failures=\"%d\" skipped=\"%d\" time=\"%.3f\">%n",
                attr(summary.provider().id()), rules.size(), count(rules, "FAIL"), skipped(rules), summary.elapsedMillis() / 1000.0));
        for (String suite : rules.stream().map(RunSummary.RuleEntry::suite).distinct().toList()) {
            List<RunSummary.RuleEntry> rs = rules.stream().filter(r -> r.suite().equals(suite)).toList();
            sb.append(String.format(Locale.ROOT, "  <testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" skipped=\"%d\" errors=\"0\" time=\"%.3f\">%n",
                    attr(suite), rs.size(), count(rs, "FAIL"), skipped(rs),
                    rs.stream().mapToLong(RunSummary.RuleEntry::millis).sum() / 1000.0));
            for (RunSummary.RuleEntry r : rs) {
                sb.append(String.format(Locale.ROOT, "    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\"",
                        attr(suite + "." + r.level().replace("-", "_")), attr(r.id()), r.millis() / 1000.0));
                if (r.outcome().equals("PASS")) {
                    sb.append("/>\n");
                    continue;
                }
                sb.append(">\n");
                if (r.outcome().equals("FAIL")) {
                    sb.append("      <failure message=\"").append(attr(firstLine(r.message()))).append("\" type=\"")
                            .append(Level.fromGroup(r.level()).gating() ? "gating" : "advisory").append("\">")
                            .append(text(r.statement() + "\n\n" + details(r))).append("</failure>\n");
                } else {
                    String why = r.outcome().equals("NOT_RUN") ? "NOT RUN: " + r.message() : r.message();
                    sb.append("      <skipped message=\"").append(attr(firstLine(why))).append("\"/>\n");
                }
                sb.append("    </testcase>\n");
            }
            sb.append("  </testsuite>\n");
        }
        sb.append("</testsuites>\n");
        return sb.toString();
    }

    private static String details(RunSummary.RuleEntry r) {
        StringBuilder sb = new StringBuilder(r.message());
        for (RunSummary.Failure f : r.failures()) {
            sb.append("\n\n").append(f.test()).append(": FAIL\n").append(f.message());
        }
        return sb.toString();
    }

    private static long count(List<RunSummary.RuleEntry> rs, String outcome) {
        return rs.stream().filter(r -> r.outcome().equals(outcome)).count();
    }

    private static long skipped(List<RunSummary.RuleEntry> rs) {
        return count(rs, "NOT_APPLICABLE") + count(rs, "NOT_RUN");
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** XML text: escaped, and characters XML 1.0 cannot carry replaced. */
    static String text(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        s.codePoints().forEach(c -> {
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                default -> {
                    boolean legal = c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || c >= 0x10000;
                    if (legal) {
                        sb.appendCodePoint(c);
                    } else {
                        sb.append(String.format("\\u%04x", c));
                    }
                }
            }
        });
        return sb.toString();
    }

    static String attr(String s) {
        return text(s).replace("\"", "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;");
    }
}
