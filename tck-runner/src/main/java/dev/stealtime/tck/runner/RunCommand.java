package dev.stealtime.tck.runner;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.spi.Availability;
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
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code tck run}: runs the suites against a provider and writes the results. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the conformance suites against a hypervisor provider and write DIR/conformance.json.",
                "Every setting is also a system property and an environment variable (flag > property > env):",
                "  --provider tck.provider TCK_PROVIDER, --profile tck.profiles TCK_PROFILES,",
                "  --race-budget tck.race.budget TCK_RACE_BUDGET, --timing-multiplier tck.timing.multiplier TCK_TIMING_MULTIPLIER."},
        footer = {"", "Exit codes: 0 every gating (required, linux-abi) rule claimed passed; 1 a gating rule failed;",
                "2 usage or configuration error; 3 internal error. Advisory failures are reported and never gate."})
final class RunCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--provider", paramLabel = "ID", description = "Provider id (default: reference; see 'tck providers').")
    String provider;

    @Option(names = "--provider-jar", paramLabel = "JAR", description = "Jar with a vendor HypervisorProvider (repeatable).")
    List<Path> jars = new ArrayList<>();

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

    @Option(names = {"-q", "--quiet"}, description = "Print only the summary.")
    boolean quiet;

    @Option(names = {"-v", "--verbose"}, description = "Print every failure and not-applicable reason in full.")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        PrintWriter con = spec.commandLine().getOut();
        List<Suite> suites = Suite.parse(suite);
        TckConfig config = TckCli.config(provider, profiles, raceBudget, timingMultiplier);
        HypervisorProvider p = new ProviderLoader(jars).byId(config.providerId());
        checkOutDir();

        con.printf("Steal-Time TCK %s%n", ConformanceSummary.tckVersion());
        con.printf("  provider           %s — %s (version %s, timing %s)%n", p.id(), p.description(), p.version(), p.timing());
        con.printf("  suites             %s%n", suites.stream().map(s -> s.cliName).toList());
        for (Map.Entry<String, String> e : config.effective().entrySet()) {
            con.printf("  %-18s %s%n", e.getKey(), e.getValue());
        }
        Availability a = p.availability();
        if (!a.available()) {
            con.printf("  WARNING: provider '%s' is unavailable here (%s): its tests will be NOT APPLICABLE%n", p.id(), a.reason());
        }
        con.println();
        con.flush();

        ConsoleProgress.Verbosity v = quiet ? ConsoleProgress.Verbosity.QUIET
                : verbose ? ConsoleProgress.Verbosity.VERBOSE : ConsoleProgress.Verbosity.NORMAL;
        RunResult result = new TckRun(p, config, suites, new ConsoleProgress(con, v)).execute();
        Path json = ConformanceSummary.write(out, result, p, config, suites);

        printSummary(con, result, config.profiles());
        con.printf("%nconformance summary: %s%n", json.toAbsolutePath());
        con.printf("%d passed, %d failed, %d not applicable (rules) in %.1f s: %s%n",
                result.count(Outcome.PASS), result.count(Outcome.FAIL), result.count(Outcome.NOT_APPLICABLE),
                result.elapsed().toMillis() / 1000.0, result.conforms() ? "CONFORMS" : "DOES NOT CONFORM");
        return result.conforms() ? TckCli.CONFORMS : TckCli.GATING_FAILURE;
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

    private static void printSummary(PrintWriter con, RunResult result, List<String> profiles) {
        con.println();
        for (Level level : Level.values()) {
            List<RuleResult> rs = result.rules().stream().filter(r -> r.rule().level() == level).toList();
            if (rs.isEmpty()) {
                continue;
            }
            con.printf("%s%s%n", level, TckRun.gates(level, profiles) ? " (gating)" : level.gating() ? " (not claimed)" : " (never gates)");
            for (RuleResult r : rs) {
                con.printf("  %-15s %-26s %3d test(s) %s%n", r.outcome(), r.rule().id(), r.tests().size(),
                        r.message().isEmpty() ? "" : TckRun.firstLine(r.message()));
            }
        }
    }
}
