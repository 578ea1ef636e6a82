package dev.stealtime.tck.runner.selftest.arm64;

import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import dev.stealtime.tck.runner.selftest.FaultyVariant;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The arm64 suite's detection power and fairness: each faulty variant (the reference with one
 * defect) must be caught by the rule naming its defect and by no rule it does not violate, and
 * every arm64 rule of the catalogue must catch at least one variant (a rule no defect can fail
 * would be untested). The other half: every faulty variant whose defect is below {@code required}
 * passes when only {@code required} is claimed, and every legal variant ({@link Arm64LegalVariants})
 * passes every rule of the levels it is legal at.
 */
public class Arm64DetectionTest {

    @Test
    public void everyVariantIsCaughtByItsRuleAndEveryArm64RuleCatchesOne() throws IOException {
        List<FaultyVariant> variants = Arm64FaultyVariants.all();
        DetectionTable table = DetectionTable.bothHalves(Suite.ARM64, variants, Arm64LegalVariants.all());

        Map<String, List<String>> catches = table.catchesByRule();
        Set<String> mustFailCaught = table.rows().stream().filter(DetectionTable.Row::caught)
                .flatMap(r -> r.variant().mustFail().stream()).collect(Collectors.toCollection(TreeSet::new));
        List<String> arm64Rules = RuleCatalogue.get().suite("arm64").stream().map(Rule::id).toList();
        StringBuilder report = new StringBuilder(table.render()).append('\n')
                .append(String.format("%-28s %s%n", "RULE", "VARIANTS IT CAUGHT (* = the variant's named defect)"));
        for (String id : arm64Rules) {
            List<String> named = table.rows().stream().filter(r -> r.variant().mustFail().contains(id) && r.failed().contains(id))
                    .map(r -> "*" + r.variant().name()).toList();
            List<String> collateral = catches.getOrDefault(id, List.of()).stream()
                    .filter(n -> named.stream().noneMatch(m -> m.equals("*" + n))).toList();
            report.append(String.format("%-28s %s%s%n", id, String.join(", ", named),
                    collateral.isEmpty() ? "" : (named.isEmpty() ? "" : ", ") + String.join(", ", collateral)));
        }
        List<String> problems = table.problems();
        report.append(String.format("%n%d faulty variants (%d below required, also run with --profile required), %d legal variants, "
                        + "%d arm64 rules, %d problems%n", variants.size(), variants.stream().filter(DetectionTable::belowRequired).count(),
                table.passRows().stream().filter(r -> r.kind().equals("legal")).count(), arm64Rules.size(), problems.size()));
        problems.forEach(p -> report.append("PROBLEM: ").append(p).append('\n'));
        System.out.println(report);
        Path out = Path.of("target", "detection-arm64.txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, report, StandardCharsets.UTF_8);

        assertThat(problems).as("escaped or falsely accused variants, fair hypervisors failed%n%s", report).isEmpty();
        assertThat(table.passRows()).as("legal and below-required runs").isNotEmpty();
        assertThat(arm64Rules).as("arm64 rules that caught no variant with their own named defect%n%s", report)
                .allMatch(mustFailCaught::contains);
    }
}
