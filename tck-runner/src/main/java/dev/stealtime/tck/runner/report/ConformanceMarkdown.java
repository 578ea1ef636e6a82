package dev.stealtime.tck.runner.report;

import java.util.List;
import java.util.Map;

/**
 * {@code conformance.md}: the conformance summary as a certification document, rendered from the
 * same data as {@code conformance.json} ({@link dev.stealtime.tck.runner.ConformanceSummary#toMap}).
 * Rules are grouped by level (required, linux-abi, advisory); FAIL and NOT_APPLICABLE carry their
 * message.
 */
public final class ConformanceMarkdown {

    private static final List<String> LEVELS = List.of("required", "linux-abi", "advisory");

    private ConformanceMarkdown() {
    }

    @SuppressWarnings("unchecked")
    public static String render(Map<String, Object> s) {
        StringBuilder md = new StringBuilder();
        Map<String, Object> tck = (Map<String, Object>) s.get("tck");
        Map<String, Object> provider = (Map<String, Object>) s.get("provider");
        Map<String, Object> env = (Map<String, Object>) s.get("environment");
        List<String> profiles = (List<String>) s.get("profiles");
        List<String> gating = (List<String>) s.getOrDefault("gatingLevels", List.of());
        List<Map<String, Object>> rules = (List<Map<String, Object>>) s.get("rules");
        String verdict = s.get("verdictText") != null ? str(s.get("verdictText"))
                : Boolean.TRUE.equals(s.get("conforms")) ? "CONFORMS" : "DOES NOT CONFORM";

        md.append("# Steal-Time TCK conformance summary\n\n");
        md.append("**Result: ").append(verdict).append("** — ").append(str(s.get("verdictExplanation"))).append("\n\n");

        md.append("| | |\n|---|---|\n");
        row(md, "TCK version", str(tck.get("version")));
        row(md, "Provider", "`" + provider.get("id") + "` — " + provider.get("description"));
        row(md, "Provider version", str(provider.get("version")));
        if (provider.get("source") != null) {
            row(md, "Provider loaded from", str(provider.get("source")));
        }
        if (provider.get("jar") instanceof Map<?, ?> j) {
            row(md, "Provider jar", j.get("path") + " (SHA-256 `" + j.get("sha256") + "`)");
        }
        if (provider.get("machine") instanceof Map<?, ?> machine) {
            machine.forEach((k, v) -> row(md, "Provider machine: " + k, str(v)));
        }
        row(md, "Provider timing", str(provider.get("timing")));
        if (provider.get("architectures") != null) {
            row(md, "Provider architectures", String.join(", ", (List<String>) provider.get("architectures")));
        }
        row(md, "Provider capabilities", String.join(", ", (List<String>) provider.get("capabilities")));
        row(md, "Suites", String.join(", ", (List<String>) s.get("suites")));
        row(md, "Profiles claimed", String.join(", ", profiles));
        row(md, "Gating levels", gating.isEmpty() ? "none" : String.join(", ", gating));
        row(md, "JDK", str(env.get("jdk")) + " (" + env.get("jvm") + ")");
        row(md, "OS", str(env.get("os")));
        row(md, "Kernel (uname -r)", str(env.get("kernel")));
        row(md, "Finished", str(s.get("finishedAt")) + String.format(" (run took %.1f s)", ((Number) s.get("elapsedMillis")).longValue() / 1000.0));
        md.append('\n');

        md.append("## TCK artifacts\n\n| artifact | SHA-256 | jar |\n|---|---|---|\n");
        for (Map<String, Object> j : (List<Map<String, Object>>) tck.get("jars")) {
            String sha = str(j.get("sha256"));
            md.append("| ").append(cell(str(j.get("artifact")))).append(" | ")
                    .append(sha.isEmpty() ? "—" : "`" + sha + "`").append(" | ")
                    .append(cell(str(j.get("location")))).append(" |\n");
        }
        md.append('\n');

        md.append("## Effective configuration\n\n| setting | value (origin) |\n|---|---|\n");
        for (Map.Entry<String, Object> e : ((Map<String, Object>) s.get("configuration")).entrySet()) {
            md.append("| `").append(e.getKey()).append("` | ").append(cell(str(e.getValue()))).append(" |\n");
        }
        md.append('\n');

        Map<String, Object> totals = (Map<String, Object>) s.get("totals");
        boolean notRun = totals.get("notRun") instanceof Number n && n.longValue() > 0;
        md.append("## Totals\n\n| level | gates | PASS | FAIL | NOT_APPLICABLE |").append(notRun ? " NOT_RUN |" : "")
                .append("\n|---|---|---|---|---|").append(notRun ? "---|" : "").append("\n");
        Map<String, Object> byLevel = (Map<String, Object>) s.get("byLevel");
        for (String level : LEVELS) {
            Map<String, Object> c = byLevel == null ? null : (Map<String, Object>) byLevel.get(level);
            if (c == null) {
                continue;
            }
            md.append("| ").append(level).append(" | ").append(Boolean.TRUE.equals(c.get("gates")) ? "yes" : "no")
                    .append(" | ").append(c.get("pass")).append(" | ").append(c.get("fail"))
                    .append(" | ").append(c.get("notApplicable")).append(" |").append(notRun ? " " + c.get("notRun") + " |" : "").append("\n");
        }
        md.append("| **all** | | **").append(totals.get("pass")).append("** | **").append(totals.get("fail"))
                .append("** | **").append(totals.get("notApplicable")).append("** |")
                .append(notRun ? " **" + totals.get("notRun") + "** |" : "").append("\n\n");
        if (totals.get("gatingRulesTested") != null) {
            md.append(totals.get("gatingRulesTested")).append(" rule(s) of the claimed gating levels were tested (passed or failed); ")
                    .append("NOT_APPLICABLE rules were not tested, each for the reason given.\n\n");
        }
        md.append(totals.get("tests")).append(" test results behind ").append(rules.size()).append(" rules.\n\n");

        for (String level : LEVELS) {
            List<Map<String, Object>> rs = rules.stream().filter(r -> level.equals(r.get("level"))).toList();
            if (rs.isEmpty()) {
                continue;
            }
            String note = gating.contains(level) ? "gating" : profiles.contains(level) ? "claimed, never gates" : "not claimed";
            md.append("## ").append(level).append(" (").append(rs.size()).append(" rules, ").append(note).append(")\n\n");
            md.append("| rule | outcome | area | tests | message |\n|---|---|---|---|---|\n");
            for (Map<String, Object> r : rs) {
                String outcome = str(r.get("outcome"));
                String message = str(r.get("message"));
                md.append("| `").append(r.get("id")).append("` | ").append(bold(outcome)).append(" | ")
                        .append(cell(str(r.get("area")))).append(" | ").append(r.get("tests")).append(" | ")
                        .append(cell(message)).append(" |\n");
            }
            md.append('\n');
        }

        List<Map<String, Object>> failed = rules.stream().filter(r -> r.get("failures") instanceof List<?> l && !l.isEmpty()).toList();
        if (!failed.isEmpty()) {
            md.append("## Failures in full\n\n");
            for (Map<String, Object> r : failed) {
                for (Map<String, Object> f : (List<Map<String, Object>>) r.get("failures")) {
                    md.append("### `").append(r.get("id")).append("` ").append(f.get("test")).append("\n\n```\n")
                            .append(str(f.get("message")).replace("```", "'''")).append("\n```\n\n");
                }
            }
        }

        Map<String, Object> report = (Map<String, Object>) s.get("report");
        if (report != null) {
            md.append("## Report\n\n");
            if (report.get("html") != null) {
                md.append("- HTML report: `").append(report.get("html")).append("`\n");
            }
            if (report.get("error") != null) {
                md.append("- HTML report NOT generated: ").append(cell(str(report.get("error")))).append('\n');
            }
            if (report.get("allureResults") != null) {
                md.append("- Allure results: `").append(report.get("allureResults")).append("`\n");
            }
            md.append('\n');
        }
        return md.toString();
    }

    private static String bold(String outcome) {
        return "PASS".equals(outcome) ? outcome : "**" + outcome + "**";
    }

    private static void row(StringBuilder md, String key, String value) {
        md.append("| ").append(key).append(" | ").append(cell(value)).append(" |\n");
    }

    private static String str(Object o) {
        return o == null ? "" : String.valueOf(o);
    }

    /** Safe inside a table cell: one line, pipes escaped. */
    static String cell(String s) {
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>");
    }
}
