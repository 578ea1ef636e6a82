package dev.stealtime.tck.runner.cli;

import com.example.fixtures.Acme;
import com.example.fixtures.FixtureJars;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.TckCli;
import dev.stealtime.tck.runner.host.Leftovers;
import dev.stealtime.tck.runner.host.OutDir;
import dev.stealtime.tck.runner.result.TckJars;
import dev.stealtime.tck.spi.TimingPrecision;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.stealtime.tck.runner.cli.CliContractTest.tck;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The verdict cannot lie: each case found by trying the TCK as a new user and as a vendor (issue
 * "Verdicts that cannot lie") run through the real command line, with vendor jars built from
 * {@link Acme}'s providers.
 */
public class VerdictContractTest {

    private Path work;

    @BeforeClass
    public void workDir() throws IOException {
        work = Files.createTempDirectory("tck-verdicts");
    }

    @AfterClass(alwaysRun = true)
    public void cleanUp() {
        System.setProperty("fixtures.release", "true");   // lets abandoned hanging calls end
        Leftovers.deleteQuietly(work);
    }

    private Path jar(String name, Class<?>... providers) {
        return FixtureJars.jar(work, name, providers);
    }

    private Path out(String name) {
        return work.resolve(name);
    }

    private static JsonNode json(Path out) throws IOException {
        return new ObjectMapper().readTree(out.resolve("conformance.json").toFile());
    }

    private static String md(Path out) throws IOException {
        return Files.readString(out.resolve("conformance.md"));
    }

    private static String[] run(String... args) {
        List<String> a = new ArrayList<>(List.of("run", "--no-report", "--race-budget", "400ms"));
        a.addAll(List.of(args));
        return a.toArray(String[]::new);
    }

    @Test
    public void anUnavailableProviderIsNotTestedWithExit4NeverConforms() throws IOException {
        Path out = out("down");
        CliContractTest.Result r = tck(run("--provider-jar", jar("down.jar", Acme.Down.class).toString(), "--suite", "x86", "--out", out.toString()));
        assertThat(r.code()).as(r.out()).isEqualTo(TckCli.NOT_TESTED).isEqualTo(4);
        assertThat(r.out()).contains("UNAVAILABLE here: ACME VMM did not come up").contains(": NOT TESTED").doesNotContain("CONFORMS");
        assertThat(json(out).path("verdict").asText()).isEqualTo("NOT_TESTED");
        assertThat(json(out).path("conforms").asBoolean()).isFalse();
        assertThat(md(out)).contains("**Result: NOT TESTED**").contains("ACME VMM did not come up").doesNotContain("CONFORMS**");
    }

    @Test
    public void availabilityThatReturnsNullOrThrowsIsUnavailableInTheVendorsWordsNotAnInternalError() throws IOException {
        Path jar = jar("bad-availability.jar", Acme.NullAvailability.class, Acme.ThrowingAvailability.class);
        CliContractTest.Result nul = tck(run("--provider-jar", jar.toString(), "--provider", "acme-null", "--suite", "x86", "--out", out("null").toString()));
        assertThat(nul.code()).as(nul.err()).isEqualTo(4);
        assertThat(nul.out()).contains("availability() returned null");
        CliContractTest.Result thrown = tck(run("--provider-jar", jar.toString(), "--provider", "acme-avail-throws", "--suite", "x86", "--out", out("throws").toString()));
        assertThat(thrown.code()).as(thrown.err()).isEqualTo(4);
        assertThat(thrown.out()).contains("availability() threw java.lang.IllegalStateException: ACME probe crashed: /dev/acme: Permission denied");
    }

    @Test
    public void aProviderJarAloneSelectsItsProviderAndTheSummaryRecordsWhereItCameFrom() throws IOException {
        Path jar = jar("acme.jar", Acme.class);
        Path out = out("acme");
        CliContractTest.Result r = tck(run("--provider-jar", jar.toString(), "--suite", "x86", "--out", out.toString()));
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("provider               acme").contains("loaded from            --provider-jar " + jar.toAbsolutePath());
        JsonNode p = json(out).path("provider");
        assertThat(p.path("id").asText()).isEqualTo("acme");
        assertThat(p.path("source").asText()).isEqualTo("--provider-jar " + jar.toAbsolutePath());
        assertThat(p.path("jar").path("sha256").asText()).isEqualTo(TckJars.sha256(jar));
        assertThat(md(out)).contains("| Provider loaded from | --provider-jar " + jar.toAbsolutePath())
                .contains("SHA-256 `" + TckJars.sha256(jar) + "`");
        // only the suites that ran are hashed
        List<String> artifacts = new ArrayList<>();
        json(out).path("tck").path("jars").forEach(j -> artifacts.add(j.path("artifact").asText()));
        assertThat(artifacts).contains("tck-x86-msr").doesNotContain("tck-arm64-pvtime");

        // the built-in provider tested next to a vendor jar: that jar is not recorded as tested
        Path ref = out("ref");
        assertThat(tck(run("--provider-jar", jar.toString(), "--provider", "reference", "--suite", "x86", "--out", ref.toString())).code()).isZero();
        assertThat(json(ref).path("provider").has("jar")).isFalse();
        assertThat(json(ref).path("provider").path("source").asText()).startsWith("built in");
    }

    @Test
    public void aJarWithSeveralProvidersNeedsProvider() {
        CliContractTest.Result r = tck(run("--provider-jar", jar("two.jar", Acme.class, Acme.Second.class).toString(), "--out", out("two").toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).contains("holds 2 providers (acme, acme-second): choose one with --provider").doesNotContain("\n");
    }

    @Test
    public void anIdThatCollidesIsAUsageErrorNamingBothSources() {
        Path jar = jar("impostor.jar", Acme.KvmImpostor.class);
        for (String[] args : List.of(run("--provider-jar", jar.toString(), "--out", out("kvm1").toString()),
                run("--provider-jar", jar.toString(), "--provider", "kvm", "--out", out("kvm2").toString()))) {
            CliContractTest.Result r = tck(args);
            assertThat(r.code()).as(String.join(" ", args)).isEqualTo(2);
            assertThat(r.err().strip()).contains("provider id 'kvm' is declared by 2 providers")
                    .contains("KvmProvider from").contains(jar.toAbsolutePath().toString()).doesNotContain("\n");
        }
        CliContractTest.Result list = tck("providers", "--provider-jar", jar.toString());
        assertThat(list.code()).isZero();
        assertThat(list.out()).contains("CONFLICT: provider id 'kvm' is declared by 2 providers");
    }

    @Test
    public void providersListsEveryProviderThatLoadsAndALinePerOneThatDoesNot() {
        Path jar = jar("mixed.jar", Acme.ThrowingConstructor.class, Acme.NullId.class, Acme.class);
        CliContractTest.Result r = tck("providers", "--provider-jar", jar.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).containsPattern("(?m)^reference\\s+yes").containsPattern("(?m)^kvm\\s").containsPattern("(?m)^acme\\s+yes")
                .contains("capabilities: ").contains("loaded from:  --provider-jar " + jar.toAbsolutePath())
                .contains("NOT LOADED: com.example.fixtures.Acme$ThrowingConstructor from " + jar.toAbsolutePath()
                        + ": constructor threw java.lang.IllegalStateException: ACME license file /etc/acme/license.key not found")
                .contains("NOT LOADED: com.example.fixtures.Acme$NullId from " + jar.toAbsolutePath() + ": id() returned null");
        CliContractTest.Result unknown = tck(run("--provider-jar", jar.toString(), "--provider", "acme-ctor", "--out", out("ctor").toString()));
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("unknown provider 'acme-ctor'").contains("license.key not found");
    }

    @Test
    public void aVendorExceptionIsReportedAsTheProvidersWithItsMessageAndFirstFrames() throws IOException {
        Path out = out("run-throws");
        CliContractTest.Result r = tck(run("-v", "--provider-jar", jar("throws.jar", Acme.ThrowingRun.class).toString(), "--suite", "x86", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isEqualTo(1);
        assertThat(r.out()).contains("provider 'acme-run-throws' failed in Vcpu[0].run(")
                .contains("java.lang.IllegalStateException: ACME_RUN ioctl failed: EFAULT")
                .contains("com.example.fixtures.Acme$ThrowingRun.lambda$open");
        assertThat(r.err()).doesNotContain("internal error");
        assertThat(md(out)).contains("provider 'acme-run-throws' failed in Vcpu[0].run(");
    }

    @Test
    public void aHangingRunFailsItsTestsWithinTheLimitAndTheSummariesAreWritten() throws IOException {
        Path out = out("hang");
        long t0 = System.nanoTime();
        CliContractTest.Result r = tck(run("--provider-jar", jar("hang.jar", Acme.HangingRun.class).toString(), "--suite", "x86",
                "--call-timeout", "300ms", "--out", out.toString()));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.out()).contains("tck.call.timeout       300ms (flag)");
        assertThat(md(out)).contains("**Result: DOES NOT CONFORM**")
                .containsPattern("provider call Vcpu\\[0\\]\\.run\\([^)]*\\) did not return within [0-9.]+m?s");
        assertThat(json(out).path("verdict").asText()).isEqualTo("DOES_NOT_CONFORM");
        assertThat(took).as("bounded: a few timeouts, then the provider is given up").isLessThan(Duration.ofSeconds(60));
    }

    @Test
    public void aForeignOutDirectoryIsRefusedAndNothingInItIsTouched() throws IOException {
        Path out = out("users");
        Path mine = Files.createDirectories(out.resolve("report/q3")).resolve("summary.txt");
        Files.writeString(mine, "Q3 numbers");
        Files.createDirectories(out.resolve("allure-results"));
        CliContractTest.Result r = tck(run("--suite", "x86", "--out", out.toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("tck: --out " + out + " is not empty and was not written by the TCK (it holds allure-results/, report/)")
                .doesNotContain("\n");
        assertThat(mine).hasContent("Q3 numbers");

        // in the TCK's own directory, a user's file survives later runs (with and without the report)
        Path own = out("own");
        assertThat(tck(run("--suite", "arm64", "--out", own.toString())).code()).isZero();
        Path note = Files.createDirectories(own.resolve("report/q3")).resolve("summary.txt");
        Files.writeString(note, "mine");
        Path extra = own.resolve("allure-results/notes.txt");
        Files.writeString(extra, "mine too");
        CliContractTest.Result again = tck("run", "--race-budget", "400ms", "--suite", "arm64", "--out", own.toString());
        assertThat(again.code()).as(again.out() + again.err()).isZero();
        assertThat(note).hasContent("mine");
        assertThat(extra).hasContent("mine too");
        assertThat(own.resolve(OutDir.MARKER)).exists();
        try (var s = Files.list(own)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-") || n.startsWith(".report-staging"));
        }
    }

    /** A file the single-file Allure report embeds, decoded. */
    static String embedded(Path index, String name) throws IOException {
        Matcher m = Pattern.compile("d\\('" + Pattern.quote(name) + "','([^']*)'\\)")
                .matcher(Files.readString(index));
        assertThat(m.find()).as("%s embeds %s", index, name).isTrue();
        return new String(Base64.getDecoder().decode(m.group(1)), StandardCharsets.UTF_8);
    }

    @Test
    public void theReportsOverviewStatesTheVerdictAndItsTrendKeepsTheRunsIntoTheSameOut() throws IOException {
        Path out = out("trend");
        Path jar = jar("trend-down.jar", Acme.Down.class);
        assertThat(tck("run", "--provider-jar", jar.toString(), "--suite", "arm64", "--out", out.toString()).code()).isEqualTo(4);
        CliContractTest.Result second = tck("run", "--race-budget", "400ms", "--suite", "arm64", "--out", out.toString());
        assertThat(second.code()).as(second.out() + second.err()).isZero();
        Path index = out.resolve("report/index.html");
        JsonNode summary = new ObjectMapper().readTree(embedded(index, "widgets/summary.json"));
        assertThat(summary.path("reportName").asText()).isEqualTo("Steal-Time TCK — reference: CONFORMS");
        assertThat(embedded(index, "widgets/environment.json")).contains("{\"values\":[\"CONFORMS\"],\"name\":\"Verdict\"}");
        JsonNode trend = new ObjectMapper().readTree(embedded(index, "widgets/history-trend.json"));
        assertThat(trend.size()).as("this run and the one before: %s", trend).isEqualTo(2);
        assertThat(trend.get(1).path("reportName").asText()).isEqualTo("Steal-Time TCK — acme-down: NOT TESTED");
        assertThat(trend.get(1).path("data").path("skipped").asInt()).isPositive();
    }

    @Test
    public void smallerItems() {
        CliContractTest.Result both = tck("run", "-q", "-v");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("-q/--quiet and -v/--verbose contradict each other");

        CliContractTest.Result proc = tck(run("--out", "/proc/tck-x"));
        assertThat(proc.code()).isEqualTo(2);
        assertThat(proc.err().strip()).startsWith("tck: cannot create --out directory /proc/tck-x: ").doesNotEndWith("/proc/tck-x:")
                .matches("tck: cannot create --out directory /proc/tck-x: \\S.*");

        CliContractTest.Result budget = tck("run", "--no-report", "--suite", "arm64", "--race-budget", "100", "--out", out("budget").toString());
        assertThat(budget.out()).contains("tck.race.budget        100 = 100ms (flag)");

        assertThat(TimingPrecision.measured(Duration.ofMillis(10)).toString()).isEqualTo("measured(±10 ms)");
        assertThat(TimingPrecision.measured(Duration.ofNanos(2500_000)).toString()).isEqualTo("measured(±2500 µs)");

        for (String[] help : List.of(new String[]{"--help"}, new String[]{"run", "--help"}, new String[]{"providers", "--help"})) {
            String text = tck(help).out();
            assertThat(text.lines()).as("no line of %s is cut", String.join(" ", help)).allMatch(l -> l.length() <= 120);
        }
        String runHelp = tck("run", "--help").out();
        assertThat(runHelp).contains("Run the conformance suites against a hypervisor provider. Writes into DIR:")
                .contains("--timing-multiplier  tck.timing.multiplier  TCK_TIMING_MULTIPLIER")
                .contains("--call-timeout       tck.call.timeout       TCK_CALL_TIMEOUT")
                .contains("4   NOT TESTED").contains("130 INTERRUPTED");
    }
}
