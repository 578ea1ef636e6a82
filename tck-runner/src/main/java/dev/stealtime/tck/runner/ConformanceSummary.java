package dev.stealtime.tck.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.TckConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code conformance.json}: TCK version, provider, suites, profiles, effective configuration, and
 * every rule of the selected suites with its outcome.
 */
public final class ConformanceSummary {

    private ConformanceSummary() {
    }

    public static String tckVersion() {
        String v = ConformanceSummary.class.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-SNAPSHOT" : v;
    }

    public static Map<String, Object> toMap(RunResult result, HypervisorProvider provider, TckConfig config, List<Suite> suites) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("tck", Map.of("version", tckVersion()));
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("id", provider.id());
        p.put("description", provider.description());
        p.put("version", provider.version());
        p.put("timing", provider.timing().toString());
        p.put("capabilities", provider.capabilities().stream().map(Enum::name).sorted().toList());
        root.put("provider", p);
        Map<String, Object> env = new LinkedHashMap<>();
        env.put("jdk", System.getProperty("java.vendor") + " " + System.getProperty("java.version"));
        env.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        root.put("environment", env);
        root.put("suites", suites.stream().map(s -> s.cliName).toList());
        root.put("profiles", config.profiles());
        root.put("configuration", config.effective());
        root.put("rules", result.rules().stream().map(r -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", r.rule().id());
            m.put("level", r.rule().level().group());
            m.put("area", r.rule().area());
            m.put("outcome", r.outcome().name());
            m.put("tests", r.tests().size());
            m.put("message", r.message());
            return m;
        }).toList());
        Map<String, Object> totals = new LinkedHashMap<>();
        totals.put("pass", result.count(Outcome.PASS));
        totals.put("fail", result.count(Outcome.FAIL));
        totals.put("notApplicable", result.count(Outcome.NOT_APPLICABLE));
        root.put("totals", totals);
        root.put("conforms", result.conforms());
        root.put("elapsedMillis", result.elapsed().toMillis());
        return root;
    }

    public static Path write(Path dir, RunResult result, HypervisorProvider provider, TckConfig config, List<Suite> suites) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve("conformance.json");
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(file.toFile(), toMap(result, provider, config, suites));
        return file;
    }
}
