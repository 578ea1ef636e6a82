package dev.stealtime.tck.runner.replay;

import java.util.List;
import java.util.stream.Collectors;

/** The Markdown table of a set of replays, with the totals for the TCK and for the selftest. */
public final class ReplayTable {

    private ReplayTable() {
    }

    public static String markdown(List<Replay.Result> results, long wallMillis) {
        StringBuilder b = new StringBuilder();
        b.append("| replay | arch | kind | what it breaks (the fix it undoes) | build | TCK verdict | failing rules | named rule among them | selftest steal_time |\n");
        b.append("|---|---|---|---|---|---|---|---|---|\n");
        for (Replay.Result r : results) {
            KernelPatch p = r.patch();
            List<String> subjects = p.subjects();
            String commits = subjects.isEmpty() ? "" : subjects.size() == 1 ? "\"" + subjects.get(0) + "\""
                    : java.util.stream.IntStream.range(0, subjects.size())
                    .mapToObj(k -> (k + 1) + "/" + subjects.size() + " \"" + subjects.get(k) + "\"").collect(Collectors.joining("; "));
            String what = (commits.isEmpty() ? "" : commits + (p.breaks().isEmpty() ? "" : " — ")) + p.breaks()
                    + (p.fix().isEmpty() ? "" : " (" + p.fix() + ")")
                    + (p.racy().isEmpty() ? "" : " — racy: " + p.racy())
                    + (p.equivalent().isEmpty() ? "" : " — equivalent: " + p.equivalent());
            String failing = r.failing().isEmpty() && r.failingAdvisory().isEmpty() ? "—"
                    : String.join(", ", counted(r, r.failing()))
                    + (r.failingAdvisory().isEmpty() ? "" : (r.failing().isEmpty() ? "" : "; ") + "advisory: "
                    + String.join(", ", counted(r, r.failingAdvisory())));
            Boolean named = r.namedRuleCaught();
            String namedCell = named != null ? (named ? "yes" : "**no**") + " (" + String.join(", ", p.namedRules()) + ")"
                    : p.rules().isEmpty() ? "—" : cell(p.rules().get(0), 200);
            String st = r.selftest() == null ? "not run" : r.selftest().outcome()
                    + (r.selftest().detail().isEmpty() ? "" : ": " + cell(r.selftest().detail(), 120));
            String verdict = r.built() ? r.verdict() : "NOT BUILT: " + cell(r.buildError(), 100);
            b.append("| `").append(p.name()).append("` | ").append(p.arch()).append(" | ").append(p.kind()).append(" | ")
                    .append(cell(what, 400)).append(" | ").append(cell(r.buildCell(), 300)).append(" | ").append(verdict).append(" | ").append(failing).append(" | ")
                    .append(namedCell).append(" | ").append(st).append(" |\n");
        }
        b.append('\n').append(totals(results, wallMillis)).append('\n');
        return b.toString();
    }

    public static String totals(List<Replay.Result> results, long wallMillis) {
        List<Replay.Result> defects = results.stream()
                .filter(r -> r.built() && !r.patch().isStock() && r.patch().equivalent().isEmpty() && !r.patch().kind().equals("fairness"))
                .toList();
        long tck = defects.stream().filter(Replay.Result::killed).count();
        long notTested = defects.stream().filter(r -> r.verdict().equals("NOT TESTED")).count();
        long tckGate = defects.stream().filter(r -> !r.failing().isEmpty()).count();
        List<Replay.Result> named = defects.stream().filter(r -> r.namedRuleCaught() != null).toList();
        long namedOk = named.stream().filter(r -> r.namedRuleCaught()).count();
        long st = defects.stream().filter(r -> r.selftest() != null && r.selftest().outcome().equals("FAIL")).count();
        long stRun = defects.stream().filter(r -> r.selftest() != null && !r.selftest().outcome().equals("ERROR")).count();
        String stock = results.stream().filter(r -> r.patch().isStock())
                .map(r -> r.patch().arch() + ": " + r.verdict() + ", selftest " + (r.selftest() == null ? "not run" : r.selftest().outcome()))
                .collect(Collectors.joining("; "));
        return "**Totals** over " + defects.size() + " defective kernels (equivalent mutants and fairness cases left out): "
                + "the TCK fails " + tck + " (" + tckGate + " with a gating rule)"
                + (notTested == 0 ? "" : " and does not test " + notTested + " (the kernel stopped offering steal time: NOT TESTED, no certificate)")
                + "; the rule the header names is among the failing ones in "
                + namedOk + " of " + named.size() + "; the selftest fails " + st + " (of " + stRun + " it ran on). Stock: "
                + (stock.isEmpty() ? "not replayed" : stock) + ". Wall time " + (wallMillis / 1000) + " s.";
    }

    /** The rule ids, each with "k/N" (runs in which it failed) when the suite ran N > 1 times. */
    private static List<String> counted(Replay.Result r, List<String> ids) {
        return r.repeats() == 1 ? ids : ids.stream().map(id -> id + " " + r.failCounts().getOrDefault(id, 0) + "/" + r.repeats()).toList();
    }

    private static String cell(String s, int max) {
        String t = s == null ? "" : s.replace("|", "\\|").replace("\n", " ");
        return t.length() > max ? t.substring(0, max) + "…" : t;
    }
}
