package dev.stealtime.tck.runner;

import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The vendor's guide's pom ({@code docs/vendors.md}, "Gate your Maven build") compiles as copied: it is
 * the pom of {@code src/it/vendor-gate-pass},
 * which {@code ./mvnw -B verify} builds with maven-invoker-plugin (and which must pass and end
 * with the Allure HTML report).
 */
public class VendorSnippetTest {

    @Test
    public void theVendorGuidesPomIsTheInvokerBuildsPom() throws IOException {
        String guide = Files.readString(Path.of("..", "docs", "vendors.md"));
        String pom = Files.readString(Path.of("src", "it", "vendor-gate-pass", "pom.xml"));
        String project = pom.substring(pom.indexOf("<project")).strip();
        int at = guide.indexOf("```xml\n<project");
        assertThat(at).as("docs/vendors.md has a ```xml block with a complete <project> (the vendor pom)").isNotNegative();
        String snippet = guide.substring(at + "```xml\n".length(), guide.indexOf("\n```", at + 7)).strip();
        assertThat(snippet).as("the vendor pom of docs/vendors.md differs from src/it/vendor-gate-pass/pom.xml (from <project> on)")
                .isEqualTo(project);
        assertThat(snippet).contains("<maven.compiler.release>17</maven.compiler.release>", "<artifactId>allure-maven</artifactId>");
    }
}
