package dev.stealtime.tck.runner.result;


import java.util.List;
import java.util.Map;

/**
 * {@code conformance.md}: the conformance summary as a certification document, rendered from the
 * same data as {@code conformance.json} (the typed {@link RunSummary}).
 * Rules are grouped by level (required, linux-abi, advisory); FAIL and NOT_APPLICABLE carry their
 * message.
 */
public final class ConformanceMarkdown {

    private static final List<String> LEVELS = List.of("required", "linux-abi", "advisory");

    private ConformanceMarkdown() {
    }

    public static String render(RunSummary s) {
        StringBuilder md = new StringBuilder();
        RunSummary.Tck tck = s.tck();
        RunSummary.Provider provider = s.provider();
        RunSummary.Environment env = s.environment();
        List<String> profiles = s.profiles();
        List<String> gating = s.gatingLevels();
        List<RunSummary.RuleEntry> rules = s.rules();

        md.append("# Steal-Time TCK conformance summary\n\n");
        md.append("**Result: ").append(s.verdictText()).append("** — ").append(str(s.verdictExplanation())).append("\n\n");

        md.append("| | |\n|---|---|\n");
        row(md, "TCK version", tck.version());
        row(md, "Rule catalogue (SHA-256)", "`" + tck.catalogue() + "`");
        row(md, "Provider", "`" + provider.id() + "` — " + provider.description());
        row(md, "Provider version", str(provider.version()));
        if (provider.source() != null) {
            row(md, "Provider loaded from", provider.source());
        }
        if (provider.jar() != null) {
            row(md, "Provider jar", provider.jar().path() + " (SHA-256 `" + provider.jar().sha256() + "`)");
        }
        if (provider.machine() != null) {
            provider.machine().forEach((k, v) -> row(md, "Provider machine: " + k, str(v)));
        }
        row(md, "Provider timing", str(provider.timing()));
        row(md, "Provider architectures", String.join(", ", provider.architectures()));
        row(md, "Provider capabilities", String.join(", ", provider.capabilities()));
        row(md, "Suites", String.join(", ", s.suites()));
        row(md, "Profiles claimed", String.join(", ", profiles));
        row(md, "Gating levels", gating.isEmpty() ? "none" : String.join(", ", gating));
        row(md, "JDK", str(env.jdk()) + " (" + env.jvm() + ")");
        row(md, "OS", str(env.os()));
        row(md, "Kernel (uname -r)", str(env.kernel()));
        if (env.host() != null) {
            row(md, "Host", env.host());
        }
        if (env.kvm() != null) {
            row(md, "Host KVM", env.kvm());
        }
        row(md, "Finished", str(s.finishedAt()) + String.format(" (run took %.1f s)", s.elapsedMillis() / 1000.0));
        md.append('\n');

        md.append("## TCK artifacts\n\n| artifact | SHA-256 | jar |\n|---|---|---|\n");
        for (RunSummary.Jar j : tck.jars()) {
            String sha = str(j.sha256());
            md.append("| ").append(cell(str(j.artifact()))).append(" | ")
                    .append(sha.isEmpty() ? "—" : "`" + sha + "`").append(" | ")
                    .append(cell(str(j.location()))).append(" |\n");
        }
        md.append('\n');

        md.append("## Effective configuration\n\n| setting | value (origin) |\n|---|---|\n");
        for (Map.Entry<String, String> e : s.configuration().entrySet()) {
            md.append("| `").append(e.getKey()).append("` | ").append(cell(str(e.getValue()))).append(" |\n");
        }
        md.append('\n');

        RunSummary.Totals totals = s.totals();
        boolean notRun = totals.notRun() > 0;
        md.append("## Totals\n\n| level | gates | PASS | FAIL | NOT_APPLICABLE |").append(notRun ? " NOT_RUN |" : "")
                .append("\n|---|---|---|---|---|").append(notRun ? "---|" : "").append("\n");
        for (String level : LEVELS) {
            RunSummary.LevelTotals c = s.byLevel() == null ? null : s.byLevel().get(level);
            if (c == null) {
                continue;
            }
            md.append("| ").append(level).append(" | ").append(c.gates() ? "yes" : "no")
                    .append(" | ").append(c.pass()).append(" | ").append(c.fail())
                    .append(" | ").append(c.notApplicable()).append(" |").append(notRun ? " " + c.notRun() + " |" : "").append("\n");
        }
        md.append("| **all** | | **").append(totals.pass()).append("** | **").append(totals.fail())
                .append("** | **").append(totals.notApplicable()).append("** |")
                .append(notRun ? " **" + totals.notRun() + "** |" : "").append("\n\n");
        md.append(totals.gatingRulesTested()).append(" rule(s) of the claimed gating levels were tested (passed or failed); ")
                .append("NOT_APPLICABLE rules were not tested, each for the reason given.\n\n");
        md.append(totals.tests()).append(" test results behind ").append(rules.size()).append(" rules.\n\n");

        for (String level : LEVELS) {
            List<RunSummary.RuleEntry> rs = rules.stream().filter(r -> level.equals(r.level())).toList();
            if (rs.isEmpty()) {
                continue;
            }
            String note = gating.contains(level) ? "gating" : profiles.contains(level) ? "claimed, never gates" : "not claimed";
            md.append("## ").append(level).append(" (").append(rs.size()).append(" rules, ").append(note).append(")\n\n");
            md.append("| rule | outcome | area | tests | message |\n|---|---|---|---|---|\n");
            for (RunSummary.RuleEntry r : rs) {
                md.append("| `").append(r.id()).append("` | ").append(bold(r.outcome())).append(" | ")
                        .append(cell(str(r.area()))).append(" | ").append(r.tests()).append(" | ")
                        .append(cell(str(r.message()))).append(" |\n");
            }
            md.append('\n');
        }

        List<RunSummary.RuleEntry> failed = rules.stream().filter(r -> !r.failures().isEmpty()).toList();
        if (!failed.isEmpty()) {
            md.append("## Failures in full\n\n");
            for (RunSummary.RuleEntry r : failed) {
                for (RunSummary.Failure f : r.failures()) {
                    md.append("### `").append(r.id()).append("` ").append(f.test()).append("\n\n```\n")
                            .append(str(f.message()).replace("```", "'''")).append("\n```\n\n");
                }
            }
        }

        RunSummary.Report report = s.report();
        if (report != null) {
            md.append("## Report\n\n");
            if (report.html() != null) {
                md.append("- HTML report: `").append(report.html()).append("`\n");
            }
            if (report.error() != null) {
                md.append("- HTML report NOT generated: ").append(cell(str(report.error()))).append('\n');
            }
            if (report.allureResults() != null) {
                md.append("- Allure results: `").append(report.allureResults()).append("`\n");
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
    public static String cell(String s) {
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>");
    }
}
