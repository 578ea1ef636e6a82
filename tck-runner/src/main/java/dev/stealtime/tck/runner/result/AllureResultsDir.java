package dev.stealtime.tck.runner.result;

import dev.stealtime.tck.runner.host.Leftovers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The run's {@code allure-results/} directory: cleaned at the start of a run (Allure results
 * otherwise pile up across runs and the report mixes them), and completed at the end with the
 * report's environment table and failure categories.
 */
public final class AllureResultsDir {

    /** Failure categories: conformance failures, broken tests and unexplained skips, declared N/A. */
    static final String CATEGORIES = """
            [
              {"name": "Rule violations (the hypervisor does not conform)", "matchedStatuses": ["failed"]},
              {"name": "Broken: errors, and skips the TCK counts as failures", "matchedStatuses": ["broken"]},
              {"name": "Not applicable (declared by the provider, with the reason)", "matchedStatuses": ["skipped"],
               "messageRegex": "(?s)NOT APPLICABLE.*"}
            ]
            """;

    private AllureResultsDir() {
    }

    /** Empties (or creates) {@code dir}. */
    public static Path clean(Path dir) throws IOException {
        Leftovers.deleteQuietly(dir);
        if (Files.exists(dir)) {
            throw new IOException("cannot clean " + dir);
        }
        return Files.createDirectories(dir);
    }

    /** Writes {@code environment.properties} (the report's Environment widget) and {@code categories.json}. */
    public static void complete(Path dir, Map<String, String> environment) throws IOException {
        Files.createDirectories(dir);
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : environment.entrySet()) {
            sb.append(escape(e.getKey(), true)).append(" = ").append(escape(e.getValue(), false)).append('\n');
        }
        Files.writeString(dir.resolve("environment.properties"), sb.toString(), StandardCharsets.ISO_8859_1);
        Files.writeString(dir.resolve("categories.json"), CATEGORIES, StandardCharsets.UTF_8);
    }

    private static String escape(String s, boolean key) {
        StringBuilder out = new StringBuilder();
        for (char c : (s == null ? "" : s).toCharArray()) {
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '=', ':', '#', '!' -> out.append(key ? "\\" + c : String.valueOf(c));
                case ' ' -> out.append(key ? "\\ " : " ");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }
}
