package dev.stealtime.tck.runner.host;


import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.exit.UsageException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The {@code --out} directory of a run. The TCK deletes only what it wrote itself: a directory it
 * writes into carries the marker file {@value #MARKER}; a non-empty directory without it is not the
 * TCK's and is refused (exit 2), and inside its own directory the TCK removes only its own files (the
 * summaries, {@code junit.xml}, {@code adapter-stderr.log}, {@code report/index.html}, the Allure result files), never anything else a user put
 * there. Files are written to a temporary name and renamed, so a reader never sees half a summary.
 */
public final class OutDir {

    public static final String MARKER = ".steal-time-tck-out";
    public static final String ALLURE_RESULTS = "allure-results";
    public static final String REPORT = "report";
    public static final String JSON = "conformance.json";
    public static final String MARKDOWN = "conformance.md";
    public static final String JUNIT = "junit.xml";
    public static final String KTAP = "results.ktap";
    public static final String ADAPTER_LOG = "adapter-stderr.log";

    /** The files allure-testng and the TCK write into allure-results (the history/ folder is kept for the Trend). */
    private static final Pattern ALLURE_FILE = Pattern.compile(
            "[0-9a-f-]{36}-(result|container)\\.json|[0-9a-f-]{36}-attachment(\\..+)?|environment\\.properties|categories\\.json|executor\\.json");

    private final Path dir;

    private OutDir(Path dir) {
        this.dir = dir;
    }

    public Path path() {
        return dir;
    }

    public Path allureResults() {
        return dir.resolve(ALLURE_RESULTS);
    }

    public Path report() {
        return dir.resolve(REPORT);
    }

    /** Takes {@code out} for a run: creates it, or checks that it is empty or the TCK's own. */
    public static OutDir claim(Path out) {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new UsageException("--out " + out + " exists and is not a directory");
        }
        if (Files.isDirectory(out) && !Files.exists(out.resolve(MARKER))) {
            List<String> foreign = entries(out);
            if (!foreign.isEmpty()) {
                throw new UsageException("--out " + out + " is not empty and was not written by the TCK (it holds "
                        + String.join(", ", foreign.stream().limit(3).toList()) + (foreign.size() > 3 ? ", ..." : "")
                        + "); choose a new or empty directory, or one an earlier 'tck run' wrote");
            }
        }
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UsageException("cannot create --out directory " + out + ": " + reason(e));
        }
        if (!Files.isWritable(out)) {
            throw new UsageException("--out directory " + out + " is not writable");
        }
        OutDir d = new OutDir(out);
        try {
            d.write(MARKER, "This directory is written by the Steal-Time TCK (tck run --out). The TCK deletes only its own files here:\n"
                    + JSON + ", " + MARKDOWN + ", " + JUNIT + ", " + KTAP + ", " + ADAPTER_LOG + ", " + REPORT + "/index.html and the Allure result files in "
                    + ALLURE_RESULTS + "/.\n");
        } catch (IOException e) {
            throw new UsageException("cannot write into --out directory " + out + ": " + reason(e));
        }
        return d;
    }

    /**
     * Removes the previous run's outputs before this run starts, so that nothing of it can pass for
     * this run's (a run killed outright then leaves no summary rather than a stale one).
     */
    public void clearPrevious() {
        try {
            Files.deleteIfExists(dir.resolve(JSON));
            Files.deleteIfExists(dir.resolve(MARKDOWN));
            Files.deleteIfExists(dir.resolve(JUNIT));
            Files.deleteIfExists(dir.resolve(KTAP));
            Files.deleteIfExists(dir.resolve(ADAPTER_LOG));
            Files.deleteIfExists(report().resolve("index.html"));
            Path results = allureResults();
            if (Files.isDirectory(results)) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(results)) {
                    for (Path p : ds) {
                        if (Files.isRegularFile(p) && ALLURE_FILE.matcher(p.getFileName().toString()).matches()) {
                            Files.delete(p);
                        }
                    }
                }
            }
            Files.createDirectories(results);
        } catch (IOException e) {
            throw new UsageException("cannot clear the previous run's results in " + dir + ": " + reason(e));
        }
    }

    /** Writes {@code name} (relative to the directory) through a temporary file and a rename. */
    public Path write(String name, String content) throws IOException {
        return writeAtomically(dir.resolve(name), content);
    }

    /** Writes {@code file} through a temporary file next to it and an atomic rename. */
    public static Path writeAtomically(Path file, String content) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Path tmp = Leftovers.create(() -> {
            Path t = sibling(file);
            Files.deleteIfExists(t);
            return Files.createFile(t);
        });
        try {
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            return file;
        } finally {
            Files.deleteIfExists(tmp);
            Leftovers.untrack(tmp);
        }
    }

    /**
     * Puts a freshly generated report in place: its {@code index.html} into {@code report/} (nothing
     * else there is touched). Then adds this run to {@code allure-results/history/history-trend.json},
     * which the next run's generation reads (the single-file report writes no history of its own):
     * the report's Trend shows the runs into this directory.
     */
    public Path installReport(Path staging, String runName) throws IOException {
        Files.createDirectories(report());
        Path index = report().resolve("index.html");
        Files.move(staging.resolve("index.html"), index, StandardCopyOption.REPLACE_EXISTING);
        recordTrend(runName);
        return index;
    }

    /** The most runs the Trend keeps. */
    static final int TREND_RUNS = 20;

    private void recordTrend(String runName) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String k : List.of("failed", "broken", "skipped", "passed", "unknown")) {
            counts.put(k, 0);
        }
        int total = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(allureResults(), "*-result.json")) {
            for (Path p : ds) {
                String status = json.readTree(p.toFile()).path("status").asText("unknown");
                counts.merge(counts.containsKey(status) ? status : "unknown", 1, Integer::sum);
                total++;
            }
        }
        Path trend = allureResults().resolve("history").resolve("history-trend.json");
        List<Object> runs = new ArrayList<>();
        if (Files.isRegularFile(trend)) {
            try {
                runs.addAll(json.readValue(trend.toFile(), List.class));
            } catch (IOException unreadable) {
                // a damaged history starts afresh
            }
        }
        Map<String, Object> data = new LinkedHashMap<>(counts);
        data.put("total", total);
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("buildOrder", runs.size() + 1);
        entry.put("reportName", runName);
        entry.put("data", data);
        runs.add(0, entry);   // newest first, as Allure writes it
        writeAtomically(trend, json.writerWithDefaultPrettyPrinter().writeValueAsString(runs.subList(0, Math.min(runs.size(), TREND_RUNS))));
    }

    private static Path sibling(Path file) {
        return file.resolveSibling("." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
    }

    /** A private staging directory for the report generator inside the output directory (removed on exit). */
    public Path reportStaging() throws IOException {
        Path s = dir.resolve(".report-staging-" + ProcessHandle.current().pid());
        Leftovers.deleteQuietly(s);
        return Leftovers.create(() -> Files.createDirectories(s));
    }

    private static List<String> entries(Path dir) {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName() + (Files.isDirectory(p) ? "/" : "")).sorted().forEach(out::add);
        } catch (IOException e) {
            throw new UsageException("cannot read --out directory " + dir + ": " + reason(e));
        }
        return out;
    }

    /** Why a file operation failed, in words (NIO often gives only the file name). */
    static String reason(IOException e) {
        if (e instanceof FileSystemException fse && fse.getReason() != null && !fse.getReason().isBlank()) {
            return fse.getReason();
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof NoSuchFileException) {
            return "no such file or directory (this file system does not let a directory be created there)";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "a file of that name exists";
        }
        if (e instanceof FileSystemException) {
            return e.getClass().getSimpleName().replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
