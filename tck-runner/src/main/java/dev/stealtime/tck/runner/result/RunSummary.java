package dev.stealtime.tck.runner.result;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;
import java.util.Map;

/**
 * The conformance summary of one run: the one typed model that {@code conformance.json},
 * {@code conformance.md}, {@code junit.xml}, {@code results.ktap} and {@code tck merge}'s matrix are
 * rendered from, and that {@code tck merge} reads back ({@link SummaryJson}). Its JSON form is
 * described by the JSON Schema {@value SummaryJson#SCHEMA_RESOURCE} shipped in the runner's jar.
 *
 * @param schemaVersion {@link #SCHEMA_VERSION}: a reader refuses any other
 * @param verdict       {@code CONFORMS}, {@code DOES_NOT_CONFORM}, {@code NOT_TESTED}, {@code PARTIAL} or
 *                      {@code INTERRUPTED}
 * @param configuration effective settings: property name to "value (origin)"
 * @param byLevel       counts per level ({@code required}, {@code linux-abi}, {@code advisory})
 * @param report        where the Allure results and the HTML report are (or why not); may be null
 */
public record RunSummary(int schemaVersion, Tck tck, Provider provider, String verdict, String verdictText,
                         String verdictExplanation, Environment environment, List<String> suites, List<String> profiles,
                         List<String> gatingLevels, Map<String, String> configuration, List<RuleEntry> rules,
                         Totals totals, Map<String, LevelTotals> byLevel, boolean conforms, List<String> gatingFailures,
                         String finishedAt, long elapsedMillis, Report report) {

    /** The version of this model; bumped on any incompatible change of the JSON form. */
    public static final int SCHEMA_VERSION = 1;

    /**
     * @param version   the TCK's version
     * @param catalogue SHA-256 of the rule catalogue the run graded against (runs of different
     *                  catalogues cannot be compared)
     * @param jars      the TCK jars of the run, hashed
     */
    public record Tck(String version, String catalogue, List<Jar> jars) {
    }

    public record Jar(String artifact, String sha256, String location) {
    }

    /**
     * What was tested. {@code machine} is the provider's own description of the machine its
     * hypervisor runs in (an emulated machine: emulator, CPU, guest kernel release and hash, ...),
     * carried as the provider gives it, in its order; absent for a provider that describes none.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Provider(String id, String description, String version, String timing, List<String> capabilities,
                           List<String> architectures, String source, ProviderJar jar, Map<String, String> machine) {
    }

    public record ProviderJar(String path, String sha256) {
    }

    /**
     * The machine the TCK itself ran on.
     *
     * @param kvm the host's KVM implementation ({@code kvm_amd}, {@code kvm_intel}, {@code kvm_pvm}; its
     *            srcversion and nesting), or why there is none; absent in summaries of older TCKs
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Environment(String jdk, String jvm, String os, String kernel, String host, String arch, String kvm) {
    }

    /**
     * One catalogue rule's outcome.
     *
     * @param outcome  {@code PASS}, {@code FAIL}, {@code NOT_APPLICABLE} or {@code NOT_RUN}
     * @param suite    {@code x86} or {@code arm64}
     * @param gates    whether a FAIL of it fails the run (a claimed gating level)
     * @param tests    how many test results named it
     * @param message  why it failed or was not applicable (empty when it passed)
     * @param failures every failing test's full message
     */
    public record RuleEntry(String id, String suite, String level, String area, String outcome, boolean gates, int tests,
                            long millis, String message, List<Failure> failures, String statement, String source) {
    }

    public record Failure(String test, String message) {
    }

    public record Totals(long pass, long fail, long notApplicable, long notRun, long gatingRulesTested, int tests) {
    }

    public record LevelTotals(long pass, long fail, long notApplicable, long notRun, boolean gates) {
    }

    /** Where the run's report went, or why it did not (fields may be null). */
    public record Report(String allureResults, String html, String error) {
        public static final Report NONE = new Report(null, null, null);
    }

    /** Whether the run finished: an INTERRUPTED run's summary is partial. */
    public boolean partial() {
        return "INTERRUPTED".equals(verdict);
    }

}
