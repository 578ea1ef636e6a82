package dev.stealtime.tck.runner.run;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.host.HostKvm;
import dev.stealtime.tck.runner.host.OutDir;
import dev.stealtime.tck.runner.providers.MachineDescription;
import dev.stealtime.tck.runner.providers.ProviderSources;
import dev.stealtime.tck.runner.result.ConformanceMarkdown;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RuleResult;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.RunSummary;
import dev.stealtime.tck.runner.result.SummaryJson;
import dev.stealtime.tck.runner.result.TckJars;
import dev.stealtime.tck.runner.result.Verdict;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.ProviderException;
import dev.stealtime.tck.support.TckConfig;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The conformance summary of a run, for certification: {@code conformance.json} and its readable
 * twin {@code conformance.md}, rendered from the typed {@link RunSummary} that {@link #build} makes (so are junit.xml,
 * results.ktap and tck merge's matrix): TCK version and the SHA-256 of
 * the TCK jars, provider (id, description, version, timing, capabilities), JDK, OS and kernel,
 * suites, profiles claimed, effective configuration, and every rule of the selected suites with
 * its level, outcome and message.
 */
public final class ConformanceSummary {

    private ConformanceSummary() {
    }

    /** The TCK's version ({@link TckJars#version()}). */
    public static String tckVersion() {
        return TckJars.version();
    }

    /** Where the run's report went (or why it did not), recorded in the summary. */
    public record ReportInfo(String allureResults, String html, String error) {
        public static final ReportInfo NONE = new ReportInfo(null, null, null);
    }

    public static RunSummary build(RunResult result, HypervisorProvider provider, TckConfig config, List<Suite> suites) {
        return build(result, provider, null, config, suites, ReportInfo.NONE);
    }

    /**
     * The typed summary of a run, from which every summary file is rendered.
     *
     * @param origin where the provider was loaded from (null: not recorded); only its jar is hashed
     */
    public static RunSummary build(RunResult result, HypervisorProvider provider, ProviderSources.Resolved origin,
                                   TckConfig config, List<Suite> suites, ReportInfo report) {
        List<RunSummary.Jar> jars = TckJars.find(ConformanceSummary.class.getClassLoader(),
                        TckJars.artifactsFor(suites.stream().map(s -> s.artifact).toList()))
                .stream().map(j -> new RunSummary.Jar(j.artifact(), j.sha256(), j.location())).toList();
        RunSummary.Tck tck = new RunSummary.Tck(tckVersion(), catalogueHash(), jars);
        String source = null;
        RunSummary.ProviderJar jar = null;
        if (origin != null) {
            source = origin.source();
            if (origin.jar() != null) {
                jar = new RunSummary.ProviderJar(origin.jar().toString(), sha256OrReason(origin.jar()));
            }
        }
        Map<String, String> machine = null;
        // the provider as loaded (the one tested is wrapped by ProviderGuard): an emulated machine says what it is
        if ((origin != null ? origin.provider() : provider) instanceof MachineDescription d) {
            Map<String, String> m = declaredMap(d);
            machine = m.isEmpty() ? null : m;
        }
        RunSummary.Provider p = new RunSummary.Provider(provider.id(),
                declared("description()", provider::description),
                declared("version()", provider::version),
                declared("timing()", () -> String.valueOf(provider.timing())),
                declaredList("capabilities()", () -> provider.capabilities().stream().map(Enum::name).sorted().toList()),
                declaredList("architectures()", () -> provider.architectures().stream().map(Enum::name).sorted().toList()),
                source, jar, machine);
        Verdict verdict = result.verdict();
        List<String> profiles = config.profiles();
        List<String> gatingLevels = Arrays.stream(Level.values())
                .filter(l -> TckRun.gates(l, profiles)).map(Level::group).toList();
        List<RunSummary.RuleEntry> rules = result.rules().stream().map(r -> new RunSummary.RuleEntry(
                r.rule().id(), r.rule().suite(), r.rule().level().group(), r.rule().area(), r.outcome().name(),
                TckRun.gates(r.rule().level(), profiles), r.tests().size(), r.millis(), r.message(),
                // every failing test's full message (a race's histogram, a hex dump): complete even without the HTML report
                r.tests().stream().filter(t -> t.outcome() == Outcome.FAIL)
                        .map(t -> new RunSummary.Failure(t.name(), t.message())).toList(),
                r.rule().statement(), r.rule().source())).toList();
        RunSummary.Totals totals = new RunSummary.Totals(result.count(Outcome.PASS), result.count(Outcome.FAIL),
                result.count(Outcome.NOT_APPLICABLE), result.count(Outcome.NOT_RUN), result.gatingRulesTested(), result.tests().size());
        Map<String, RunSummary.LevelTotals> byLevel = new LinkedHashMap<>();
        for (Level level : Level.values()) {
            List<RuleResult> rs = result.rules().stream().filter(r -> r.rule().level() == level).toList();
            byLevel.put(level.group(), new RunSummary.LevelTotals(
                    rs.stream().filter(r -> r.outcome() == Outcome.PASS).count(),
                    rs.stream().filter(r -> r.outcome() == Outcome.FAIL).count(),
                    rs.stream().filter(r -> r.outcome() == Outcome.NOT_APPLICABLE).count(),
                    rs.stream().filter(r -> r.outcome() == Outcome.NOT_RUN).count(),
                    TckRun.gates(level, profiles)));
        }
        RunSummary.Report rep = report == null || (report.allureResults() == null && report.html() == null && report.error() == null)
                ? null : new RunSummary.Report(report.allureResults(), report.html(), report.error());
        return new RunSummary(RunSummary.SCHEMA_VERSION, tck, p, verdict.name(), verdict.words, result.verdictExplanation(gatingLevels),
                environment(), suites.stream().map(s -> s.cliName).toList(), profiles, gatingLevels, config.effective(), rules,
                totals, byLevel, verdict == Verdict.CONFORMS,
                result.rules().stream().filter(RuleResult::gatingFailure).map(r -> r.rule().id()).toList(),
                Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(), result.elapsed().toMillis(), rep);
    }

    /**
     * SHA-256 of the rule catalogue (every rule's id, level, area, source and statement, in order):
     * runs graded against different catalogues are not comparable.
     */
    public static String catalogueHash() {
        StringBuilder sb = new StringBuilder();
        for (Rule r : RuleCatalogue.get().all()) {
            sb.append(r.id()).append('\t').append(r.level().group()).append('\t').append(r.area()).append('\t')
                    .append(r.source()).append('\t').append(r.statement()).append('\n');
        }
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(sb.toString().getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** A provider's machine description for the record; one that throws is recorded as what it threw. */
    private static Map<String, String> declaredMap(MachineDescription d) {
        try {
            Map<String, String> m = d.machine();
            return m == null ? Map.of() : new LinkedHashMap<>(m);
        } catch (RuntimeException e) {
            return Map.of("error", declared("machine()", () -> {
                throw e;
            }));
        }
    }

    /** A provider's declaration for the record; one that throws is recorded as what it threw. */
    public static String declared(String call, Supplier<String> value) {
        try {
            String v = value.get();
            return v == null ? "(" + call + " returned null)" : v;
        } catch (RuntimeException e) {
            return "(" + call + " threw " + ProviderException.vendorMessage(
                    e instanceof ProviderException && e.getCause() != null ? e.getCause() : e) + ")";
        }
    }

    public static List<String> declaredList(String call, Supplier<List<String>> value) {
        try {
            return value.get();
        } catch (RuntimeException e) {
            return List.of(declared(call, () -> {
                throw e;
            }));
        }
    }

    private static String sha256OrReason(Path jar) {
        try {
            return TckJars.sha256(jar);
        } catch (IOException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /** JDK, OS, kernel, host name and architecture of the machine the run happened on. */
    public static RunSummary.Environment environment() {
        return new RunSummary.Environment(
                System.getProperty("java.vendor") + " " + System.getProperty("java.version"),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"),
                System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"),
                kernelRelease(), hostName(), System.getProperty("os.arch"), HostKvm.probe().describe());
    }

    /** The host's name ({@code /proc/sys/kernel/hostname} on Linux, else the JVM's view). */
    static String hostName() {
        Path hostname = Path.of("/proc/sys/kernel/hostname");
        try {
            if (Files.isReadable(hostname)) {
                return Files.readString(hostname, StandardCharsets.UTF_8).strip();
            }
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** {@code uname -r}: on Linux the kernel's own osrelease, else os.version. */
    static String kernelRelease() {
        Path osrelease = Path.of("/proc/sys/kernel/osrelease");
        try {
            if (Files.isReadable(osrelease)) {
                return Files.readString(osrelease, StandardCharsets.UTF_8).strip();
            }
        } catch (IOException | RuntimeException ignored) {
            // fall back to the JVM's view
        }
        return System.getProperty("os.version");
    }

    /** Writes {@code conformance.json}. */
    public static Path write(Path dir, RunSummary summary) throws IOException {
        return OutDir.writeAtomically(dir.resolve(OutDir.JSON), SummaryJson.write(summary));
    }

    /** Writes {@code conformance.md}. */
    public static Path writeMarkdown(Path dir, RunSummary summary) throws IOException {
        return OutDir.writeAtomically(dir.resolve(OutDir.MARKDOWN), ConformanceMarkdown.render(summary));
    }
}
