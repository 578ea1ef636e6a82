package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.runner.adapter.AdapterSources;
import dev.stealtime.tck.runner.exit.ExitCodes;
import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.runner.host.Leftovers;
import dev.stealtime.tck.runner.host.OutDir;
import dev.stealtime.tck.runner.providers.Configurable;
import dev.stealtime.tck.runner.providers.ProviderSources;
import dev.stealtime.tck.runner.result.AllureHtml;
import dev.stealtime.tck.runner.result.AllureResultsDir;
import dev.stealtime.tck.runner.result.JunitXml;
import dev.stealtime.tck.runner.result.Ktap;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RuleResult;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.RunSummary;
import dev.stealtime.tck.runner.result.Verdict;
import dev.stealtime.tck.runner.run.ConformanceSummary;
import dev.stealtime.tck.runner.run.ConsoleProgress;
import dev.stealtime.tck.runner.run.RuleSelection;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.ProviderGuard;
import dev.stealtime.tck.support.TckConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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
                "  allure-results/                   the raw Allure results (history/ kept for the report's Trend)",
                "DIR must be new, empty, or written by an earlier run (marker " + OutDir.MARKER + "); the TCK",
                "deletes only its own files there.",
                "  junit.xml                         a testcase per rule, for CI test reporters (GitLab, Jenkins, GitHub)",
                "  results.ktap                      a subtest per rule in KTAP, the kernel's test-result format (kselftest, KernelCI)",
                "  adapter-stderr.log                what an adapter (exec:, unix:, container:) wrote to stderr",
                "--provider also takes an adapter (docs/adapter-protocol.md): exec:COMMAND ARGS..., unix:PATH,",
                "  container:IMAGE[:TAG] (with --device /dev/kvm to pass a device through).",
                "Every setting is also a system property and an environment variable (flag > property > env):",
                "  --provider           tck.provider           TCK_PROVIDER",
                "  --profile            tck.profiles           TCK_PROFILES",
                "  --race-budget        tck.race.budget        TCK_RACE_BUDGET",
                "  --timing-multiplier  tck.timing.multiplier  TCK_TIMING_MULTIPLIER",
                "  --call-timeout       tck.call.timeout       TCK_CALL_TIMEOUT",
                "  --prepare-timeout    tck.prepare.timeout    TCK_PREPARE_TIMEOUT",
                "  --kernel             tck.kernel             TCK_KERNEL",
                "  --kvm-modules        tck.kvm.modules        TCK_KVM_MODULES",
                "  --accel              tck.accel              TCK_ACCEL",
                "  --qemu-kvm           tck.qemu.kvm           TCK_QEMU_KVM",
                "  --rule               tck.rules              TCK_RULES   (comma-separated)"},
        footer = {"", "Verdicts and exit codes:",
                "  0   CONFORMS          every claimed gating (required, linux-abi) rule passed or is not",
                "                        applicable, and at least one was tested",
                "  1   DOES NOT CONFORM  a claimed gating rule failed (advisory failures never gate)",
                "  2   usage or configuration error (one line on stderr)",
                "  3   internal error of the TCK itself",
                "  4   NOT TESTED        nothing failed, but no claimed gating rule could be tested (provider",
                "                        unavailable, or every such rule NOT APPLICABLE): no verdict",
                "  5   PARTIAL           only the rules selected by --rule ran, and none of them failed: a",
                "                        developer's check of one behaviour, never a verdict on conformance",
                "  130 INTERRUPTED       Ctrl-C or SIGTERM: the summary says INTERRUPTED, with partial results",
                "A report that cannot be generated is a one-line message; it does not change the exit code."})
public final class RunCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--provider", paramLabel = "ID", description = "Provider id (default: reference, or the one provider of --provider-jar; see 'tck providers'), or an adapter: exec:COMMAND..., unix:PATH, container:IMAGE[:TAG].")
    String provider;

    @Option(names = "--provider-jar", paramLabel = "JAR", description = "Jar with a vendor HypervisorProvider (repeatable). With one provider in it, that one is tested.")
    List<Path> jars = new ArrayList<>();

    @Option(names = "--device", paramLabel = "PATH", description = "A host device a container: adapter gets, e.g. /dev/kvm (repeatable; none by default).")
    List<String> devices = new ArrayList<>();

    @Option(names = "--suite", paramLabel = "x86|arm64|all", defaultValue = "all", description = "Which suite(s) to run (default: ${DEFAULT-VALUE}).")
    String suite;

    @Option(names = "--profile", paramLabel = "LEVELS", description = "Comma-separated levels claimed: required,linux-abi,advisory (default: all three).")
    String profiles;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "tck-out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--race-budget", paramLabel = "DURATION", description = "Time budget of each torn-read race, e.g. 500ms, 2s; a bare number is milliseconds (default: 2s). A race ends early once it has raced 50,000 updates with its minimums met, and runs past the budget until they are.")
    String raceBudget;

    @Option(names = "--timing-multiplier", paramLabel = "X", description = "Scales workload durations, tolerances and the call timeout on slow machines (default: 1).")
    String timingMultiplier;

    @Option(names = "--call-timeout", paramLabel = "DURATION", description = "Time limit of each provider call, scaled by the timing multiplier, plus the call's own workload duration (default: 10s).")
    String callTimeout;

    @Option(names = "--prepare-timeout", paramLabel = "DURATION", description = "Time limit of the provider's one-time preparation: downloads, builds, booting an emulated machine (default: 20m).")
    String prepareTimeout;

    @Option(names = "--kernel", paramLabel = "IMAGE", description = "The kernel under test: a bzImage (x86) or Image (arm64) the emulated-machine providers (kvm-arm64, kvm-x86-emulated) boot instead of Debian's cloud kernel.")
    String kernel;

    @Option(names = "--kvm-modules", paramLabel = "DIR", description = "x86 (kvm-x86-emulated): a directory of KVM modules (irqbypass.ko, kvm.ko, kvm-amd.ko, kvm-intel.ko) loaded instead of the kernel's own.")
    String kvmModules;

    @Option(names = "--accel", paramLabel = "auto|kvm|tcg", description = "How the emulated-machine providers run their machine's CPUs: auto (the host's KVM only where it can nest, else TCG; a QEMU that fails with KVM is retried with TCG), kvm or tcg (forced; an impossible choice is refused). Default: auto.")
    String accel;

    @Option(names = "--qemu-kvm", paramLabel = "auto|host|emulated", description = "Which KVM the qemu provider's QEMU runs on: auto (this host's /dev/kvm where usable, else the KVM inside an emulated machine that QEMU under TCG boots), host or emulated. Default: auto.")
    String qemuKvm;

    @Option(names = "--rule", paramLabel = "RULE", description = "Run only this rule's tests (repeatable): an id (X86-ENABLE), a glob (ARM-EINVAL-*) or an area (Alignment, 'Version protocol'). The other rules are NOT RUN and the verdict is PARTIAL (exit 5) unless a selected rule fails.")
    List<String> rules = new ArrayList<>();

    @Option(names = "--no-report", description = "Do not generate the HTML report (allure-results and the summaries are still written).")
    boolean noReport;

    @Option(names = {"-q", "--quiet"}, description = "No progress lines: only the effective configuration, the summary and the output paths.")
    boolean quiet;

    @Option(names = {"-v", "--verbose"}, description = "Also one line per test as it completes, failure and not-applicable messages in full, and every rule in the summary.")
    boolean verbose;

    /** Guards the summaries: the shutdown hook and the run never both write them. */
    private final Object summaryLock = new Object();
    private boolean finished;
    private boolean interrupted;

    @Override
    public Integer call() throws IOException {
        PrintWriter con = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (quiet && verbose) {
            throw new UsageException("-q/--quiet and -v/--verbose contradict each other: give one of them");
        }
        List<Suite> asked = Suite.parse(suite);
        TckConfig config = RunCommand.config(provider, profiles, raceBudget, timingMultiplier).with(TckConfig.Key.CALL_TIMEOUT, callTimeout)
                .with(TckConfig.Key.PREPARE_TIMEOUT, prepareTimeout)
                .with(TckConfig.Key.KERNEL, kernel).with(TckConfig.Key.KVM_MODULES, kvmModules).with(TckConfig.Key.ACCEL, accel)
                .with(TckConfig.Key.QEMU_KVM, qemuKvm)
                .with(TckConfig.Key.RULES, rules.isEmpty() ? null : String.join(",", rules)).validate();
        RuleSelection selection = RuleSelection.parse(config.rulePatterns(), asked);
        List<Suite> suites = selection.narrow(asked);
        ProviderSources.Resolved origin;
        OutDir dir;
        if (AdapterSources.isAdapter(config.providerId())) {
            // an adapter starts now and logs its stderr into DIR: the directory is taken first
            dir = OutDir.claim(out);
            dir.clearPrevious();
            HypervisorProvider adapter = AdapterSources.resolve(config.providerId(), dir.path().resolve(OutDir.ADAPTER_LOG), devices)
                    .orElseThrow();
            origin = new ProviderSources.Resolved(adapter, "adapter " + config.providerId(), null);
        } else {
            origin = new ProviderSources(jars).resolve(config);
            dir = OutDir.claim(out);
            dir.clearPrevious();
        }
        configure(origin.provider(), config);
        HypervisorProvider p = ProviderGuard.wrap(origin.provider(), config);
        Path allureResults = dir.allureResults();

        if (ProviderGuard.prepares(p)) {
            // downloads, builds, boots: once, before the provider is asked whether it is available
            con.printf("Steal-Time TCK %s: preparing provider '%s' (first use may download and build; bounded by %s %s)...%n",
                    ConformanceSummary.tckVersion(), p.id(), TckConfig.Key.PREPARE_TIMEOUT.property, TckConfig.format(config.prepareTimeout()));
            con.flush();
            long t0 = System.nanoTime();
            Availability prepared = p.availability();
            con.printf("  prepared in %.1f s%s%n", (System.nanoTime() - t0) / 1e9, prepared.available() ? "" : " (unavailable: see below)");
        }
        con.printf("Steal-Time TCK %s%n", ConformanceSummary.tckVersion());
        con.printf("  provider               %s — %s (version %s, timing %s)%n", p.id(), ConformanceSummary.declared("description()", p::description),
                ConformanceSummary.declared("version()", p::version), ConformanceSummary.declared("timing()", () -> String.valueOf(p.timing())));
        con.printf("  %-22s %s%n", "loaded from", origin.source());
        con.printf("  suites                 %s%n", suites.stream().map(s -> s.cliName).toList());
        for (Map.Entry<String, String> e : config.effective().entrySet()) {
            con.printf("  %-22s %s%n", e.getKey(), e.getValue());
        }
        con.printf("  %-22s %s%n", "output", out.toAbsolutePath().normalize());
        con.printf("  %-22s %s%n", "cpus", cpus());
        Availability a = p.availability();
        if (!a.available()) {
            con.printf("  provider '%s' is UNAVAILABLE here: %s%n  Nothing can be tested: its tests are NOT APPLICABLE and the verdict is NOT TESTED (exit 4).%n",
                    p.id(), a.reason());
        }
        con.println();
        con.flush();

        ConsoleProgress.Verbosity v = quiet ? ConsoleProgress.Verbosity.QUIET
                : verbose ? ConsoleProgress.Verbosity.VERBOSE : ConsoleProgress.Verbosity.NORMAL;
        List<String> claimed = config.profiles();
        if (v != ConsoleProgress.Verbosity.QUIET) {
            con.printf("%-5s %-4s %-26s %-9s %9s %10s%n", "SUITE", "", "RULE", "LEVEL", "TESTS", "TIME");
        }
        TckRun run = new TckRun(p, config, suites, new ConsoleProgress(con, v, claimed)).select(selection).allureResults(allureResults);
        Runnable onInterrupt = () -> onInterrupt(run, p, origin, config, suites, dir, err);
        Leftovers.onShutdown(onInterrupt);
        try {
            return finish(run.execute(), p, origin, config, suites, dir, con, err, v, claimed);
        } finally {
            synchronized (summaryLock) {
                finished = true;
            }
            Leftovers.removeOnShutdown(onInterrupt);
        }
    }

    private Integer finish(RunResult result, HypervisorProvider p, ProviderSources.Resolved origin, TckConfig config, List<Suite> suites,
                           OutDir dir, PrintWriter con, PrintWriter err, ConsoleProgress.Verbosity v, List<String> claimed) throws IOException {
        Path allureResults = dir.allureResults();
        // The summaries first: whatever happens to the HTML report, the results are on disk.
        ConformanceSummary.ReportInfo pending = new ConformanceSummary.ReportInfo(allureResults.toAbsolutePath().toString(), null, null);
        Path[] written = writeSummaries(dir, ConformanceSummary.build(result, p, origin, config, suites, pending));
        if (written == null) {
            return ExitCodes.INTERRUPTED;
        }
        Path junit = written[2];
        String reportError = null;
        Path index = null;
        long reportMillis = 0;
        if (noReport) {
            reportError = "not generated (--no-report)";
        } else {
            long t0 = System.nanoTime();
            try {
                AllureResultsDir.complete(allureResults, allureEnvironment(p, config, suites, result.verdict()));
                Path staging = dir.reportStaging();
                try {
                    String name = "Steal-Time TCK — " + p.id() + ": " + result.verdict().words;
                    AllureHtml.locate().generate(List.of(allureResults), staging, name);
                    synchronized (summaryLock) {
                        if (interrupted) {
                            return ExitCodes.INTERRUPTED;   // no report next to an INTERRUPTED summary
                        }
                        index = dir.installReport(staging, name);
                    }
                } finally {
                    Leftovers.deleteQuietly(staging);
                    Leftovers.untrack(staging);
                }
            } catch (AllureHtml.ReportException | IOException | RuntimeException | LinkageError e) {
                reportError = e instanceof AllureHtml.ReportException ? e.getMessage() : oneLine(e);
            }
            reportMillis = (System.nanoTime() - t0) / 1_000_000;
            ConformanceSummary.ReportInfo info = new ConformanceSummary.ReportInfo(allureResults.toAbsolutePath().toString(),
                    index == null ? null : index.toAbsolutePath().toString(), reportError);
            if (writeSummaries(dir, ConformanceSummary.build(result, p, origin, config, suites, info)) == null) {
                return ExitCodes.INTERRUPTED;
            }
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
        con.printf("summary            %s%n", written[1].toAbsolutePath());
        con.printf("                   %s%n", written[0].toAbsolutePath());
        con.printf("                   %s%n", junit.toAbsolutePath());
        con.printf("                   %s%n", written[3].toAbsolutePath());
        con.printf("allure results     %s%n", allureResults.toAbsolutePath());
        Verdict verdict = result.verdict();
        con.printf("%d passed, %d failed, %d not applicable%s (rules) in %.1f s: %s%n",
                result.count(Outcome.PASS), result.count(Outcome.FAIL), result.count(Outcome.NOT_APPLICABLE),
                result.count(Outcome.NOT_RUN) == 0 ? "" : ", " + result.count(Outcome.NOT_RUN) + " not run",
                result.elapsed().toMillis() / 1000.0, verdict.words);
        if (verdict == Verdict.NOT_TESTED || verdict == Verdict.PARTIAL) {
            con.printf("%s: %s%n", verdict.words, result.verdictExplanation(gatingLevels(claimed)));
        }
        con.flush();
        return verdict.exitCode;
    }

    /**
     * Writes the summaries unless the run was interrupted meanwhile (then the hook has written them):
     * {json, md, junit.xml, results.ktap} or null.
     */
    private Path[] writeSummaries(OutDir dir, RunSummary summary) throws IOException {
        synchronized (summaryLock) {
            if (interrupted) {
                return null;
            }
            return writeAll(dir, summary);
        }
    }

    /** Every rendering of the one summary: conformance.json, conformance.md, junit.xml, results.ktap. */
    static Path[] writeAll(OutDir dir, RunSummary summary) throws IOException {
        return new Path[]{ConformanceSummary.write(dir.path(), summary), ConformanceSummary.writeMarkdown(dir.path(), summary),
                JunitXml.write(dir.path(), summary), Ktap.write(dir.path(), summary)};
    }

    /**
     * At shutdown (Ctrl-C, SIGTERM): an unfinished run leaves a summary that says INTERRUPTED, with
     * what it had. {@link Leftovers} then stops the report generator and removes the temp files.
     */
    private void onInterrupt(TckRun run, HypervisorProvider p, ProviderSources.Resolved origin, TckConfig config, List<Suite> suites,
                             OutDir dir, PrintWriter err) {
        synchronized (summaryLock) {
            if (!finished) {
                interrupted = true;
                try {
                    RunResult partial = run.partialResult();
                    RunSummary summary = ConformanceSummary.build(partial, p, origin, config, suites,
                            new ConformanceSummary.ReportInfo(dir.allureResults().toAbsolutePath().toString(), null, "not generated: run interrupted"));
                    Files.deleteIfExists(dir.report().resolve("index.html"));   // this run's, if it got that far
                    Path md = writeAll(dir, summary)[1];
                    err.printf("%ntck: INTERRUPTED after %d test result(s); partial summary: %s%n", partial.tests().size(), md.toAbsolutePath());
                } catch (IOException | RuntimeException e) {
                    err.println("tck: INTERRUPTED; the partial summary could not be written: " + oneLine(e));
                }
                err.flush();
            }
        }
    }

    /** Hands the settings beyond the SPI to a provider that takes them; such a flag given to one that does not is a usage error. */
    static void configure(HypervisorProvider provider, TckConfig config) {
        for (TckConfig.Key key : List.of(TckConfig.Key.KERNEL, TckConfig.Key.KVM_MODULES, TckConfig.Key.ACCEL)) {
            boolean takes = provider instanceof Configurable c && c.takes(key);
            if (!takes && config.override(key).isPresent()) {
                throw new UsageException("--" + key.property.substring("tck.".length()).replace('.', '-')
                        + " does not apply to provider '" + provider.id() + "'"
                        + (key == TckConfig.Key.KVM_MODULES ? " (only kvm-x86-emulated loads KVM modules)"
                        : key == TckConfig.Key.ACCEL ? " (only the emulated-machine providers kvm-arm64 and kvm-x86-emulated run QEMU)"
                        : " (only the emulated-machine providers kvm-arm64 and kvm-x86-emulated boot a kernel)"));
            }
        }
        if (provider instanceof Configurable c) {
            c.configure(config);
        }
    }

    private static List<String> gatingLevels(List<String> claimed) {
        return Arrays.stream(Level.values()).filter(l -> TckRun.gates(l, claimed)).map(Level::group).toList();
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage();
        String s = e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m.strip());
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** The report's Environment table. */
    static Map<String, String> allureEnvironment(HypervisorProvider p, TckConfig config, List<Suite> suites, Verdict verdict) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("Verdict", verdict.words);
        env.put("TCK version", ConformanceSummary.tckVersion());
        env.put("Provider", p.id() + " — " + ConformanceSummary.declared("description()", p::description));
        env.put("Provider version", ConformanceSummary.declared("version()", p::version));
        env.put("Provider timing", ConformanceSummary.declared("timing()", () -> String.valueOf(p.timing())));
        env.put("Suites", String.join(", ", suites.stream().map(s -> s.cliName).toList()));
        for (Map.Entry<String, String> e : config.effective().entrySet()) {
            env.put(e.getKey(), e.getValue());
        }
        RunSummary.Environment machine = ConformanceSummary.environment();
        env.put("JDK", machine.jdk());
        env.put("JVM", machine.jvm());
        env.put("OS", machine.os());
        env.put("Kernel", machine.kernel());
        env.put("Host", machine.host());
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

    /** Builds the configuration from flags over properties over environment, validated. */
    static TckConfig config(String provider, String profiles, String raceBudget, String multiplier) {
        return TckConfig.fromEnvironment()
                .with(TckConfig.Key.PROVIDER, provider)
                .with(TckConfig.Key.PROFILES, profiles)
                .with(TckConfig.Key.RACE_BUDGET, raceBudget)
                .with(TckConfig.Key.TIMING_MULTIPLIER, multiplier)
                .validate();
    }

    /**
     * The CPUs this run may use, and a warning when it is one of several online: an affinity mask or
     * quota left the races (a reader and the hypervisor at once) time-sliced on one CPU, which made
     * race self-tests flaky here (2026-12-07: three variants escaped with mask 0x1, none with 0x3).
     */
    static String cpus() {
        int usable = Runtime.getRuntime().availableProcessors();
        int online = usable;
        try {
            String range = java.nio.file.Files.readString(java.nio.file.Path.of("/sys/devices/system/cpu/online")).trim();
            online = 0;
            for (String part : range.split(",")) {
                String[] ab = part.split("-");
                online += ab.length == 1 ? 1 : Integer.parseInt(ab[1]) - Integer.parseInt(ab[0]) + 1;
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux, or unreadable: say what the JVM sees
        }
        return usable + " of " + online + " online" + (usable < online && usable < 2
                ? " (WARNING: an affinity mask or CPU quota limits this run to one CPU; races are time-sliced and weaker: "
                + "taskset -p -c 0-" + (online - 1) + " $$ widens the shell's mask)" : "");
    }
}
