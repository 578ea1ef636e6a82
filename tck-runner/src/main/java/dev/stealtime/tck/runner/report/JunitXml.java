package dev.stealtime.tck.runner.report;

import dev.stealtime.tck.runner.Outcome;
import dev.stealtime.tck.runner.RuleResult;
import dev.stealtime.tck.runner.RunResult;
import dev.stealtime.tck.runner.TestOutcome;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code DIR/junit.xml}: the run in the JUnit XML format that GitLab, Jenkins and GitHub test
 * reporters read. One {@code <testsuite>} per suite, one {@code <testcase>} per rule (classname the
 * suite and level, name the rule id): a failed rule is a {@code <failure>} with the full message and
 * the failing tests' messages, a not-applicable rule is {@code <skipped>} with its reason.
 */
public final class JunitXml {

    public static final String FILE = "junit.xml";

    private JunitXml() {
    }

    public static Path write(Path dir, RunResult result, String provider) throws IOException {
        StringBuilder sb = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        List<RuleResult> rules = result.rules();
        sb.append(String.format(Locale.ROOT, "<testsuites name=\"Steal-Time TCK (%s)\" tests=\"%d\" failures=\"%d\" skipped=\"%d\" time=\"%.3f\">%n",
                attr(provider), rules.size(), count(rules, Outcome.FAIL), count(rules, Outcome.NOT_APPLICABLE), result.elapsed().toMillis() / 1000.0));
        for (String suite : rules.stream().map(r -> r.rule().suite()).distinct().toList()) {
            List<RuleResult> rs = rules.stream().filter(r -> r.rule().suite().equals(suite)).toList();
            sb.append(String.format(Locale.ROOT, "  <testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" skipped=\"%d\" errors=\"0\" time=\"%.3f\">%n",
                    attr(suite), rs.size(), count(rs, Outcome.FAIL), count(rs, Outcome.NOT_APPLICABLE),
                    rs.stream().mapToLong(RuleResult::millis).sum() / 1000.0));
            for (RuleResult r : rs) {
                sb.append(String.format(Locale.ROOT, "    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\"",
                        attr(suite + "." + r.rule().level().name().toLowerCase(Locale.ROOT)), attr(r.rule().id()), r.millis() / 1000.0));
                if (r.outcome() == Outcome.PASS) {
                    sb.append("/>\n");
                    continue;
                }
                sb.append(">\n");
                String detail = details(r);
                if (r.outcome() == Outcome.FAIL) {
                    sb.append("      <failure message=\"").append(attr(firstLine(r.message()))).append("\" type=\"")
                            .append(r.rule().level().gating() ? "gating" : "advisory").append("\">")
                            .append(text(r.rule().statement() + "\n\n" + detail)).append("</failure>\n");
                } else {
                    sb.append("      <skipped message=\"").append(attr(firstLine(r.message()))).append("\"/>\n");
                }
                sb.append("    </testcase>\n");
            }
            sb.append("  </testsuite>\n");
        }
        sb.append("</testsuites>\n");
        Path file = dir.resolve(FILE);
        Files.writeString(file, sb, StandardCharsets.UTF_8);
        return file;
    }

    private static String details(RuleResult r) {
        StringBuilder sb = new StringBuilder(r.message());
        for (TestOutcome t : r.tests()) {
            if (t.outcome() != Outcome.PASS) {
                sb.append("\n\n").append(t.name()).append(": ").append(t.outcome()).append('\n').append(t.message());
            }
        }
        return sb.toString();
    }

    private static long count(List<RuleResult> rs, Outcome o) {
        return rs.stream().filter(r -> r.outcome() == o).count();
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
