package dev.stealtime.tck.runner.result;

import com.example.fixtures.FaultyReference;
import com.example.fixtures.FixtureJars;
import com.fasterxml.jackson.databind.JsonNode;
import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.TckCli;
import dev.stealtime.tck.runner.host.Leftovers;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.run.ConformanceSummary;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.support.TckConfig;
import org.testng.annotations.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * results.ktap: every run writes it, one subtest per rule, and the kernel's own parser
 * (tools/testing/kunit/kunit_parser.py) reads it with the counts of the run's summary.
 */
public class KtapTest {

    @Test
    public void aFailingRunsKtapParsesWithTheKernelParserWithItsCounts() throws Exception {
        Path work = Files.createTempDirectory("ktap-run");
        try {
            Path jar = FixtureJars.jar(work, "faulty.jar", FaultyReference.SetsFlags.class);
            Path out = work.resolve("run");
            StringWriter o = new StringWriter();
            StringWriter e = new StringWriter();
            int code = TckCli.execute(new String[]{"run", "--provider-jar", jar.toString(), "--suite", "x86", "--out", out.toString(),
                    "--no-report", "-q", "--race-budget", "200ms"}, new PrintWriter(o, true), new PrintWriter(e, true));
            assertThat(code).as("exit code of a run against faulty-sets-flags; stderr: %s", e).isEqualTo(TckCli.GATING_FAILURE);
            RunSummary s = SummaryJson.read(out.resolve("conformance.json"));
            assertThat(s.totals().fail()).as("failing rules in the summary").isPositive();

            JsonNode k = KernelKtapParser.parse(out.resolve(Ktap.FILE));
            assertThat(k.path("errors").asInt()).as("parse errors of kunit_parser on results.ktap").isZero();
            assertThat(k.path("crashed").asInt()).as("crashed tests").isZero();
            assertThat(k.path("passed").asLong()).as("passed").isEqualTo(s.totals().pass());
            assertThat(k.path("failed").asLong()).as("failed").isEqualTo(s.totals().fail());
            assertThat(k.path("skipped").asLong()).as("skipped").isEqualTo(s.totals().notApplicable() + s.totals().notRun());
            assertThat(k.path("status").asText()).isEqualTo("FAILURE");
            List<String> names = new ArrayList<>();
            k.path("leaves").forEach(l -> names.add(l.path("name").asText()));
            assertThat(names).as("one subtest per rule, in the summary's order")
                    .containsExactlyElementsOf(s.rules().stream().map(RunSummary.RuleEntry::id).toList());
            JsonNode flags = null;
            for (JsonNode l : k.path("leaves")) {
                if (l.path("name").asText().equals("X86-FLAGS-ZERO")) {
                    flags = l;
                }
            }
            assertThat(flags).isNotNull();
            assertThat(flags.path("status").asText()).isEqualTo("FAILURE");
            assertThat(flags.path("suite").asText()).isEqualTo("steal_time_x86");
            String reason = s.rules().stream().filter(r -> r.id().equals("X86-FLAGS-ZERO")).findFirst().orElseThrow().message();
            assertThat(flags.path("log").toString()).as("the failure reason as the test's diagnostics")
                    .contains(reason.lines().findFirst().orElseThrow().replace("\"", "\\\""));
        } finally {
            Leftovers.deleteQuietly(work);
        }
    }

    @Test
    public void messagesThatLookLikeKtapStayDiagnosticsAndEveryOutcomeIsCounted() throws Exception {
        List<Rule> rules = RuleCatalogue.get().all();
        String hostile = "KTAP version 1\n1..3\nok 1 fake\nnot ok 2 fake\n# Subtest: fake\nSubtest: fake\n  ok 3 - indented # SKIP no";
        List<RuleResult> results = new ArrayList<>();
        int[] expected = new int[3];   // passed, failed, skipped
        for (int i = 0; i < rules.size(); i++) {
            Outcome o = switch (i % 4) {
                case 0 -> Outcome.FAIL;
                case 1 -> Outcome.NOT_APPLICABLE;
                case 2 -> Outcome.NOT_RUN;
                default -> Outcome.PASS;
            };
            expected[o == Outcome.PASS ? 0 : o == Outcome.FAIL ? 1 : 2]++;
            String msg = o == Outcome.PASS ? "" : "#1 " + hostile;
            results.add(new RuleResult(rules.get(i), o, List.of(new TestOutcome("T.m", List.of(rules.get(i).id()), o, msg, 1)), msg, 1));
        }
        RunSummary s = ConformanceSummary.build(new RunResult(results, List.of(), Duration.ofSeconds(1), true),
                new ReferenceProvider(), TckConfig.fromEnvironment(), List.of(Suite.values()));
        Path dir = Files.createTempDirectory("ktap");
        try {
            JsonNode k = KernelKtapParser.parse(Ktap.write(dir, s));
            assertThat(k.path("errors").asInt()).as("parse errors; the parser's view: %s", k).isZero();
            assertThat(new int[]{k.path("passed").asInt(), k.path("failed").asInt(), k.path("skipped").asInt()})
                    .as("passed, failed, skipped").containsExactly(expected);
            assertThat(k.path("leaves").size()).isEqualTo(rules.size());
        } finally {
            Leftovers.deleteQuietly(dir);
        }
    }
}
