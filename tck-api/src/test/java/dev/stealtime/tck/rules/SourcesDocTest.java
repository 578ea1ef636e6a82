package dev.stealtime.tck.rules;

import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Every code of the catalogue's source column is explained by a section of docs/sources.md, which ships. */
public class SourcesDocTest {

    static final Path DOC = Path.of("..", "docs", "sources.md");

    @Test
    public void everySourceCodeHasItsSection() throws IOException {
        String doc = Files.readString(DOC, StandardCharsets.UTF_8);
        for (Rule rule : RuleCatalogue.get().all()) {
            for (String part : rule.source().split(",")) {
                String code = part.replaceAll("\\(.*", "").trim();
                if (code.equals("000") || code.equals("002")) {
                    assertThat(doc).as("%s: source %s needs a section '## %s: ...' in %s", rule.id(), code, code, DOC)
                            .contains("\n## " + code + ": ");
                } else if (code.equals("kvm")) {
                    assertThat(doc).as("%s: bare 'kvm' is explained", rule.id()).contains("## kvm: ");
                } else {
                    assertThat(code).as("%s: source code '%s'", rule.id(), code).matches("(kvm|qemu) .+");
                    assertThat(doc).as("%s: source %s needs a row in %s", rule.id(), code, DOC).contains("`" + code + "`");
                }
            }
        }
    }
}
