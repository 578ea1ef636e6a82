package dev.stealtime.tck.runner.cli;

import com.example.fixtures.Acme;
import com.example.fixtures.FaultyReference;
import com.example.fixtures.FixtureJars;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.host.Leftovers;
import dev.stealtime.tck.runner.host.OutDir;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static dev.stealtime.tck.runner.cli.CliContractTest.tck;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code tck merge}: six runs (the reference on each architecture and on both, a faulty variant of
 * the reference on each architecture, an unavailable provider) merge into one matrix whose
 * disagreeing rows come first; one Allure report holds every run's tests labelled with the run's
 * parameters; damaged and partial run directories are reported, never dropped; runs of different
 * TCK versions or catalogues are refused; usage errors are one line, exit 2.
 */
public class MergeCommandTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private Path work;
    private Path cells;
    /** run name → exit code of its tck run */
    private final Map<String, Integer> runs = new LinkedHashMap<>();

    @BeforeClass
    public void runSixCells() throws IOException {
        work = Files.createTempDirectory("tck-merge");
        cells = Files.createDirectories(work.resolve("cells"));
        Path jar = FixtureJars.jar(work, "fixtures.jar", FaultyReference.SetsFlags.class, FaultyReference.BigEndianStolenTime.class,
                Acme.Down.class);
        cell("reference-x86", "--suite", "x86");
        cell("reference-arm64", "--suite", "arm64");
        cell("reference-all", "--suite", "all");
        cell("faulty-flags-x86", "--provider-jar", jar.toString(), "--provider", "faulty-sets-flags", "--suite", "x86");
        cell("faulty-big-endian-arm64", "--provider-jar", jar.toString(), "--provider", "faulty-big-endian-stolen-time", "--suite", "arm64");
        cell("acme-down-arm64", "--provider-jar", jar.toString(), "--provider", "acme-down", "--suite", "arm64");
        assertThat(runs).as("exit codes of the six cells").containsExactly(
                Map.entry("reference-x86", 0), Map.entry("reference-arm64", 0), Map.entry("reference-all", 0),
                Map.entry("faulty-flags-x86", 1), Map.entry("faulty-big-endian-arm64", 1), Map.entry("acme-down-arm64", 4));
    }

    private void cell(String name, String... args) {
        List<String> a = new ArrayList<>(List.of("run", "--out", cells.resolve(name).toString(), "--no-report", "-q", "--race-budget", "200ms"));
        a.addAll(List.of(args));
        CliContractTest.Result r = tck(a.toArray(String[]::new));
        runs.put(name, r.code());
    }

    @AfterClass(alwaysRun = true)
    public void cleanUp() {
        Leftovers.deleteQuietly(work);
    }

    private String[] cellDirs() {
        return runs.keySet().stream().map(n -> cells.resolve(n).toString()).toArray(String[]::new);
    }

    private static String[] args(String[] dirs, String... more) {
        List<String> a = new ArrayList<>(List.of("merge"));
        a.addAll(List.of(dirs));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    public void sixRunsMergeIntoOneMatrixWithTheDisagreeingRowsFirst() throws IOException {
        Path m = work.resolve("matrix");
        CliContractTest.Result r = tck(args(cellDirs(), "--out", m.toString()));
        assertThat(r.code()).as("tck merge exit code; stderr: %s", r.err()).isZero();
        assertThat(r.err()).isEmpty();
        JsonNode matrix = JSON.readTree(m.resolve("matrix.json").toFile());
        assertThat(matrix.path("runs").size()).isEqualTo(6);
        List<String> names = new ArrayList<>();
        matrix.path("runs").forEach(run -> names.add(run.path("name").asText()));
        assertThat(names).containsExactlyElementsOf(runs.keySet());
        assertThat(matrix.path("runs").get(3).path("provider").asText()).isEqualTo("faulty-sets-flags");
        assertThat(matrix.path("runs").get(2).path("architecture").asText()).isEqualTo("x86+arm64");
        assertThat(matrix.path("runs").get(0).path("kernel").asText()).startsWith("host ");

        List<JsonNode> rows = new ArrayList<>();
        matrix.path("rows").forEach(rows::add);
        assertThat(rows).hasSize(RuleCatalogue.get().all().size());
        int firstAgreeing = 0;
        while (firstAgreeing < rows.size() && rows.get(firstAgreeing).path("disagree").asBoolean()) {
            firstAgreeing++;
        }
        assertThat(firstAgreeing).as("disagreeing rows").isPositive().isLessThan(rows.size());
        assertThat(rows.subList(firstAgreeing, rows.size())).as("no disagreeing row after the first agreeing one")
                .noneMatch(row -> row.path("disagree").asBoolean());

        JsonNode flags = rows.stream().filter(row -> row.path("rule").asText().equals("X86-FLAGS-ZERO")).findFirst().orElseThrow();
        assertThat(rows.indexOf(flags)).as("X86-FLAGS-ZERO is among the disagreeing rows").isLessThan(firstAgreeing);
        List<String> outcomes = new ArrayList<>();
        flags.path("cells").forEach(c -> outcomes.add(c.path("outcome").asText()));
        assertThat(outcomes).containsExactly("PASS", "NOT RUN", "PASS", "FAIL", "NOT RUN", "NOT RUN");
        JsonNode failCell = flags.path("cells").get(3);
        assertThat(failCell.path("message").asText()).contains("flags");
        assertThat(m.resolve(failCell.path("evidence").asText()).normalize())
                .as("the FAIL cell's evidence link").isRegularFile().hasFileName("conformance.md");
        assertThat(Files.readString(m.resolve(failCell.path("evidence").asText()))).contains("`X86-FLAGS-ZERO` | **FAIL**");
        // every arm64 rule: PASS in the reference, NOT APPLICABLE in the unavailable provider
        JsonNode arm = rows.stream().filter(row -> row.path("suite").asText().equals("arm64")).findFirst().orElseThrow();
        assertThat(arm.path("disagree").asBoolean()).isTrue();
        assertThat(arm.path("cells").get(5).path("outcome").asText()).isEqualTo("NOT APPLICABLE");
        // an x86 rule the faulty variant does not break: all x86 runs PASS, the arm64 runs NOT RUN -> agree
        JsonNode agreeing = rows.get(firstAgreeing);
        assertThat(agreeing.path("suite").asText()).isEqualTo("x86");

        // matrix.md and matrix.html: the same rows in the same order, the disagreeing ones marked
        String md = Files.readString(m.resolve("matrix.md"));
        List<String> mdRows = md.lines().filter(l -> l.matches("\\| (\\*\\*≠\\*\\* )?`[A-Z0-9-]+` \\|.*")).toList();
        assertThat(mdRows).hasSameSizeAs(rows);
        for (int i = 0; i < rows.size(); i++) {
            assertThat(mdRows.get(i)).contains("`" + rows.get(i).path("rule").asText() + "`");
            assertThat(mdRows.get(i).startsWith("| **≠**")).isEqualTo(i < firstAgreeing);
        }
        String html = Files.readString(m.resolve("matrix.html"));
        Matcher tr = Pattern.compile("<tr class=\"(disagree|agree)\" data-rule=\"([^\"]+)\"").matcher(html);
        List<String> htmlRows = new ArrayList<>();
        while (tr.find()) {
            htmlRows.add(tr.group(1) + " " + tr.group(2));
        }
        assertThat(htmlRows).hasSameSizeAs(rows);
        for (int i = 0; i < rows.size(); i++) {
            assertThat(htmlRows.get(i)).isEqualTo((i < firstAgreeing ? "disagree " : "agree ") + rows.get(i).path("rule").asText());
        }
        assertThat(r.out()).contains("merged 6 run(s)").contains("≠ X86-FLAGS-ZERO");
    }

    @Test
    public void theMergedAllureReportHoldsEveryRunsTestsLabelledWithItsParameters() throws IOException {
        Path m = work.resolve("matrix-report");
        CliContractTest.Result r = tck(args(cellDirs(), "--out", m.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        Path index = m.resolve("report/index.html");
        assertThat(index).isRegularFile();
        Map<String, Integer> expected = new LinkedHashMap<>();
        for (String run : runs.keySet()) {
            try (Stream<Path> s = Files.list(cells.resolve(run).resolve(OutDir.ALLURE_RESULTS))) {
                expected.put(run, (int) s.filter(p -> p.getFileName().toString().endsWith("-result.json")).count());
            }
        }
        Map<String, Integer> seen = new LinkedHashMap<>();
        Matcher d = Pattern.compile("d\\('data/test-cases/[^']+\\.json','([^']*)'\\)").matcher(Files.readString(index));
        while (d.find()) {
            JsonNode tc = JSON.readTree(Base64.getDecoder().decode(d.group(1)));
            Map<String, String> params = new LinkedHashMap<>();
            tc.path("parameters").forEach(p -> params.put(p.path("name").asText(), p.path("value").asText()));
            assertThat(params).as("parameters of %s", tc.path("fullName").asText())
                    .containsKeys("run", "provider", "architecture", "kernel", "host");
            Map<String, String> labels = new LinkedHashMap<>();
            tc.path("labels").forEach(l -> labels.putIfAbsent(l.path("name").asText(), l.path("value").asText()));
            assertThat(labels.get("parentSuite")).isEqualTo(params.get("run"));
            assertThat(labels.get("provider")).isEqualTo(params.get("provider"));
            seen.merge(params.get("run"), 1, Integer::sum);
        }
        assertThat(seen).as("test results per run in the merged report").isEqualTo(expected);
        JsonNode matrix = JSON.readTree(m.resolve("matrix.json").toFile());
        assertThat(matrix.path("report").asText()).isEqualTo("report/index.html");
        assertThat(Files.readString(m.resolve("matrix.html"))).contains("href=\"report/index.html\"");
    }

    @Test
    public void damagedAndPartialRunDirectoriesAreReportedNeverDropped() throws IOException {
        Path partial = copy("reference-x86", "interrupted");
        ObjectNode s = (ObjectNode) JSON.readTree(partial.resolve(OutDir.JSON).toFile());
        s.put("verdict", "INTERRUPTED").put("verdictText", "INTERRUPTED");
        int n = 0;
        for (JsonNode rule : s.withArray("rules")) {
            if (n++ % 2 == 1) {
                ((ObjectNode) rule).put("outcome", "NOT_RUN");
            }
        }
        ((ObjectNode) s.path("totals")).put("notRun", n / 2);
        Files.writeString(partial.resolve(OutDir.JSON), JSON.writeValueAsString(s));
        Path truncated = copy("reference-arm64", "truncated");
        String text = Files.readString(truncated.resolve(OutDir.JSON));
        Files.writeString(truncated.resolve(OutDir.JSON), text.substring(0, text.length() / 2));
        Path noResults = copy("reference-arm64", "no-allure-results");
        Leftovers.deleteQuietly(noResults.resolve(OutDir.ALLURE_RESULTS));
        Path stranger = Files.createDirectories(work.resolve("damaged").resolve("holiday-photos"));
        Files.writeString(stranger.resolve("beach.txt"), "not a run");

        Path m = work.resolve("matrix-damaged");
        CliContractTest.Result r = tck("merge", cells.resolve("reference-x86").toString(), partial.toString(), truncated.toString(),
                noResults.toString(), stranger.toString(), "--out", m.toString());
        assertThat(r.code()).as("exit code with damaged and partial runs; stderr: %s", r.err()).isEqualTo(1);
        JsonNode matrix = JSON.readTree(m.resolve("matrix.json").toFile());
        List<String> names = new ArrayList<>();
        matrix.path("runs").forEach(run -> names.add(run.path("name").asText()));
        assertThat(names).containsExactly("reference-x86", "interrupted", "no-allure-results");
        assertThat(matrix.path("runs").get(1).path("partial").asBoolean()).isTrue();
        Map<String, String> problems = new LinkedHashMap<>();
        matrix.path("problems").forEach(p -> problems.merge(Path.of(p.path("dir").asText()).getFileName().toString(),
                (p.path("merged").asBoolean() ? "merged: " : "NOT MERGED: ") + p.path("reason").asText(), (a, b) -> a + "; " + b));
        assertThat(problems).containsOnlyKeys("interrupted", "truncated", "no-allure-results", "holiday-photos");
        assertThat(problems.get("interrupted")).startsWith("merged: partial: the run was INTERRUPTED");
        assertThat(problems.get("truncated")).startsWith("NOT MERGED: damaged: conformance.json is not valid JSON");
        assertThat(problems.get("no-allure-results")).startsWith("merged: partial: no Allure results");
        assertThat(problems.get("holiday-photos")).startsWith("NOT MERGED: not a run directory");
        assertThat(r.err().lines().toList()).hasSize(4).allMatch(l -> l.startsWith("tck: ")).noneMatch(l -> l.contains("Exception"));
        String md = Files.readString(m.resolve("matrix.md"));
        assertThat(md).contains("## Run directories with problems").contains("**NOT MERGED**, damaged: conformance.json is not valid JSON")
                .contains("INTERRUPTED (partial)");
        JsonNode interruptedCells = matrix.path("rows").get(0).path("cells");
        assertThat(interruptedCells.size()).isEqualTo(3);
        assertThat(Files.readString(m.resolve("matrix.html"))).contains("<b>NOT MERGED</b>, not a run directory");
    }

    @Test
    public void runsOfDifferentTckVersionsOrCataloguesAreRefusedWithTheReason() throws IOException {
        Path other = copy("reference-arm64", "tck-0.2.0");
        ObjectNode s = (ObjectNode) JSON.readTree(other.resolve(OutDir.JSON).toFile());
        ((ObjectNode) s.path("tck")).put("version", "0.2.0");
        Files.writeString(other.resolve(OutDir.JSON), JSON.writeValueAsString(s));
        Path m = work.resolve("refused");
        CliContractTest.Result r = tck("merge", cells.resolve("reference-x86").toString(), other.toString(), "--out", m.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("tck: refused: runs of different TCK versions are not comparable")
                .contains("reference-x86 is TCK 0.1.0-SNAPSHOT").contains("tck-0.2.0 is TCK 0.2.0");
        assertThat(m).doesNotExist();

        Path otherCatalogue = copy("reference-arm64", "other-catalogue");
        s = (ObjectNode) JSON.readTree(otherCatalogue.resolve(OutDir.JSON).toFile());
        ((ObjectNode) s.path("tck")).put("catalogue", "0".repeat(64));
        Files.writeString(otherCatalogue.resolve(OutDir.JSON), JSON.writeValueAsString(s));
        r = tck("merge", cells.resolve("reference-x86").toString(), otherCatalogue.toString(), "--out", m.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").contains("different rule catalogues are not comparable")
                .contains("other-catalogue has 000000000000");
        assertThat(m).doesNotExist();

        Path oldSchema = copy("reference-arm64", "old-schema");
        s = (ObjectNode) JSON.readTree(oldSchema.resolve(OutDir.JSON).toFile());
        s.remove("schemaVersion");
        Files.writeString(oldSchema.resolve(OutDir.JSON), JSON.writeValueAsString(s));
        r = tck("merge", oldSchema.toString(), "--out", m.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("tck: nothing to merge:").contains("has no schemaVersion");
    }

    @Test
    public void usageErrorsAreOneLineExitTwo() {
        String ref = cells.resolve("reference-x86").toString();
        List<CliContractTest.Result> bad = List.of(
                tck("merge"),
                tck("merge", ref),
                tck("merge", work.resolve("no-such-run").toString(), "--out", work.resolve("m1").toString()),
                tck("merge", ref, "--out", ref),
                tck("merge", ref, ref, "--out", work.resolve("m2").toString()),
                tck("merge", ref, "--out", work.resolve("m3").toString(), "--frobnicate"));
        for (CliContractTest.Result r : bad) {
            assertThat(r.code()).as(r.err()).isEqualTo(2);
            assertThat(r.err().strip()).as("one line").startsWith("tck: ").doesNotContain("\n").doesNotContain("Exception");
        }
        assertThat(bad.get(0).err()).contains("DIR");
        assertThat(bad.get(1).err()).contains("--out");
        assertThat(bad.get(2).err()).contains("does not exist");
        assertThat(bad.get(3).err()).contains("also given as a run directory");
        assertThat(bad.get(4).err()).contains("given twice");
    }

    private Path copy(String run, String as) throws IOException {
        Path to = work.resolve("damaged").resolve(as);
        InterruptedRunsTest.copyTree(cells.resolve(run), to);
        return to;
    }
}
