package dev.stealtime.tck.runner;

import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README is the front door: short, the vendor quick start on its first screen, a link to every
 * guide in {@code docs/}, and the test command CI really runs. Every relative link of the README and
 * the guides leads to a file that exists and, when it names a section, to a heading that exists.
 */
public class ReadmeFrontDoorTest {

    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");

    @Test
    public void theReadmeIsShortAndOpensWithTheVendorQuickStart() throws IOException {
        List<String> lines = Files.readAllLines(REPO.resolve("README.md"));
        assertThat(lines.size()).as("README.md lines (the guides in docs/ hold the rest)").isLessThanOrEqualTo(250);
        int quickStart = lines.indexOf("## Quick start for a hypervisor vendor");
        assertThat(quickStart).as("the vendor quick start is a section of the README's first screen").isBetween(0, 40);
        String firstScreens = String.join("\n", lines.subList(quickStart, Math.min(lines.size(), quickStart + 50)));
        assertThat(firstScreens).contains("implements HypervisorProvider", "META-INF/services/dev.stealtime.tck.spi.HypervisorProvider",
                "./tck run --provider-jar", "docs/vendors.md");
    }

    @Test
    public void theReadmeLinksEveryGuide() throws IOException {
        String readme = Files.readString(REPO.resolve("README.md"));
        try (Stream<Path> docs = Files.list(REPO.resolve("docs"))) {
            List<String> guides = docs.map(p -> "docs/" + p.getFileName()).filter(n -> n.endsWith(".md")).sorted().toList();
            assertThat(guides).contains("docs/vendors.md", "docs/kvm-developers.md", "docs/self-validation.md",
                    "docs/catalogue.md", "docs/figures.md", "docs/adapter-protocol.md", "docs/ci-matrix.md");
            for (String g : guides) {
                assertThat(readme).as("README.md links " + g).contains("](" + g);
            }
        }
    }

    @Test
    public void theReadmesTestCommandIsWhatCiRuns() throws IOException {
        String readme = Files.readString(REPO.resolve("README.md"));
        List<String> ci = Files.readAllLines(REPO.resolve(".ci/run")).stream()
                .map(String::strip).filter(l -> l.startsWith("./mvnw ")).toList();
        assertThat(ci).as(".ci/run runs the test command").isNotEmpty();
        for (String command : ci) {
            assertThat(readme).as("README.md names the command .ci/run runs").contains("`" + command + "`");
        }
        assertThat(readme).contains("| `./mvnw -B verify` |");
        assertThat(ci).allSatisfy(c -> assertThat(c).startsWith("./mvnw -B ").endsWith(" verify"));
    }

    @Test
    public void everyRelativeLinkOfTheDocsLeadsSomewhere() throws IOException {
        List<Path> pages = new ArrayList<>();
        pages.add(REPO.resolve("README.md"));
        try (Stream<Path> docs = Files.list(REPO.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        List<String> broken = new ArrayList<>();
        int checked = 0;
        for (Path page : pages) {
            Matcher m = LINK.matcher(withoutCodeBlocks(Files.readString(page)));
            while (m.find()) {
                String target = m.group(1);
                if (target.matches("^[a-z]+:.*")) {
                    continue;
                }
                checked++;
                int hash = target.indexOf('#');
                String file = hash < 0 ? target : target.substring(0, hash);
                Path to = file.isEmpty() ? page : page.getParent().resolve(file).normalize();
                if (!Files.exists(to)) {
                    broken.add(REPO.relativize(page) + ": " + target + " (no such file)");
                } else if (hash >= 0 && to.toString().endsWith(".md")
                        && !anchors(Files.readString(to)).contains(target.substring(hash + 1))) {
                    broken.add(REPO.relativize(page) + ": " + target + " (no such heading)");
                }
            }
        }
        assertThat(checked).isGreaterThan(30);
        assertThat(broken).as("relative links of README.md and docs/*.md").isEmpty();
    }

    /** The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces to hyphens. */
    static Set<String> anchors(String markdown) {
        Set<String> out = new HashSet<>();
        for (String line : withoutCodeBlocks(markdown).split("\n")) {
            if (line.startsWith("#")) {
                String title = line.replaceFirst("^#+\\s*", "").strip().toLowerCase(Locale.ROOT);
                out.add(title.replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-'));
            }
        }
        return out;
    }

    private static String withoutCodeBlocks(String markdown) {
        return markdown.replaceAll("(?s)\n```.*?\n```", "\n");
    }
}
