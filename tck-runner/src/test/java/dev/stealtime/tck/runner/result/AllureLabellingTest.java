package dev.stealtime.tck.runner.result;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stealtime.tck.runner.host.Leftovers;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.runner.result.AllureFixtureRun.labels;
import static dev.stealtime.tck.runner.result.AllureFixtureRun.result;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The central Allure wiring: every TCK test is labelled from its @TckRule and the catalogue, and
 * the evidence the suites attach lands in the results.
 */
public class AllureLabellingTest {

    private Path dir;
    private List<JsonNode> results;

    @BeforeClass
    public void runFixture() {
        dir = AllureFixtureRun.run();
        results = AllureFixtureRun.results(dir);
    }

    @AfterClass(alwaysRun = true)
    public void cleanUp() {
        Leftovers.deleteQuietly(dir);
    }

    @Test
    public void everyFixtureTestHasOneResult() {
        // 1 + 2 data-driven + 1 + 1 + 1 + 1 without rule
        assertThat(results).hasSize(7);
    }

    @Test
    public void epicFeatureStorySeverityAndTagsComeFromTheCatalogue() {
        JsonNode r = result(results, "X86_FLAGS_ZERO");
        assertThat(labels(r, "epic")).containsExactly("x86 MSR_KVM_STEAL_TIME");
        assertThat(labels(r, "feature")).containsExactly("Structure layout");
        assertThat(labels(r, "story")).containsExactly("X86-FLAGS-ZERO: flags stays zero");
        assertThat(labels(r, "severity")).containsExactly("critical");
        assertThat(labels(r, "tag")).contains("required", "X86-FLAGS-ZERO");

        JsonNode arm = result(results, "ARM_ATOMIC_UPDATE");
        assertThat(labels(arm, "epic")).containsExactly("arm64 PV time");
        assertThat(labels(arm, "story")).singleElement().asString().startsWith("ARM-ATOMIC-UPDATE: ");

        assertThat(labels(result(results, "X86_ALIGN_REJECT"), "severity")).containsExactly("normal");
        assertThat(labels(result(results, "X86_PAD_UNTOUCHED"), "severity")).containsExactly("minor");
    }

    @Test
    public void linksPointAtTheRuleSources() {
        JsonNode r = result(results, "X86_ALIGN_REJECT");   // source: kvm x86.c
        assertThat(r.path("links").toString()).contains("arch/x86/kvm/x86.c");
        JsonNode seed = result(results, "X86_FLAGS_ZERO"); // source: 000
        assertThat(seed.path("links").toString()).contains("docs/sources.md, section 000").contains("x86/msr.html");
        assertThat(seed.path("description").asText()).contains("X86-FLAGS-ZERO").contains("required");
    }

    @Test
    public void dataDrivenCasesCarryTheirParameters() {
        List<String> params = new ArrayList<>();
        results.stream().filter(r -> r.path("name").asText().startsWith("X86_ALIGN_REJECT"))
                .forEach(r -> params.add(r.path("parameters").toString()));
        assertThat(params).hasSize(2);
        assertThat(String.join(" ", params)).contains("reserved bits").contains("0x02").contains("0x04");
    }

    @Test
    public void failureCarriesTheHexDumpAttachment() throws Exception {
        JsonNode r = result(results, "X86_FLAGS_ZERO");
        assertThat(r.path("status").asText()).isEqualTo("failed");
        JsonNode attachment = null;
        for (JsonNode a : r.path("attachments")) {
            if (a.path("name").asText().startsWith("structure hex dump")) {
                attachment = a;
            }
        }
        assertThat(attachment).as("hex dump attachment in %s", r.path("attachments")).isNotNull();
        String dump = Files.readString(dir.resolve(attachment.path("source").asText()), StandardCharsets.UTF_8);
        assertThat(dump).contains("before:").contains("after:").contains("0x00010000").contains("bytes changed at offsets: [8,12]");
    }

    @Test
    public void stepsAndTheirAttachmentsAreRecorded() {
        JsonNode r = result(results, "X86_MSR_ACCESS");
        assertThat(r.path("steps").toString()).contains("write and read the MSR").contains("errno table");
    }

    @Test
    public void declaredNotApplicableIsSkippedButAPlainSkipIsBroken() {
        JsonNode na = result(results, "ARM_ATOMIC_UPDATE");
        assertThat(na.path("status").asText()).isEqualTo("skipped");
        assertThat(na.path("statusDetails").path("message").asText()).startsWith("NOT APPLICABLE: ");
        JsonNode plain = result(results, "X86_PAD_UNTOUCHED");
        assertThat(plain.path("status").asText()).isEqualTo("broken");
        assertThat(plain.path("statusDetails").path("message").asText())
                .startsWith("skipped, which the TCK counts as a failure: ").contains("no declared reason");
    }

    @Test
    public void testsWithoutARuleAreLeftAlone() {
        JsonNode r = result(results, "withoutRule");
        assertThat(labels(r, "epic")).isEmpty();
        assertThat(labels(r, "story")).isEmpty();
    }
}
