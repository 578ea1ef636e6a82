package dev.stealtime.tck.runner.merge;

import dev.stealtime.tck.runner.result.ConformanceMarkdown;

import java.util.List;
import java.util.Locale;

/** {@code matrix.md} and {@code matrix.html}, both rendered from the one {@link Matrix}. */
public final class MatrixRender {

    private MatrixRender() {
    }

    public static String markdown(Matrix m) {
        StringBuilder md = new StringBuilder("# Steal-Time TCK conformance matrix\n\n");
        md.append(m.runs().size()).append(" runs of TCK ").append(m.tckVersion()).append(" (rule catalogue `")
                .append(m.catalogue(), 0, 12).append("…`), ").append(m.rows().size()).append(" rules; **")
                .append(m.disagreeing()).append(" rule(s) where the runs disagree**, listed first.\n\n");
        if (!m.problems().isEmpty()) {
            md.append("## Run directories with problems\n\n");
            for (Matrix.Problem p : m.problems()) {
                md.append("- `").append(p.dir()).append("`: ").append(p.merged() ? "merged, " : "**NOT MERGED**, ")
                        .append(cell(p.reason())).append('\n');
            }
            md.append('\n');
        }
        md.append("## Runs\n\n| run | provider | architecture | kernel | kernel hash | host | verdict |\n|---|---|---|---|---|---|---|\n");
        for (Matrix.Run r : m.runs()) {
            md.append("| [").append(cell(r.name())).append("](").append(link(r.dir() + "/conformance.md")).append(") | `")
                    .append(cell(r.provider())).append("` | ").append(cell(r.architecture())).append(" | ").append(cell(r.kernel()))
                    .append(" | ").append(r.kernelHash() == null ? "—" : "`" + shortHash(r.kernelHash()) + "`").append(" | ")
                    .append(cell(r.host())).append(" | ").append(r.partial() ? "**INTERRUPTED (partial)**" : cell(r.verdict())).append(" |\n");
        }
        md.append('\n');
        if (m.report() != null) {
            md.append("Every run's tests in one Allure report: [").append(m.report()).append("](").append(link(m.report())).append(")\n\n");
        } else if (m.reportError() != null) {
            md.append("The merged Allure report was NOT generated: ").append(cell(m.reportError())).append("\n\n");
        }
        md.append("## Matrix\n\n| rule | level |");
        m.runs().forEach(r -> md.append(' ').append(cell(r.name())).append(" |"));
        md.append("\n|---|---|");
        m.runs().forEach(r -> md.append("---|"));
        md.append('\n');
        boolean agreeing = false;
        for (Matrix.Row row : m.rows()) {
            if (!row.disagree() && !agreeing) {
                agreeing = true;
                md.append("| *the runs agree on the rules below* | |");
                m.runs().forEach(r -> md.append(" |"));
                md.append('\n');
            }
            md.append("| ").append(row.disagree() ? "**≠** " : "").append('`').append(row.rule()).append("` | ").append(row.level()).append(" |");
            for (Matrix.Cell c : row.cells()) {
                String text = c.outcome().equals(Matrix.PASS) || c.outcome().equals(Matrix.NOT_RUN) ? c.outcome() : "**" + c.outcome() + "**";
                md.append(" [").append(text).append("](").append(link(c.evidence())).append(") |");
            }
            md.append('\n');
        }
        md.append('\n');
        List<Matrix.Row> failing = m.rows().stream().filter(r -> r.cells().stream().anyMatch(c -> c.outcome().equals(Matrix.FAIL))).toList();
        if (!failing.isEmpty()) {
            md.append("## Failures\n\n");
            for (Matrix.Row row : failing) {
                for (Matrix.Cell c : row.cells()) {
                    if (c.outcome().equals(Matrix.FAIL)) {
                        md.append("- `").append(row.rule()).append("` in ").append(cell(c.run())).append(": ")
                                .append(cell(firstLine(c.message()))).append(" ([evidence](").append(link(c.evidence())).append("))\n");
                    }
                }
            }
            md.append('\n');
        }
        return md.toString();
    }

    public static String html(Matrix m) {
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Steal-Time TCK conformance matrix</title>\n<style>\n")
                .append("body{font-family:sans-serif;margin:1.2em;color:#222}table{border-collapse:collapse;font-size:13px}\n")
                .append("th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}\n")
                .append("th.run{font-weight:normal;font-size:12px;max-width:13em}th.run b{font-size:13px}\n")
                .append("td.PASS{background:#c8ecc8}td.FAIL{background:#f4a6a6;font-weight:bold}td.NA{background:#ddd}td.NOTRUN{background:#fff;color:#999}\n")
                .append("td a{color:inherit;text-decoration:none}td a.own{font-size:10px;color:#555;text-decoration:underline}tr.disagree td.rule{border-left:5px solid #d9534f}\n")
                .append("tr.group td{background:#f3f3f3;font-style:italic}.problem{color:#a00}.partial{color:#a60}code{font-size:12px}\n")
                .append("</style></head><body>\n<h1>Steal-Time TCK conformance matrix</h1>\n<p id=\"summary\">")
                .append(m.runs().size()).append(" runs of TCK ").append(esc(m.tckVersion())).append(" (rule catalogue <code>")
                .append(esc(m.catalogue().substring(0, 12))).append("…</code>), ").append(m.rows().size()).append(" rules; <b>")
                .append(m.disagreeing()).append(" rule(s) where the runs disagree</b>, listed first.</p>\n");
        if (!m.problems().isEmpty()) {
            h.append("<h2>Run directories with problems</h2>\n<ul id=\"problems\">\n");
            for (Matrix.Problem p : m.problems()) {
                h.append("<li class=\"").append(p.merged() ? "partial" : "problem").append("\"><code>").append(esc(p.dir())).append("</code>: ")
                        .append(p.merged() ? "merged, " : "<b>NOT MERGED</b>, ").append(esc(p.reason())).append("</li>\n");
            }
            h.append("</ul>\n");
        }
        if (m.report() != null) {
            h.append("<p>Every run's tests in one Allure report: <a id=\"allure\" href=\"").append(esc(link(m.report()))).append("\">")
                    .append(esc(m.report())).append("</a></p>\n");
        } else if (m.reportError() != null) {
            h.append("<p class=\"problem\">The merged Allure report was NOT generated: ").append(esc(m.reportError())).append("</p>\n");
        }
        h.append("<table id=\"matrix\">\n<thead><tr><th>rule</th><th>level</th>");
        for (Matrix.Run r : m.runs()) {
            h.append("<th class=\"run\"><a href=\"").append(esc(link(r.dir() + "/conformance.md"))).append("\"><b>").append(esc(r.name()))
                    .append("</b></a><br>").append(esc(r.provider())).append("<br>").append(esc(r.architecture())).append("<br>kernel ")
                    .append(esc(r.kernel())).append(r.kernelHash() == null ? "" : "<br><code>" + esc(shortHash(r.kernelHash())) + "</code>")
                    .append("<br>host ").append(esc(r.host())).append("<br>").append(r.partial() ? "<span class=\"partial\">INTERRUPTED (partial)</span>" : esc(r.verdict()))
                    .append("</th>");
        }
        h.append("</tr></thead>\n<tbody>\n");
        boolean first = true;
        boolean agreeing = false;
        for (Matrix.Row row : m.rows()) {
            if (first && row.disagree()) {
                h.append("<tr class=\"group\"><td colspan=\"").append(m.runs().size() + 2).append("\">the runs disagree</td></tr>\n");
            }
            if (!row.disagree() && !agreeing) {
                agreeing = true;
                h.append("<tr class=\"group\"><td colspan=\"").append(m.runs().size() + 2).append("\">the runs agree</td></tr>\n");
            }
            first = false;
            h.append("<tr class=\"").append(row.disagree() ? "disagree" : "agree").append("\" data-rule=\"").append(esc(row.rule()))
                    .append("\"><td class=\"rule\" title=\"").append(esc(row.statement())).append("\"><code>").append(esc(row.rule()))
                    .append("</code></td><td>").append(esc(row.level())).append("</td>");
            for (Matrix.Cell c : row.cells()) {
                h.append("<td class=\"").append(cssClass(c.outcome())).append("\" title=\"").append(esc(c.message() == null ? "" : c.message()))
                        .append("\"><a href=\"").append(esc(link(c.evidence()))).append("\">").append(esc(c.outcome())).append("</a>");
                if (c.report() != null && !c.outcome().equals(Matrix.NOT_RUN)) {
                    h.append(" <a class=\"own\" href=\"").append(esc(link(c.report()))).append("\" title=\"the run's own report\">report</a>");
                }
                h.append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</tbody></table>\n</body></html>\n");
        return h.toString();
    }

    private static String cssClass(String outcome) {
        return switch (outcome) {
            case Matrix.PASS -> "PASS";
            case Matrix.FAIL -> "FAIL";
            case Matrix.NOT_APPLICABLE -> "NA";
            default -> "NOTRUN";
        };
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** A relative link with the characters a Markdown or HTML link cannot carry escaped. */
    static String link(String path) {
        StringBuilder sb = new StringBuilder();
        for (char c : path.toCharArray()) {
            if (c == ' ' || c == '(' || c == ')' || c == '#' || c == '?' || c == '%' || c == '"' || c == '<' || c == '>') {
                sb.append(String.format(Locale.ROOT, "%%%02X", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static String shortHash(String h) {
        return h.length() > 16 ? h.substring(0, 16) + "…" : h;
    }

    private static String cell(String s) {
        return ConformanceMarkdown.cell(s == null ? "" : s);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
