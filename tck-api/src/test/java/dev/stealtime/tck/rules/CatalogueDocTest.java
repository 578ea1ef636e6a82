package dev.stealtime.tck.rules;

import dev.stealtime.tck.support.RuleSources;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code docs/catalogue.md} is rendered from {@code catalogue.tsv} and must be exactly what this
 * renderer writes, so the published catalogue never drifts from the one the TCK grades against.
 * After changing the catalogue, rewrite the page with {@value #REWRITE}.
 */
public class CatalogueDocTest {

    static final Path DOC = Path.of("..", "docs", "catalogue.md");
    static final String REWRITE = "./mvnw -B -pl tck-api test -Dtest=CatalogueDocTest -Dcatalogue.write=true";

    @Test
    public void docsCatalogueIsRenderedFromTheTsv() throws IOException {
        String rendered = render(RuleCatalogue.get().all());
        if (Boolean.getBoolean("catalogue.write")) {
            Files.writeString(DOC, rendered, StandardCharsets.UTF_8);
        }
        assertThat(Files.exists(DOC)).as("docs/catalogue.md exists; write it with: " + REWRITE).isTrue();
        assertThat(Files.readString(DOC, StandardCharsets.UTF_8))
                .as("docs/catalogue.md differs from catalogue.tsv; rewrite it with: " + REWRITE)
                .isEqualTo(rendered);
    }

    @Test
    public void everyRuleHasItsOwnRowWithLevelAreaStatementAndSource() {
        List<Rule> rules = RuleCatalogue.get().all();
        String md = render(rules);
        assertThat(rules).hasSizeGreaterThan(60);
        for (Rule r : rules) {
            assertThat(md).contains("| `" + r.id() + "` | " + r.level().group() + " | " + cell(r.area()) + " | "
                    + cell(r.statement()) + " | " + cell(r.source()) + " |");
        }
        assertThat(md).contains("X86-TORN-READ", "ARM-ATOMIC-UPDATE", "https://docs.kernel.org/virt/kvm/x86/msr.html");
    }

    /** The whole page, deterministic: catalogue order, one table per interface, then the sources. */
    static String render(List<Rule> rules) {
        StringBuilder md = new StringBuilder();
        md.append("# The rule catalogue\n\n");
        md.append("<!-- Generated from tck-api/src/main/resources/dev/stealtime/tck/rules/catalogue.tsv by\n");
        md.append("     CatalogueDocTest; do not edit by hand. Rewrite with:\n");
        md.append("     ").append(REWRITE).append(" -->\n\n");
        md.append("Every rule the TCK grades, in the order of `catalogue.tsv` (the file the suites and `./tck rules`\n");
        md.append("read). A rule's id is stable: ids are never renumbered, only added or retired. Each test of the\n");
        md.append("suites names the rule it proves (`./tck coverage` lists them).\n\n");
        md.append("**Levels.** `required`: stated by the interface documents. `linux-abi`: what Linux KVM does where\n");
        md.append("the documents are silent. `advisory`: reported, never gates. `required` and `linux-abi` gate a\n");
        md.append("run's verdict for a vendor who claims them (`--profile`).\n\n");
        long x86 = rules.stream().filter(r -> r.suite().equals("x86")).count();
        long arm = rules.size() - x86;
        md.append(rules.size()).append(" rules: ").append(x86).append(" x86, ").append(arm).append(" arm64 (");
        boolean first = true;
        for (Level l : Level.values()) {
            md.append(first ? "" : ", ").append(rules.stream().filter(r -> r.level() == l).count()).append(' ').append(l.group());
            first = false;
        }
        md.append(").\n");
        section(md, "x86: `MSR_KVM_STEAL_TIME`", rules, "x86");
        section(md, "arm64: PV time stolen time and `KVM_ARM_VCPU_PVTIME_IPA`", rules, "arm64");
        md.append("\n## Sources\n\n");
        md.append("What the codes of the source column stand for:\n\n");
        Map<String, RuleSources.Source> sources = new LinkedHashMap<>();
        for (Rule r : rules) {
            for (String part : r.source().split(",")) {
                String code = part.replaceAll("\\(.*$", "").strip();
                // a bare "kvm" stands for the file of the rule's own architecture
                String key = code.equals("kvm") ? "`kvm` in an " + r.suite() + " rule" : "`" + code + "`";
                if (!code.isEmpty() && !sources.containsKey(key)) {
                    Rule bare = new Rule(r.id(), r.level(), r.area(), code, r.statement());
                    sources.put(key, RuleSources.of(bare).get(0));
                }
            }
        }
        sources.forEach((key, s) -> md.append("- ").append(key).append(": ")
                .append(s.name().replaceFirst("^\\d{3}: ", "")).append(", <").append(s.url()).append(">\n"));
        return md.toString();
    }

    private static void section(StringBuilder md, String title, List<Rule> rules, String suite) {
        md.append("\n## ").append(title).append("\n\n");
        md.append("| id | level | area | statement | source |\n");
        md.append("|---|---|---|---|---|\n");
        for (Rule r : rules) {
            if (r.suite().equals(suite)) {
                md.append("| `").append(r.id()).append("` | ").append(r.level().group()).append(" | ")
                        .append(cell(r.area())).append(" | ").append(cell(r.statement())).append(" | ")
                        .append(cell(r.source())).append(" |\n");
            }
        }
    }

    /** A table cell: a pipe is escaped so that it does not end the cell. */
    private static String cell(String text) {
        return text.strip().replace("|", "\\|");
    }
}
