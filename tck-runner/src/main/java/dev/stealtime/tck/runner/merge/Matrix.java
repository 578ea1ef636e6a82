package dev.stealtime.tck.runner.merge;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.stealtime.tck.runner.result.RunSummary;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The conformance matrix of many runs ({@code matrix.json}; {@code matrix.md} and {@code matrix.html}
 * are rendered from it): rules down, runs across, each cell the rule's outcome in that run with a
 * link to its evidence. Rows where the runs disagree come first.
 *
 * @param schemaVersion {@link #SCHEMA_VERSION}
 * @param runs          the merged runs, in the order given, with their parameters
 * @param problems      run directories that were not merged, or merged only in part, with the reason
 * @param rows          one per rule: disagreeing rows first, each group in catalogue order
 * @param report        the merged Allure report (relative to the matrix), or null
 * @param reportError   why the merged report was not generated, or null
 */
public record Matrix(int schemaVersion, String tckVersion, String catalogue, List<Run> runs, List<Problem> problems,
                     List<Row> rows, String report, String reportError) {

    public static final int SCHEMA_VERSION = 1;

    /** Cell outcomes as the matrix writes them. */
    public static final String PASS = "PASS";
    public static final String FAIL = "FAIL";
    public static final String NOT_APPLICABLE = "NOT APPLICABLE";
    public static final String NOT_RUN = "NOT RUN";

    /**
     * A merged run and the parameters it is labelled with everywhere (matrix header, Allure labels).
     *
     * @param name         column name: the run directory's name, made unique
     * @param dir          the run directory, relative to the matrix
     * @param architecture the suites that ran: {@code x86}, {@code arm64}, or {@code x86+arm64}
     * @param kernel       the kernel under test: the provider machine's kernel release, else the host's {@code uname -r}
     * @param kernelHash   the kernel image's hash from the provider's machine description, or null
     * @param machine      the provider's whole machine description
     * @param partial      the run was interrupted: rules not reached are NOT RUN
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Run(String name, String dir, String provider, String architecture, String kernel, String kernelHash,
                      String host, String verdict, boolean partial, Map<String, String> machine) {

        /** The parameters as label name to value, in display order (no null values). */
        public Map<String, String> parameters() {
            Map<String, String> p = new LinkedHashMap<>();
            p.put("run", name);
            p.put("provider", provider);
            p.put("architecture", architecture);
            p.put("kernel", kernel);
            if (kernelHash != null) {
                p.put("kernel hash", kernelHash);
            }
            p.put("host", host);
            return p;
        }
    }

    /** A run directory that is damaged, partial or unreadable, and what was done with it. */
    public record Problem(String dir, boolean merged, String reason) {
    }

    /**
     * @param disagree the runs that ran the rule do not all have the same outcome
     */
    public record Row(String rule, String suite, String level, String statement, boolean disagree, List<Cell> cells) {
    }

    /**
     * @param evidence the run's conformance.md (relative to the matrix), where the rule's outcome and
     *                 every failing test's whole message are
     * @param report   the run's own HTML report, when it has one
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Cell(String run, String outcome, String message, String evidence, String report) {
    }

    /** A cell's outcome from a summary's rule outcome. */
    static String cellOutcome(String ruleOutcome) {
        return switch (ruleOutcome) {
            case "PASS" -> PASS;
            case "FAIL" -> FAIL;
            case "NOT_APPLICABLE" -> NOT_APPLICABLE;
            default -> NOT_RUN;
        };
    }

    /** Builds the rows from the runs' summaries (all of one catalogue): the rules in the order first met. */
    public static List<Row> rows(List<Run> runs, List<RunSummary> summaries, List<String> evidence, List<String> reports) {
        Map<String, RunSummary.RuleEntry> rules = new LinkedHashMap<>();
        for (RunSummary s : summaries) {
            s.rules().forEach(r -> rules.putIfAbsent(r.id(), r));
        }
        List<Row> disagree = new ArrayList<>();
        List<Row> agree = new ArrayList<>();
        for (RunSummary.RuleEntry rule : rules.values()) {
            List<Cell> cells = new ArrayList<>();
            Set<String> seen = new LinkedHashSet<>();
            for (int i = 0; i < runs.size(); i++) {
                RunSummary.RuleEntry e = summaries.get(i).rules().stream().filter(r -> r.id().equals(rule.id())).findFirst().orElse(null);
                String outcome = e == null ? NOT_RUN : cellOutcome(e.outcome());
                String message = e == null ? "suite " + rule.suite() + " was not run" : e.message();
                if (!outcome.equals(NOT_RUN)) {
                    seen.add(outcome);
                }
                cells.add(new Cell(runs.get(i).name(), outcome, message, evidence.get(i), reports.get(i)));
            }
            Row row = new Row(rule.id(), rule.suite(), rule.level(), rule.statement(), seen.size() > 1, cells);
            (row.disagree() ? disagree : agree).add(row);
        }
        List<Row> all = new ArrayList<>(disagree);
        all.addAll(agree);
        return all;
    }

    public long disagreeing() {
        return rows.stream().filter(Row::disagree).count();
    }
}
