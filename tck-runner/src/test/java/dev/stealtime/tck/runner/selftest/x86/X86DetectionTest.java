package dev.stealtime.tck.runner.selftest.x86;

import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import dev.stealtime.tck.runner.selftest.FaultyVariant;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The x86 suite's detection power and fairness: every faulty variant (the reference with one
 * defect) is caught by the rule that names its defect and fails no rule its defect does not
 * violate, and every x86 rule of the catalogue catches at least one variant. The other half: every
 * faulty variant whose defect is below {@code required} passes when only {@code required} is
 * claimed, and every legal variant ({@link X86LegalVariants}) passes every rule of the levels it is
 * legal at. The table goes to stdout and to
 * {@code target/detection-x86.txt}.
 */
public class X86DetectionTest {

    @Test
    public void everyVariantIsCaughtByItsRuleAndEveryX86RuleCatchesOne() throws IOException {
        List<FaultyVariant> variants = X86FaultyVariants.all();
        DetectionTable table = DetectionTable.bothHalves(Suite.X86, variants, X86LegalVariants.all());

        Map<String, List<String>> catches = table.catchesByRule();
        StringBuilder byRule = new StringBuilder("\nRule → variants it caught\n");
        List<Rule> rules = RuleCatalogue.get().suite("x86");
        Map<String, String> uncaught = new TreeMap<>();
        for (Rule r : rules) {
            List<String> caught = catches.getOrDefault(r.id(), List.of());
            byRule.append(String.format("%-26s %s%n", r.id(), caught.isEmpty() ? "NOTHING" : String.join(", ", caught)));
            if (caught.isEmpty()) {
                uncaught.put(r.id(), r.statement());
            }
        }
        StringBuilder defects = new StringBuilder("\nVariant defects\n");
        for (FaultyVariant v : variants) {
            defects.append(String.format("%-36s %s; must fail %s%s%n", v.name(), v.defect(), v.mustFail(),
                    v.mayAlsoFail().isEmpty() ? "" : ", may also fail " + v.mayAlsoFail()));
        }
        String text = table.render() + byRule + defects
                + (table.problems().isEmpty() ? "\nno problems\n" : "\nPROBLEMS\n" + String.join("\n", table.problems()) + "\n");
        System.out.println(text);
        Path out = Path.of("target", "detection-x86.txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, text);

        assertThat(table.problems()).as("escapes, false accusations and fair hypervisors failed:%n%s", text).isEmpty();
        assertThat(table.passRows()).as("legal and below-required runs").isNotEmpty();
        assertThat(uncaught).as("x86 rules that caught no variant (a test no faulty hypervisor can fail is suspect)").isEmpty();
        assertThat(variants.size()).as("at least one variant per x86 rule").isGreaterThanOrEqualTo(rules.size());
    }
}
