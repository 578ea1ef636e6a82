package dev.stealtime.tck.runner.result;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.TckCli;
import dev.stealtime.tck.runner.host.Leftovers;
import dev.stealtime.tck.runner.host.OutDir;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@code tck run --out DIR} writes: allure-results (cleaned first), report/index.html,
 * conformance.json and conformance.md; and that a failing report generation loses nothing.
 * Runs the arm64 suite against the reference (the quicker of the two).
 */
public class RunOutputsTest {

    private Path dir;
    private int code;
    private String out;
    private String err;

    private static final String STALE = "00000000-0000-0000-0000-000000000000-result.json";

    @BeforeClass
    public void run() throws Exception {
        dir = Files.createTempDirectory("tck-run-outputs");
        Files.createDirectories(dir.resolve("allure-results"));
        Files.writeString(dir.resolve(OutDir.MARKER), "");   // an earlier run's directory ...
        Files.writeString(dir.resolve("allure-results/" + STALE), "{}");   // ... with its results
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        code = TckCli.execute(new String[]{"run", "--suite", "arm64", "--race-budget", "200ms", "--out", dir.toString()},
                new PrintWriter(o, true), new PrintWriter(e, true));
        out = o.toString();
        err = e.toString();
    }

    @AfterClass(alwaysRun = true)
    public void cleanUp() {
        Leftovers.deleteQuietly(dir);
    }

    @Test
    public void writesAllFourOutputs() throws Exception {
        assertThat(code).as("exit code; stdout:%n%s%nstderr:%n%s", out, err).isIn(0, 1);
        assertThat(dir.resolve("report/index.html")).isRegularFile();
        assertThat(dir.resolve("conformance.json")).isRegularFile();
        assertThat(dir.resolve("conformance.md")).isRegularFile();
        try (Stream<Path> files = Files.list(dir.resolve("allure-results"))) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .doesNotContain(STALE)
                    .anyMatch(n -> n.endsWith("-result.json"))
                    .contains("environment.properties", "categories.json");
        }
        assertThat(out).contains("report ").contains(dir.resolve("report/index.html").toAbsolutePath().toString())
                .contains(dir.resolve("conformance.md").toAbsolutePath().toString());
    }

    @Test
    public void printsARuleLineAsEachRuleCompletesAndASummaryTable() {
        assertThat(out).containsPattern("(?m)^arm64 (PASS|FAIL|N/A ) ARM-HAS-ATTR\\s+required\\s+\\d+ tests?\\s+\\d+ ms");
        assertThat(out).containsPattern("(?m)^required\\s+\\(gating\\)\\s+\\d+\\s+\\d+\\s+\\d+");
        assertThat(out).containsPattern("(?m)^\\d+ passed, \\d+ failed, \\d+ not applicable \\(rules\\)");
    }

    @Test
    public void conformanceSummaryIsCertificationReady() throws Exception {
        JsonNode json = new ObjectMapper().readTree(dir.resolve("conformance.json").toFile());
        // an arm64 run hashes the arm64 suite, tck-api and tck-runner: not the x86 suite that did not run
        assertThat(json.path("tck").path("jars")).hasSize(3);
        assertThat(json.path("tck").path("jars").toString()).contains("tck-arm64-pvtime").doesNotContain("tck-x86-msr");
        assertThat(json.path("environment").path("kernel").asText()).isNotBlank();
        assertThat(json.path("provider").path("id").asText()).isEqualTo("reference");
        assertThat(json.path("report").path("html").asText()).endsWith("index.html");
        assertThat(json.path("rules")).hasSize(dev.stealtime.tck.rules.RuleCatalogue.get().suite("arm64").size());   // every arm64 rule
        String md = Files.readString(dir.resolve("conformance.md"), StandardCharsets.UTF_8);
        assertThat(md).contains("# Steal-Time TCK conformance summary", "## TCK artifacts", "## Effective configuration",
                "Kernel (uname -r)", "## required (", "## linux-abi (", "| `ARM-HAS-ATTR` |");
        assertThat(md.indexOf("| `ARM-GET-ATTR` |")).as("linux-abi rule listed under linux-abi")
                .isGreaterThan(md.indexOf("## linux-abi ("));
    }

    @Test
    public void aFailingReportGenerationLosesNoResults() throws Exception {
        Path d = Files.createTempDirectory("tck-run-noreport");
        String previous = System.getProperty(AllureHtml.HOME_PROPERTY);
        System.setProperty(AllureHtml.HOME_PROPERTY, d.resolve("no-allure-here").toString());
        try {
            StringWriter o = new StringWriter();
            StringWriter e = new StringWriter();
            int c = TckCli.execute(new String[]{"run", "--suite", "arm64", "--profile", "required", "--race-budget", "200ms",
                    "--out", d.toString(), "-q"}, new PrintWriter(o, true), new PrintWriter(e, true));
            assertThat(c).isIn(0, 1);
            assertThat(e.toString().strip()).startsWith("tck: HTML report not generated: ").doesNotContain("\n")
                    .doesNotContain("Exception");
            assertThat(d.resolve("conformance.json")).isRegularFile();
            assertThat(d.resolve("conformance.md")).isRegularFile();
            assertThat(d.resolve("report/index.html")).doesNotExist();
            String md = Files.readString(d.resolve("conformance.md"), StandardCharsets.UTF_8);
            assertThat(md).contains("HTML report NOT generated");
            // linux-abi not claimed: its rules are NOT_APPLICABLE with the reason, under their level
            assertThat(md).containsPattern("\\| `ARM-GET-ATTR` \\| \\*\\*NOT_APPLICABLE\\*\\* \\|.*not claimed");
            assertThat(o.toString()).doesNotContain("ARM-HAS-ATTR            required");   // quiet: no progress lines
        } finally {
            if (previous == null) {
                System.clearProperty(AllureHtml.HOME_PROPERTY);
            } else {
                System.setProperty(AllureHtml.HOME_PROPERTY, previous);
            }
            Leftovers.deleteQuietly(d);
        }
    }
}
