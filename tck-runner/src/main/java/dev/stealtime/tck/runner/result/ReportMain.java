package dev.stealtime.tck.runner.result;


import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The {@code reports} module's entry point (run by exec-maven-plugin in {@code verify}): aggregates
 * the Allure results the build's tests wrote (each module's {@code target/allure-results}) into one
 * single-file HTML report.
 *
 * <pre>
 * ReportMain --allure-home DIR --out REPORT_DIR [--work DIR] [--host-skips DIR] RESULTS_DIR...
 * </pre>
 * Results directories that do not exist or hold no results are skipped (e.g. a module without
 * tests, or a build with -DskipTests); with none at all it says so and writes nothing.
 */
public final class ReportMain {

    private ReportMain() {
    }

    public static void main(String[] args) throws Exception {
        Path home = null;
        Path out = null;
        Path work = null;
        Path hostSkips = null;
        List<Path> candidates = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--allure-home" -> home = Path.of(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                case "--host-skips" -> hostSkips = Path.of(args[++i]);
                default -> candidates.add(Path.of(args[i]).toAbsolutePath().normalize());
            }
        }
        if (out == null) {
            throw new IllegalArgumentException("usage: ReportMain --allure-home DIR --out REPORT_DIR [--work DIR] RESULTS_DIR...");
        }
        printHostSkips(hostSkips);
        List<Path> results = new ArrayList<>();
        for (Path c : candidates) {
            if (hasResults(c)) {
                results.add(c.toAbsolutePath().normalize());
            }
        }
        if (results.isEmpty()) {
            System.out.println("[tck-report] no Allure results in " + candidates + " (tests skipped?): no report generated");
            return;
        }
        Path extra = (work == null ? out.resolveSibling("allure-extra") : work);
        AllureResultsDir.clean(extra);
        AllureResultsDir.complete(extra, environment());
        List<Path> all = new ArrayList<>(results);
        all.add(extra);
        long t0 = System.nanoTime();
        AllureHtml html = home == null ? AllureHtml.locate() : new AllureHtml(home);
        Path index = html.generate(all, out, "Steal-Time TCK self-tests " + TckJars.version());
        System.out.printf("[tck-report] %s (from %s, %.1f s)%n", index.toAbsolutePath(), results,
                (System.nanoTime() - t0) / 1e9);
    }

    /**
     * The self-tests skipped because this machine lacks a host piece, with the reason and the packages
     * to install: said at the end of the build, where a reader sees it (surefire only counts skips).
     */
    static void printHostSkips(Path dir) throws IOException {
        if (dir == null || !Files.isDirectory(dir)) {
            return;
        }
        List<String> lines = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                lines.addAll(Files.readAllLines(f).stream().filter(l -> !l.isBlank()).toList());
            }
        }
        if (!lines.isEmpty()) {
            System.out.println("[tck-report] self-tests skipped on this machine for a missing host piece (CI installs them and runs them):");
            lines.stream().distinct().forEach(l -> System.out.println("[tck-report]   " + l));
        }
    }

    static boolean hasResults(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.anyMatch(f -> f.getFileName().toString().endsWith("-result.json"));
        }
    }

    private static Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("TCK version", TckJars.version());
        env.put("JDK", System.getProperty("java.vendor") + " " + System.getProperty("java.version"));
        env.put("OS", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        return env;
    }
}
