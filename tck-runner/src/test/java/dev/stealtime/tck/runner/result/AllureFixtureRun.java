package dev.stealtime.tck.runner.result;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.result.fixture.LabelFixture;
import org.testng.TestNG;
import org.testng.xml.XmlClass;
import org.testng.xml.XmlSuite;
import org.testng.xml.XmlTest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Runs {@link LabelFixture} through TestNG (as the runner does) with its Allure results in a directory. */
final class AllureFixtureRun {

    private AllureFixtureRun() {
    }

    static Path run() {
        try {
            Path dir = Files.createTempDirectory("tck-allure-fixture");
            XmlSuite suite = new XmlSuite();
            suite.setName("fixture");
            XmlTest test = new XmlTest(suite);
            test.setName("x86");
            test.setXmlClasses(List.of(new XmlClass(LabelFixture.class)));
            TestNG testng = new TestNG(false);
            testng.setUseDefaultListeners(false);
            testng.setVerbose(0);
            testng.setXmlSuites(List.of(suite));
            try (AllureScope scope = AllureScope.open(dir)) {
                testng.run();
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<JsonNode> results(Path dir) {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.getFileName().toString().endsWith("-result.json")).toList()) {
                out.add(json.readTree(f.toFile()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static JsonNode result(List<JsonNode> results, String methodPrefix) {
        return results.stream().filter(r -> r.path("name").asText().startsWith(methodPrefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no result for " + methodPrefix + " in " + results.size() + " results"));
    }

    static List<String> labels(JsonNode result, String name) {
        List<String> out = new ArrayList<>();
        result.path("labels").forEach(l -> {
            if (name.equals(l.path("name").asText())) {
                out.add(l.path("value").asText());
            }
        });
        return out;
    }
}
