package dev.stealtime.tck.runner;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.runner.report.AllureHtml;
import dev.stealtime.tck.runner.report.AllureResultsDir;
import dev.stealtime.tck.runner.report.JunitXml;
import dev.stealtime.tck.runner.report.TckJars;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.runner.adapter.AdapterSources;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.TckConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code tck run}: runs the suites against a provider and writes, under {@code --out DIR}:
 * {@code allure-results/} (cleaned first), {@code report/index.html} (single-file Allure report),
 * {@code conformance.json} and {@code conformance.md}. The summaries are written before the HTML
 * report is generated, so a failing report generation never loses the results.
 */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the conformance suites against a hypervisor provider. Writes into DIR:",
                "  conformance.json, conformance.md  the conformance summary (rule by rule, grouped by level)",
                "  report/index.html                 the Allure HTML report (one file, opens from disk)",
                "  allure-results/                   the raw Allure results (cleaned at the start of each run)",
                "  junit.xml                         a testcase per rule, for CI test reporters (GitLab, Jenkins, GitHub)",
                "  adapter-stderr.log                what an adapter (exec:, unix:, container:) wrote to stderr",
                "--provider also takes an adapter (docs/adapter-protocol.md): exec:COMMAND ARGS..., unix:PATH,",
                "  container:IMAGE[:TAG] (with --device /dev/kvm to pass a device through).",
                "Every setting is also a system property and an environment variable (flag > property > env):",
                "  --provider tck.provider TCK_PROVIDER, --profile tck.profiles TCK_PROFILES,",
                "  --race-budget tck.race.budget TCK_RACE_BUDGET, --timing-multiplier tck.timing.multiplier TCK_TIMING_MULTIPLIER."},
        footer = {"", "Exit codes: 0 every gating (required, linux-abi) rule claimed passed; 1 a gating rule failed;",
                "2 usage or configuration error; 3 internal error. Advisory failures are reported and never gate.",
                "A report that cannot be generated is a one-line message; it does not change the exit code."})
final class RunCommand implements Callable<Integer> {

    static final String ALLURE_RESULTS = "allure-results";
    static final String REPORT = "report";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--provider", paramLabel = "ID", description = "Provider id (default: reference; see 'tck providers'), or an adapter: exec:COMMAND..., unix:PATH, container:IMAGE[:TAG].")
    String provider;

    @Option(names = "--provider-jar", paramLabel = "JAR", description = "Jar with a vendor HypervisorProvider (repeatable).")
    List<Path> jars = new ArrayList<>();

    @Option(names = "--device", paramLabel = "PATH", description = "A host device a container: adapter gets, e.g. /dev/kvm (repeatable; none by default).")
    List<String> devices = new ArrayList<>();

    @Option(names = "--suite", paramLabel = "x86|arm64|all", defaultValue = "all", description = "Which suite(s) to run (default: ${DEFAULT-VALUE}).")
    String suite;

    @Option(names = "--profile", paramLabel = "LEVELS", description = "Comma-separated levels claimed: required,linux-abi,advisory (default: all three).")
    String profiles;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "tck-out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--race-budget", paramLabel = "DURATION", description = "Time budget of each torn-read race, e.g. 500ms, 2s (default: 2s).")
    String raceBudget;

    @Option(names = "--timing-multiplier", paramLabel = "X", description = "Scales workload durations and tolerances on slow machines (default: 1).")
    String timingMultiplier;

    @Option(names = "--no-report", description = "Do not generate the HTML report (allure-results and the summaries are still written).")
    boolean noReport;

    @Option(names = {"-q", "--quiet"}, description = "No progress lines: only the effective configuration, the summary and the output paths.")
    boolean quiet;

    @Option(names = {"-v", "--verbose"}, description = "Also one line per test as it completes, failure and not-applicable messages in full, and every rule in the summary.")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        PrintWriter con = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<Suite> suites = Suite.parse(suite);
        TckConfig config = TckCli.config(provider, profiles, raceBudget, timingMultiplier);
        checkOutDir();
        HypervisorProvider p = AdapterSources.resolve(config.providerId(), out.resolve(AdapterSources.LOG), devices)
                .orElseGet(() -> new ProviderLoader(jars).byId(config.providerId()));
        Path allureResults = out.resolve(ALLURE_RESULTS);
        Path reportDir = out.resolve(REPORT);
        try {
            AllureResultsDir.clean(allureResults);
            AllureHtml.deleteQuietly(reportDir);   // a report left from an earlier run must not pass for this one
        } catch (IOException e) {
            throw new UsageException("cannot clean " + allureResults + ": " + e.getMessage());
        }

        con.printf("Steal-Time TCK %s%n", ConformanceSummary.tckVersion());
        con.printf("  provider               %s — %s (version %s, timing %s)%n", p.id(), p.description(), p.version(), p.timing());
        con.printf("  suites                 %s%n", suites.stream().map(s -> s.cliName).toList());
        for (Map.Entry<String, String> e : config.effective().entrySet()) {
            con.printf("  %-22s %s%n", e.getKey(), e.getValue());
        }
        con.printf("  %-22s %s%n", "output", out.toAbsolutePath());
        Availability a = p.availability();
        if (!a.available()) {
            con.printf("  WARNING: provider '%s' is unavailable here (%s): its tests will be NOT APPLICABLE%n", p.id(), a.reason());
        }
        con.println();
        con.flush();

        ConsoleProgress.Verbosity v = quiet ? ConsoleProgress.Verbosity.QUIET
                : verbose ? ConsoleProgress.Verbosity.VERBOSE : ConsoleProgress.Verbosity.NORMAL;
        List<String> claimed = config.profiles();
        if (v != ConsoleProgress.Verbosity.QUIET) {
            con.printf("%-5s %-4s %-26s %-9s %9s %10s%n", "SUITE", "", "RULE", "LEVEL", "TESTS", "TIME");
        }
        RunResult result = new TckRun(p, config, suites, new ConsoleProgress(con, v, claimed))
                .allureResults(allureResults).execute();

        // The summaries first: whatever happens to the HTML report, the results are on disk.
        ConformanceSummary.ReportInfo pending = new ConformanceSummary.ReportInfo(allureResults.toAbsolutePath().toString(), null, null);
        Map<String, Object> summary = withProviderJars(ConformanceSummary.toMap(result, p, config, suites, pending));
        Path json = ConformanceSummary.write(out, summary);
        Path md = ConformanceSummary.writeMarkdown(out, summary);
        Path junit = JunitXml.write(out, result, p.id());

        String reportError = null;
        Path index = null;
        long reportMillis = 0;
        if (noReport) {
            reportError = "not generated (--no-report)";
        } else {
            long t0 = System.nanoTime();
            try {
                AllureResultsDir.complete(allureResults, allureEnvironment(p, config, suites));
                index = AllureHtml.locate().generate(List.of(allureResults), reportDir,
                        "Steal-Time TCK — " + p.id());
            } catch (AllureHtml.ReportException | IOException | RuntimeException | LinkageError e) {
                reportError = e instanceof AllureHtml.ReportException ? e.getMessage() : oneLine(e);
            }
            reportMillis = (System.nanoTime() - t0) / 1_000_000;
            ConformanceSummary.ReportInfo info = new ConformanceSummary.ReportInfo(allureResults.toAbsolutePath().toString(),
                    index == null ? null : index.toAbsolutePath().toString(), reportError);
            summary = withProviderJars(ConformanceSummary.toMap(result, p, config, suites, info));
            ConformanceSummary.write(out, summary);
            ConformanceSummary.writeMarkdown(out, summary);
        }

        printSummary(con, result, claimed, v);
        con.println();
        if (index != null) {
            con.printf("report             %s  (generated in %.1f s)%n", index.toAbsolutePath(), reportMillis / 1000.0);
        } else if (noReport) {
            con.printf("report             not generated (--no-report)%n");
        } else {
            err.println("tck: HTML report not generated: " + reportError);
            err.flush();
            con.printf("report             NOT generated (%s)%n", reportError);
        }
        con.printf("summary            %s%n", md.toAbsolutePath());
        con.printf("                   %s%n", json.toAbsolutePath());
        con.printf("                   %s%n", junit.toAbsolutePath());
        con.printf("allure results     %s%n", allureResults.toAbsolutePath());
        con.printf("%d passed, %d failed, %d not applicable (rules) in %.1f s: %s%n",
                result.count(Outcome.PASS), result.count(Outcome.FAIL), result.count(Outcome.NOT_APPLICABLE),
                result.elapsed().toMillis() / 1000.0, result.conforms() ? "CONFORMS" : "DOES NOT CONFORM");
        con.flush();
        return result.conforms() ? TckCli.CONFORMS : TckCli.GATING_FAILURE;
    }

    /** The vendor jars given with --provider-jar, with their SHA-256, into the summary's provider entry. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> withProviderJars(Map<String, Object> summary) throws IOException {
        if (!jars.isEmpty()) {
            List<Map<String, Object>> list = new ArrayList<>();
            for (Path jar : jars) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("path", jar.toAbsolutePath().toString());
                m.put("sha256", TckJars.sha256(jar));
                list.add(m);
            }
            ((Map<String, Object>) summary.get("provider")).put("jars", list);
        }
        return summary;
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage();
        String s = e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m.strip());
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private void checkOutDir() {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new UsageException("--out " + out + " exists and is not a directory");
        }
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UsageException("cannot create --out directory " + out + ": " + e.getMessage());
        }
        if (!Files.isWritable(out)) {
            throw new UsageException("--out directory " + out + " is not writable");
        }
    }

    /** The report's Environment table. */
    static Map<String, String> allureEnvironment(HypervisorProvider p, TckConfig config, List<Suite> suites) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("TCK version", ConformanceSummary.tckVersion());
        env.put("Provider", p.id() + " — " + p.description());
        env.put("Provider version", p.version());
        env.put("Provider timing", String.valueOf(p.timing()));
        env.put("Suites", String.join(", ", suites.stream().map(s -> s.cliName).toList()));
        for (Map.Entry<String, String> e : config.effective().entrySet()) {
            env.put(e.getKey(), e.getValue());
        }
        Map<String, Object> machine = ConformanceSummary.environment();
        env.put("JDK", String.valueOf(machine.get("jdk")));
        env.put("JVM", String.valueOf(machine.get("jvm")));
        env.put("OS", String.valueOf(machine.get("os")));
        env.put("Kernel", String.valueOf(machine.get("kernel")));
        return env;
    }

    /** The table at the end: counts per level, then the rules that need attention (every rule with -v). */
    static void printSummary(PrintWriter con, RunResult result, List<String> profiles, ConsoleProgress.Verbosity v) {
        con.println();
        con.printf("%-12s %-13s %5s %5s %5s%n", "LEVEL", "", "PASS", "FAIL", "N/A");
        for (Level level : Level.values()) {
            List<RuleResult> rs = result.rules().stream().filter(r -> r.rule().level() == level).toList();
            if (rs.isEmpty()) {
                continue;
            }
            con.printf("%-12s %-13s %5d %5d %5d%n", level,
                    TckRun.gates(level, profiles) ? "(gating)" : level.gating() ? "(not claimed)" : "(never gates)",
                    rs.stream().filter(r -> r.outcome() == Outcome.PASS).count(),
                    rs.stream().filter(r -> r.outcome() == Outcome.FAIL).count(),
                    rs.stream().filter(r -> r.outcome() == Outcome.NOT_APPLICABLE).count());
        }
        con.printf("%-12s %-13s %5d %5d %5d   (%d test results)%n", "all", "", result.count(Outcome.PASS),
                result.count(Outcome.FAIL), result.count(Outcome.NOT_APPLICABLE), result.tests().size());

        List<RuleResult> listed = result.rules().stream()
                .filter(r -> v == ConsoleProgress.Verbosity.VERBOSE || r.outcome() != Outcome.PASS).toList();
        if (listed.isEmpty()) {
            return;
        }
        con.println();
        for (Level level : Level.values()) {
            List<RuleResult> rs = listed.stream().filter(r -> r.rule().level() == level).toList();
            if (rs.isEmpty()) {
                continue;
            }
            con.printf("%s%n", level);
            for (RuleResult r : rs) {
                con.printf("  %-4s %-26s %3d test(s) %s%n", ConsoleProgress.mark(r.outcome()), r.rule().id(), r.tests().size(),
                        r.message().isEmpty() ? "" : (v == ConsoleProgress.Verbosity.VERBOSE ? r.message() : TckRun.firstLine(r.message())));
            }
        }
    }
}
