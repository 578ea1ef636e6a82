package dev.stealtime.tck.runner.cli;

import com.example.fixtures.Acme;
import com.example.fixtures.FixtureJars;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.TckCli;
import dev.stealtime.tck.runner.host.PrivateFiles;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;

import static dev.stealtime.tck.runner.cli.CliContractTest.tck;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code tck run --rule}: a developer runs the rules they work on; the run says it was partial and
 * never CONFORMS (PARTIAL, exit 5), and a selected rule that fails still fails the run.
 */
public class RuleSelectionTest {

    private Path work;

    @BeforeClass
    public void workDir() throws IOException {
        work = PrivateFiles.tempDir("tck-rule-selection");
    }

    @AfterClass(alwaysRun = true)
    public void cleanUp() {
        PrivateFiles.deleteTree(work);
    }

    private static String[] run(Path out, String... args) {
        List<String> a = new ArrayList<>(List.of("run", "--no-report", "--race-budget", "400ms", "--out", out.toString()));
        a.addAll(List.of(args));
        return a.toArray(String[]::new);
    }

    private static JsonNode json(Path out) throws IOException {
        return new ObjectMapper().readTree(out.resolve("conformance.json").toFile());
    }

    private static List<String> ids(JsonNode summary, String outcome) {
        return StreamSupport.stream(summary.path("rules").spliterator(), false)
                .filter(r -> r.path("outcome").asText().equals(outcome)).map(r -> r.path("id").asText()).toList();
    }

    @Test
    public void oneRuleRunsAloneAndTheVerdictIsPartialNeverConforms() throws IOException {
        Path out = work.resolve("one");
        CliContractTest.Result r = tck(run(out, "--rule", "X86-ENABLE"));
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(TckCli.PARTIAL).isEqualTo(5);
        assertThat(r.out()).contains("suites                 [x86]").contains("tck.rules").contains(": PARTIAL")
                .contains("PARTIAL: only the rules selected by --rule X86-ENABLE were tested").doesNotContain("CONFORMS");
        JsonNode s = json(out);
        assertThat(s.path("verdict").asText()).isEqualTo("PARTIAL");
        assertThat(s.path("conforms").asBoolean()).isFalse();
        assertThat(ids(s, "PASS")).containsExactly("X86-ENABLE");
        assertThat(ids(s, "NOT_RUN")).as("every other x86 rule is NOT_RUN, none silently left out").hasSize(s.path("rules").size() - 1);
        assertThat(StreamSupport.stream(s.path("rules").spliterator(), false).filter(n -> n.path("outcome").asText().equals("NOT_RUN"))
                .map(n -> n.path("message").asText())).allMatch(m -> m.equals("not selected (--rule X86-ENABLE)"));
        assertThat(Files.readString(out.resolve("conformance.md"))).contains("PARTIAL").doesNotContain("**Result: CONFORMS**");
        assertThat(Files.readString(out.resolve("results.ktap"))).contains("NOT RUN");
    }

    @Test
    public void globsAndAreasSelectSeveralRulesAcrossTheGivenSuites() throws IOException {
        Path out = work.resolve("glob");
        CliContractTest.Result r = tck(run(out, "--suite", "all", "--rule", "ARM-EINVAL-*", "--rule", "alignment"));
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(TckCli.PARTIAL);
        JsonNode s = json(out);
        assertThat(ids(s, "PASS")).containsExactlyInAnyOrder("ARM-EINVAL-ALIGN", "ARM-EINVAL-OUTSIDE-MEMORY", "X86-ALIGN-REJECT",
                "X86-ALIGN-NO-STRAY-WRITE");
        assertThat(s.path("suites").toString()).contains("x86").contains("arm64");
    }

    @Test
    public void aSuiteWithoutASelectedRuleIsNotStarted() throws IOException {
        Path out = work.resolve("narrow");
        CliContractTest.Result r = tck(run(out, "--rule", "ARM-EEXIST"));
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(TckCli.PARTIAL);
        assertThat(json(out).path("suites").toString()).isEqualTo("[\"arm64\"]");
    }

    @Test
    public void aSelectedRuleThatFailsFailsTheRun() throws IOException {
        Path out = work.resolve("fails");
        Path jar = FixtureJars.jar(work, "throwing.jar", Acme.ThrowingRun.class);
        CliContractTest.Result r = tck(run(out, "--provider-jar", jar.toString(), "--suite", "x86", "--rule", "X86-STEAL-ACCOUNTS"));
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(TckCli.GATING_FAILURE);
        assertThat(json(out).path("verdict").asText()).isEqualTo("DOES_NOT_CONFORM");
        assertThat(ids(json(out), "FAIL")).containsExactly("X86-STEAL-ACCOUNTS");
    }

    @Test
    public void aPatternThatNamesNoRuleIsAOneLineUsageError() {
        CliContractTest.Result r = tck(run(work.resolve("typo"), "--suite", "x86", "--rule", "X86-ENABEL"));
        assertThat(r.code()).isEqualTo(TckCli.USAGE);
        assertThat(r.err().strip()).contains("--rule 'X86-ENABEL' names no rule of the suite(s) x86").doesNotContain("\n").doesNotContain("Exception");
        CliContractTest.Result other = tck(run(work.resolve("wrong-suite"), "--suite", "x86", "--rule", "ARM-EEXIST"));
        assertThat(other.code()).isEqualTo(TckCli.USAGE);
    }
}
