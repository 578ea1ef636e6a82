package dev.stealtime.tck.runner.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.stealtime.tck.runner.exit.ExitCodes;
import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.runner.host.Leftovers;
import dev.stealtime.tck.runner.host.OutDir;
import dev.stealtime.tck.runner.merge.Matrix;
import dev.stealtime.tck.runner.merge.MatrixRender;
import dev.stealtime.tck.runner.merge.MergedAllure;
import dev.stealtime.tck.runner.merge.RunDir;
import dev.stealtime.tck.runner.result.AllureHtml;
import dev.stealtime.tck.runner.result.AllureResultsDir;
import dev.stealtime.tck.runner.result.RunSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code tck merge DIR... --out M}: the conformance matrix of many runs (any mix of providers,
 * kernels, suites and machines), from the summaries each run wrote ({@link RunSummary}, read back),
 * and one Allure report holding every run's tests labelled with the run's parameters.
 */
@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Merge the outputs of many 'tck run --out DIR' runs into one conformance matrix: rules down, runs",
                "across, each cell PASS / FAIL / NOT APPLICABLE / NOT RUN linking to the run's evidence. Rows where the",
                "runs disagree come first. Writes into M:",
                "  matrix.md, matrix.json, matrix.html  the matrix (matrix.html opens from disk)",
                "  report/index.html                    one Allure report holding every run's tests, each labelled with",
                "                                       its run's parameters (run, provider, architecture, kernel, host)",
                "Runs of different TCK versions or rule catalogues are refused (exit 2): they are not comparable.",
                "A damaged run directory (no or unreadable conformance.json) is listed as NOT MERGED, a partial one",
                "(interrupted, Allure results missing) as merged with the gap named; neither is dropped silently.",
                "M must be new, empty, or written by an earlier merge or run (marker " + OutDir.MARKER + ")."},
        footer = {"", "Exit codes:",
                "  0  every run directory merged",
                "  1  the matrix is written, but some run directories are damaged or partial (listed in it and on stderr)",
                "  2  usage error, no readable run, or runs of different TCK versions or catalogues (one line on stderr)"})
public final class MergeCommand implements Callable<Integer> {

    public static final String MATRIX_MD = "matrix.md";
    public static final String MATRIX_JSON = "matrix.json";
    public static final String MATRIX_HTML = "matrix.html";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "DIR", description = "Run directories written by 'tck run --out DIR'.")
    List<Path> dirs = new ArrayList<>();

    @Option(names = "--out", paramLabel = "M", required = true, description = "Where the matrix and the merged report go.")
    Path out;

    @Option(names = "--no-report", description = "Do not generate the merged Allure HTML report.")
    boolean noReport;

    @Override
    public Integer call() throws IOException {
        PrintWriter con = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path outAbs = out.toAbsolutePath().normalize();
        Set<Path> seen = new HashSet<>();
        for (Path d : dirs) {
            Path abs = d.toAbsolutePath().normalize();
            if (!Files.exists(abs)) {
                throw new UsageException("run directory " + d + " does not exist");
            }
            if (!Files.isDirectory(abs)) {
                throw new UsageException("run directory " + d + " is not a directory");
            }
            if (abs.equals(outAbs)) {
                throw new UsageException("--out " + out + " is also given as a run directory: the matrix needs a directory of its own");
            }
            if (!seen.add(abs)) {
                throw new UsageException("run directory " + d + " is given twice");
            }
        }
        List<RunDir> read = dirs.stream().map(d -> RunDir.read(d.toAbsolutePath().normalize())).toList();
        List<RunDir> good = read.stream().filter(r -> r.summary() != null).toList();
        if (good.isEmpty()) {
            throw new UsageException("nothing to merge: " + read.stream().map(r -> r.dir() + ": " + r.problems().get(0))
                    .collect(Collectors.joining("; ")));
        }
        refuseIncomparable(good);

        OutDir m = OutDir.claim(out);
        Path base = m.path().toAbsolutePath().normalize();
        for (String f : List.of(MATRIX_MD, MATRIX_JSON, MATRIX_HTML)) {
            Files.deleteIfExists(base.resolve(f));
        }
        Files.deleteIfExists(m.report().resolve("index.html"));

        List<Matrix.Run> runs = new ArrayList<>();
        List<RunSummary> summaries = new ArrayList<>();
        List<String> evidence = new ArrayList<>();
        List<String> reports = new ArrayList<>();
        Map<String, Integer> names = new LinkedHashMap<>();
        for (RunDir r : good) {
            String rel = base.relativize(r.dir()).toString().replace('\\', '/');
            String name = unique(r.dir().getFileName().toString(), names);
            runs.add(r.run(name, rel));
            summaries.add(r.summary());
            evidence.add(rel + "/" + OutDir.JSON.replace(".json", ".md"));
            reports.add(Files.isRegularFile(r.dir().resolve(OutDir.REPORT).resolve("index.html")) ? rel + "/" + OutDir.REPORT + "/index.html" : null);
        }
        List<Matrix.Problem> problems = new ArrayList<>();
        for (RunDir r : read) {
            String rel = base.relativize(r.dir()).toString().replace('\\', '/');
            r.problems().forEach(p -> problems.add(new Matrix.Problem(rel, r.summary() != null, p)));
        }
        RunSummary first = good.get(0).summary();
        List<Matrix.Row> rows = Matrix.rows(runs, summaries, evidence, reports);

        String report = null;
        String reportError = null;
        if (noReport) {
            reportError = "not generated (--no-report)";
        } else {
            try {
                report = mergedReport(m, good, runs);
            } catch (AllureHtml.ReportException e) {
                reportError = e.getMessage();
            }
        }
        Matrix matrix = new Matrix(Matrix.SCHEMA_VERSION, first.tck().version(), first.tck().catalogue(), runs, problems, rows, report, reportError);
        m.write(MATRIX_JSON, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(matrix) + "\n");
        m.write(MATRIX_MD, MatrixRender.markdown(matrix));
        Path html = base.resolve(MATRIX_HTML);
        m.write(MATRIX_HTML, MatrixRender.html(matrix));

        con.printf("merged %d run(s) of TCK %s: %d rules, %d where the runs disagree%n", runs.size(), matrix.tckVersion(),
                rows.size(), matrix.disagreeing());
        for (Matrix.Row row : rows.stream().filter(Matrix.Row::disagree).toList()) {
            con.printf("  ≠ %-26s %s%n", row.rule(), row.cells().stream().map(c -> c.run() + "=" + c.outcome()).collect(Collectors.joining(", ")));
        }
        con.printf("matrix             %s%n", html);
        con.printf("                   %s%n", base.resolve(MATRIX_MD));
        con.printf("                   %s%n", base.resolve(MATRIX_JSON));
        if (report != null) {
            con.printf("report             %s%n", base.resolve(report));
        } else {
            con.printf("report             NOT generated (%s)%n", reportError);
            if (!noReport) {
                err.println("tck: merged HTML report not generated: " + reportError);
            }
        }
        for (Matrix.Problem p : problems) {
            err.printf("tck: %s: %s%s%n", p.dir(), p.merged() ? "merged, " : "NOT MERGED, ", p.reason());
        }
        con.flush();
        err.flush();
        return problems.isEmpty() ? ExitCodes.CONFORMS : ExitCodes.GATING_FAILURE;
    }

    /** Runs of different TCK versions or catalogues do not grade against the same rules: refused, with both sides named. */
    static void refuseIncomparable(List<RunDir> good) {
        RunDir a = good.get(0);
        for (RunDir b : good) {
            if (!b.summary().tck().version().equals(a.summary().tck().version())) {
                throw new UsageException("refused: runs of different TCK versions are not comparable: " + a.dir() + " is TCK "
                        + a.summary().tck().version() + ", " + b.dir() + " is TCK " + b.summary().tck().version());
            }
            if (!b.summary().tck().catalogue().equals(a.summary().tck().catalogue())) {
                throw new UsageException("refused: runs graded against different rule catalogues are not comparable: " + a.dir()
                        + " has catalogue " + a.summary().tck().catalogue().substring(0, 12) + "…, " + b.dir() + " has "
                        + b.summary().tck().catalogue().substring(0, 12) + "…");
            }
        }
    }

    private static String unique(String name, Map<String, Integer> names) {
        int n = names.merge(name, 1, Integer::sum);
        return n == 1 ? name : name + " (" + n + ")";
    }

    /** Every run's Allure results, labelled, in a private staging directory; then one single-file report. */
    private static String mergedReport(OutDir m, List<RunDir> good, List<Matrix.Run> runs) throws AllureHtml.ReportException, IOException {
        Path results = Leftovers.create(() -> Files.createTempDirectory("tck-allure-merge",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))));
        try {
            int n = 0;
            for (int i = 0; i < good.size(); i++) {
                n += MergedAllure.add(good.get(i).dir(), runs.get(i), results);
            }
            if (n == 0) {
                throw new AllureHtml.ReportException("no run has Allure results");
            }
            AllureResultsDir.complete(results, MergedAllure.environment(runs));
            Path staging = m.reportStaging();
            try {
                String name = "Steal-Time TCK — " + runs.size() + " runs merged";
                AllureHtml.locate().generate(List.of(results), staging, name);
                Files.createDirectories(m.report());
                Files.move(staging.resolve("index.html"), m.report().resolve("index.html"), StandardCopyOption.REPLACE_EXISTING);
                return OutDir.REPORT + "/index.html";
            } finally {
                Leftovers.deleteQuietly(staging);
                Leftovers.untrack(staging);
            }
        } finally {
            Leftovers.deleteQuietly(results);
            Leftovers.untrack(results);
        }
    }
}
