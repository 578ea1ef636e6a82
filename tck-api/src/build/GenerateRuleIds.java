import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Build step of tck-api (generate-sources): writes {@code dev/stealtime/tck/rules/RuleIds.java}, one
 * constant per rule of {@code catalogue.tsv}, so that a test names its rule as
 * {@code @TckRule(X86_ENABLE)} and a typo fails compilation. Run with the JDK's single-file launcher:
 * {@code java GenerateRuleIds.java CATALOGUE.tsv OUTPUT-SOURCE-DIR}.
 */
public final class GenerateRuleIds {

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: java GenerateRuleIds.java CATALOGUE.tsv OUTPUT-SOURCE-DIR");
            System.exit(2);
        }
        Path tsv = Path.of(args[0]);
        Path out = Path.of(args[1]).resolve("dev/stealtime/tck/rules/RuleIds.java");
        List<String> lines = Files.readAllLines(tsv, StandardCharsets.UTF_8);
        StringBuilder java = new StringBuilder();
        java.append("package dev.stealtime.tck.rules;\n\n")
            .append("/**\n * The catalogue's rule ids as constants, generated at build time from {@code catalogue.tsv}\n")
            .append(" * (tck-api/src/build/GenerateRuleIds.java): name a rule as {@code @TckRule(RuleIds.X86_ENABLE)},\n")
            .append(" * so a typo fails compilation. Do not edit: change the catalogue.\n */\n")
            .append("public final class RuleIds {\n\n    private RuleIds() {\n    }\n");
        List<String> seen = new ArrayList<>();
        for (String line : lines) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t", -1);
            if (f.length < 5 || !f[0].matches("(X86|ARM)-[A-Z0-9-]+")) {
                throw new IllegalArgumentException(tsv + ": not a rule line: " + line);
            }
            String constant = f[0].replace('-', '_').toUpperCase(Locale.ROOT);
            if (seen.contains(constant)) {
                throw new IllegalArgumentException(tsv + ": rule " + f[0] + " twice");
            }
            seen.add(constant);
            java.append("\n    /** ").append(escape(f[4])).append(" ({@code ").append(f[1]).append("}; source: ")
                .append(escape(f[3])).append(") */\n")
                .append("    public static final String ").append(constant).append(" = \"").append(f[0]).append("\";\n");
        }
        java.append("}\n");
        Files.createDirectories(out.getParent());
        String text = java.toString();
        if (!Files.exists(out) || !Files.readString(out, StandardCharsets.UTF_8).equals(text)) {
            Files.writeString(out, text, StandardCharsets.UTF_8);    // unchanged: left alone, so no recompilation
        }
        System.out.println("RuleIds: " + seen.size() + " rules from " + tsv);
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*/", "*&#47;").replace("@", "&#64;");
    }
}
