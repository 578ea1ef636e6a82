package dev.stealtime.tck.runner.result;

import dev.stealtime.tck.runner.host.Leftovers;
import org.testng.annotations.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The HTML report: one self-contained file, generated in-process from the Allure distribution. */
public class AllureHtmlTest {

    @Test
    public void generatesASingleFileReportWithTheBehaviorsTab() throws Exception {
        Path results = AllureFixtureRun.run();
        Path report = Files.createTempDirectory("tck-report");
        try {
            AllureResultsDir.complete(results, Map.of("Provider", "fixture"));
            Path index = AllureHtml.locate().generate(List.of(results), report, "fixture report");
            assertThat(index).isRegularFile();
            try (var files = Files.list(report)) {
                assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("index.html");
            }
            String html = Files.readString(index, StandardCharsets.UTF_8);
            assertThat(html).contains("behaviors");       // the Behaviors plugin is in
            assertThat(html.length()).isGreaterThan(100_000);
        } finally {
            Leftovers.deleteQuietly(results);
            Leftovers.deleteQuietly(report);
        }
    }

    @Test
    public void failuresAreOneLineReasons() throws Exception {
        Path report = Files.createTempDirectory("tck-report");
        try {
            assertThatThrownBy(() -> AllureHtml.locate().generate(List.of(report.resolve("missing")), report, "x"))
                    .isInstanceOf(AllureHtml.ReportException.class).hasMessageContaining("does not exist")
                    .hasMessageNotContaining("\n");
            assertThatThrownBy(() -> new AllureHtml(report).generate(List.of(report), report.resolve("out"), "x"))
                    .isInstanceOf(AllureHtml.ReportException.class).hasMessageNotContaining("\n");
        } finally {
            Leftovers.deleteQuietly(report);
        }
    }

    @Test
    public void cleaningEmptiesTheResultsDirectory() throws Exception {
        Path dir = Files.createTempDirectory("tck-results");
        try {
            Files.writeString(dir.resolve("old-result.json"), "{}");
            AllureResultsDir.clean(dir);
            try (var files = Files.list(dir)) {
                assertThat(files).isEmpty();
            }
        } finally {
            Leftovers.deleteQuietly(dir);
        }
    }
}
