package dev.stealtime.tck.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.runner.report.ConformanceMarkdown;
import dev.stealtime.tck.runner.report.TckJars;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.TckConfig;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The conformance summary of a run, for certification: {@code conformance.json} and its readable
 * twin {@code conformance.md}, both rendered from {@link #toMap}: TCK version and the SHA-256 of
 * the TCK jars, provider (id, description, version, timing, capabilities), JDK, OS and kernel,
 * suites, profiles claimed, effective configuration, and every rule of the selected suites with
 * its level, outcome and message.
 */
public final class ConformanceSummary {

    private ConformanceSummary() {
    }

    /** The TCK's version: the jar manifest's, else the build's ({@code tck-version.properties}, filtered by Maven). */
    public static String tckVersion() {
        String v = ConformanceSummary.class.getPackage().getImplementationVersion();
        if (v != null) {
            return v;
        }
        try (java.io.InputStream in = ConformanceSummary.class.getResourceAsStream("tck-version.properties")) {
            java.util.Properties p = new java.util.Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    /** Where the run's report went (or why it did not), recorded in the summary. */
    public record ReportInfo(String allureResults, String html, String error) {
        public static final ReportInfo NONE = new ReportInfo(null, null, null);
    }

    public static Map<String, Object> toMap(RunResult result, HypervisorProvider provider, TckConfig config, List<Suite> suites) {
        return toMap(result, provider, config, suites, ReportInfo.NONE);
    }

    public static Map<String, Object> toMap(RunResult result, HypervisorProvider provider, TckConfig config,
                                            List<Suite> suites, ReportInfo report) {
        return toMap(result, provider, null, config, suites, report);
    }

    /**
     * @param origin where the provider was loaded from (null: not recorded); only its jar is hashed
     */
    public static Map<String, Object> toMap(RunResult result, HypervisorProvider provider, ProviderSources.Resolved origin,
                                            TckConfig config, List<Suite> suites, ReportInfo report) {
        Map<String, Object> root = new LinkedHashMap<>();
        Map<String, Object> tck = new LinkedHashMap<>();
        tck.put("version", tckVersion());
        tck.put("jars", TckJars.find(ConformanceSummary.class.getClassLoader(), TckJars.artifactsFor(suites.stream().map(s -> s.artifact).toList()))
                .stream().map(j -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("artifact", j.artifact());
            m.put("sha256", j.sha256());
            m.put("location", j.location());
            return m;
        }).toList());
        root.put("tck", tck);
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("id", provider.id());
        p.put("description", declared("description()", provider::description));
        p.put("version", declared("version()", provider::version));
        p.put("timing", declared("timing()", () -> String.valueOf(provider.timing())));
        p.put("capabilities", declaredList("capabilities()", () -> provider.capabilities().stream().map(Enum::name).sorted().toList()));
        p.put("architectures", declaredList("architectures()", () -> provider.architectures().stream().map(Enum::name).sorted().toList()));
        if (origin != null) {
            p.put("source", origin.source());
            if (origin.jar() != null) {
                Map<String, Object> jar = new LinkedHashMap<>();
                jar.put("path", origin.jar().toString());
                jar.put("sha256", sha256OrReason(origin.jar()));
                p.put("jar", jar);
            }
        }
        // the provider as loaded (the one tested is wrapped by ProviderGuard): an emulated machine says what it is
        if ((origin != null ? origin.provider() : provider) instanceof MachineDescription d && !d.machine().isEmpty()) {
            p.put("machine", d.machine());
        }
        root.put("provider", p);
        Verdict verdict = result.verdict();
        root.put("verdict", verdict.name());
        root.put("verdictText", verdict.words);
        List<String> gatingLevels = java.util.Arrays.stream(Level.values())
                .filter(l -> TckRun.gates(l, config.profiles())).map(Level::group).toList();
        root.put("verdictExplanation", result.verdictExplanation(gatingLevels));
        root.put("environment", environment());
        root.put("suites", suites.stream().map(s -> s.cliName).toList());
        List<String> profiles = config.profiles();
        root.put("profiles", profiles);
        root.put("gatingLevels", java.util.Arrays.stream(Level.values())
                .filter(l -> TckRun.gates(l, profiles)).map(Level::group).toList());
        root.put("configuration", config.effective());
        root.put("rules", result.rules().stream().map(r -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", r.rule().id());
            m.put("level", r.rule().level().group());
            m.put("area", r.rule().area());
            m.put("outcome", r.outcome().name());
            m.put("gates", TckRun.gates(r.rule().level(), profiles));
            m.put("tests", r.tests().size());
            m.put("millis", r.millis());
            m.put("message", r.message());
            // every failing test's full message (a race's histogram, a hex dump): complete even without the HTML report
            m.put("failures", r.tests().stream().filter(t -> t.outcome() == Outcome.FAIL).map(t -> {
                Map<String, Object> f = new LinkedHashMap<>();
                f.put("test", t.name());
                f.put("message", t.message());
                return f;
            }).toList());
            m.put("statement", r.rule().statement());
            m.put("source", r.rule().source());
            return m;
        }).toList());
        Map<String, Object> totals = new LinkedHashMap<>();
        totals.put("pass", result.count(Outcome.PASS));
        totals.put("fail", result.count(Outcome.FAIL));
        totals.put("notApplicable", result.count(Outcome.NOT_APPLICABLE));
        totals.put("notRun", result.count(Outcome.NOT_RUN));
        totals.put("gatingRulesTested", result.gatingRulesTested());
        totals.put("tests", result.tests().size());
        root.put("totals", totals);
        Map<String, Object> byLevel = new LinkedHashMap<>();
        for (Level level : Level.values()) {
            List<RuleResult> rs = result.rules().stream().filter(r -> r.rule().level() == level).toList();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pass", rs.stream().filter(r -> r.outcome() == Outcome.PASS).count());
            m.put("fail", rs.stream().filter(r -> r.outcome() == Outcome.FAIL).count());
            m.put("notApplicable", rs.stream().filter(r -> r.outcome() == Outcome.NOT_APPLICABLE).count());
            m.put("notRun", rs.stream().filter(r -> r.outcome() == Outcome.NOT_RUN).count());
            m.put("gates", TckRun.gates(level, profiles));
            byLevel.put(level.group(), m);
        }
        root.put("byLevel", byLevel);
        root.put("conforms", verdict == Verdict.CONFORMS);
        root.put("gatingFailures", result.rules().stream().filter(RuleResult::gatingFailure).map(r -> r.rule().id()).toList());
        root.put("finishedAt", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        root.put("elapsedMillis", result.elapsed().toMillis());
        if (report != null && (report.allureResults() != null || report.html() != null || report.error() != null)) {
            Map<String, Object> rep = new LinkedHashMap<>();
            rep.put("allureResults", report.allureResults());
            rep.put("html", report.html());
            rep.put("error", report.error());
            root.put("report", rep);
        }
        return root;
    }

    /** A provider's declaration for the record; one that throws is recorded as what it threw. */
    static String declared(String call, java.util.function.Supplier<String> value) {
        try {
            String v = value.get();
            return v == null ? "(" + call + " returned null)" : v;
        } catch (RuntimeException e) {
            return "(" + call + " threw " + dev.stealtime.tck.support.ProviderException.vendorMessage(
                    e instanceof dev.stealtime.tck.support.ProviderException && e.getCause() != null ? e.getCause() : e) + ")";
        }
    }

    static List<String> declaredList(String call, java.util.function.Supplier<List<String>> value) {
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

    /** JDK, OS and kernel of the machine the run happened on. */
    static Map<String, Object> environment() {
        Map<String, Object> env = new LinkedHashMap<>();
        env.put("jdk", System.getProperty("java.vendor") + " " + System.getProperty("java.version"));
        env.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
        env.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        env.put("kernel", kernelRelease());
        return env;
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
    public static Path write(Path dir, RunResult result, HypervisorProvider provider, TckConfig config, List<Suite> suites) throws IOException {
        return write(dir, toMap(result, provider, config, suites));
    }

    /** Writes {@code conformance.json} from a map made by {@link #toMap}. */
    public static Path write(Path dir, Map<String, Object> summary) throws IOException {
        return OutDir.writeAtomically(dir.resolve(OutDir.JSON),
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(summary));
    }

    /** Writes {@code conformance.md} from a map made by {@link #toMap}. */
    public static Path writeMarkdown(Path dir, Map<String, Object> summary) throws IOException {
        return OutDir.writeAtomically(dir.resolve(OutDir.MARKDOWN), ConformanceMarkdown.render(summary));
    }
}
