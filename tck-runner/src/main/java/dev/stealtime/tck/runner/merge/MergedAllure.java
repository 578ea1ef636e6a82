package dev.stealtime.tck.runner.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.runner.host.OutDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Allure results of many runs in one results directory, for one report: every test result of
 * each run is labelled with the run's parameters (labels {@code run}, {@code provider},
 * {@code architecture}, {@code kernel}, {@code kernel hash}, {@code host}, and as parameters, shown
 * on each test's page), grouped by run in the Suites tab ({@code parentSuite} = the run), and given a
 * history id of its own per run, so that the same test in six runs is six results, not one result
 * retried five times.
 */
public final class MergedAllure {

    private static final ObjectMapper JSON = new ObjectMapper();

    private MergedAllure() {
    }

    /** Copies {@code run}'s results into {@code into}, labelled; returns how many test results. */
    public static int add(Path runDir, Matrix.Run run, Path into) throws IOException {
        Path results = runDir.resolve(OutDir.ALLURE_RESULTS);
        if (!Files.isDirectory(results)) {
            return 0;
        }
        int n = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(results)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (!Files.isRegularFile(p)) {
                    continue;
                }
                if (name.endsWith("-result.json")) {
                    JsonNode tree;
                    try {
                        tree = JSON.readTree(p.toFile());
                    } catch (IOException damaged) {
                        continue;   // one unreadable result file: the run's summary still has the outcome
                    }
                    if (tree instanceof ObjectNode result) {
                        label(result, run);
                        Files.writeString(into.resolve(name), JSON.writeValueAsString(result), StandardCharsets.UTF_8);
                        n++;
                    }
                } else if (name.endsWith("-container.json") || name.contains("-attachment")) {
                    Files.copy(p, into.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return n;
    }

    static void label(ObjectNode result, Matrix.Run run) {
        ArrayNode labels = result.withArray("labels");
        for (int i = labels.size() - 1; i >= 0; i--) {
            String n = labels.get(i).path("name").asText();
            if (n.equals("parentSuite") || n.equals("host")) {
                labels.remove(i);
            }
        }
        labels.addObject().put("name", "parentSuite").put("value", run.name());
        ArrayNode parameters = result.withArray("parameters");
        for (Map.Entry<String, String> e : run.parameters().entrySet()) {
            labels.addObject().put("name", e.getKey()).put("value", e.getValue());
            parameters.addObject().put("name", e.getKey()).put("value", e.getValue());
        }
        labels.addObject().put("name", "tag").put("value", run.name());
        for (String id : List.of("historyId", "testCaseId")) {
            String old = result.path(id).asText(result.path("fullName").asText());
            result.put(id, md5(old + "\u0000" + run.name()));
        }
    }

    /** The merged report's Environment table: one line per run. */
    public static Map<String, String> environment(List<Matrix.Run> runs) {
        Map<String, String> env = new LinkedHashMap<>();
        for (Matrix.Run r : runs) {
            env.put("Run " + r.name(), r.provider() + ", " + r.architecture() + ", kernel " + r.kernel()
                    + (r.kernelHash() == null ? "" : " (" + r.kernelHash() + ")") + ", host " + r.host() + ": " + r.verdict());
        }
        return env;
    }

    private static String md5(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
