package dev.stealtime.tck.runner;

import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's vendor pom compiles as copied: it is the pom of {@code src/it/vendor-gate-pass},
 * which {@code ./mvnw -B verify} builds with maven-invoker-plugin (and which must pass and end
 * with the Allure HTML report).
 */
public class VendorSnippetTest {

    @Test
    public void theReadmeVendorPomIsTheInvokerBuildsPom() throws IOException {
        String readme = Files.readString(Path.of("..", "README.md"));
        String pom = Files.readString(Path.of("src", "it", "vendor-gate-pass", "pom.xml"));
        String project = pom.substring(pom.indexOf("<project")).strip();
        int at = readme.indexOf("```xml\n<project");
        assertThat(at).as("README.md has a ```xml block with a complete <project> (the vendor pom)").isNotNegative();
        String snippet = readme.substring(at + "```xml\n".length(), readme.indexOf("\n```", at + 7)).strip();
        assertThat(snippet).as("the README's vendor pom differs from src/it/vendor-gate-pass/pom.xml (from <project> on)")
                .isEqualTo(project);
        assertThat(snippet).contains("<maven.compiler.release>17</maven.compiler.release>", "<artifactId>allure-maven</artifactId>");
    }
}
