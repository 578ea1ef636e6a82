package dev.stealtime.tck.runner.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.host.PrivateFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Not a test: how long the runs people wait on take, whole process, as they type them (issue
 * "Feedback in seconds"). For each row it runs {@code ./tck} from the checkout {@code RUNS} times
 * (after one warm-up run that fills caches and boots nothing twice), and prints the wall time (median,
 * min-max), the goal, the five slowest rules with their share of the rules' time, and each race's
 * graded samples per second and carries as the run's Allure attachments state them. The replay row
 * runs the two patches CI replays and extrapolates to the shipped set, and says so. A row whose
 * provider is unavailable here says why and is not timed. Figures taken while other work shares the
 * CPUs are no evidence: the load average is printed before and after.
 * <pre>
 * ./mvnw -B -q -o package -DskipTests -pl tck-runner -am
 * java -cp "tck-runner/target/test-classes:tck-runner/target/classes:tck-runner/target/lib/*" \
 *     dev.stealtime.tck.runner.bench.FeedbackBenchmark [--runs N] [--no-warmup] [ROW...]
 * </pre>
 * ROW: {@code reference}, {@code kvm}, {@code qemu}, {@code qemu-arm64}, {@code x86-emulated}, {@code arm64},
 * {@code replay} (default: all but replay). A row without a goal (NaN) prints its figures and no verdict.
 */
public final class FeedbackBenchmark {

    /** One row of the table: the command's arguments after {@code ./tck}, and its goal in seconds. */
    record Row(String name, String shown, List<String> args, double goalSeconds, String goal) {
    }

    static final List<Row> ROWS = List.of(
            new Row("reference", "./tck run --no-report (reference, both suites)", List.of("run", "--no-report"), 4, "≤ 4 s"),
            new Row("kvm", "--provider kvm --suite x86", List.of("run", "--no-report", "--provider", "kvm", "--suite", "x86"), 8, "≤ 8 s"),
            new Row("qemu", "--provider qemu --suite x86", List.of("run", "--no-report", "--provider", "qemu", "--suite", "x86"), 25, "≤ 25 s"),
            new Row("qemu-arm64", "--provider qemu --suite arm64 (inside the emulated arm64 machine), warm",
                    List.of("run", "--no-report", "--provider", "qemu", "--suite", "arm64"), Double.NaN, "none set"),
            new Row("x86-emulated", "--provider kvm-x86-emulated --suite x86, warm",
                    List.of("run", "--no-report", "--provider", "kvm-x86-emulated", "--suite", "x86"), 25, "≤ 25 s"),
            new Row("arm64", "--provider kvm-arm64 --suite arm64, warm",
                    List.of("run", "--no-report", "--provider", "kvm-arm64", "--suite", "arm64"), 8, "≤ 8 s"),
            new Row("replay", "./tck replay (2 cached kernels of the shipped set, extrapolated)", List.of("replay", "--check",
                    "tck-runner/src/main/native/kernel-patches/arm64-undo-pvtime-only-when-configured.patch",
                    "tck-runner/src/main/native/kernel-patches/x86-undo-1930e5ddcead-rdmsr-restricted.patch"), 30 * 60, "≤ 30 min"));

    private static final Pattern SAMPLES = Pattern.compile("^samples ([\\d,]+) by (\\d+) reader\\(s\\) in (\\d+) ms \\(([\\d,]+)/s\\)",
            Pattern.MULTILINE);
    private static final Pattern RACE = Pattern.compile("^race: (.*)$", Pattern.MULTILINE);
    private static final Pattern CARRIES = Pattern.compile("carries: (?:[^\\n]*?; )?([\\d,]+)", Pattern.MULTILINE);

    private FeedbackBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int runs = 1;
        boolean warmup = true;
        List<String> names = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--no-warmup" -> warmup = false;
                default -> names.add(args[i]);
            }
        }
        if (names.isEmpty()) {
            names = ROWS.stream().map(Row::name).filter(n -> !n.equals("replay")).toList();
        }
        Path root = Path.of("").toAbsolutePath();
        if (!Files.isExecutable(root.resolve("tck"))) {
            System.err.println("run from the checkout's root (./tck not found in " + root + ")");
            System.exit(2);
        }
        System.out.printf("FeedbackBenchmark %s, %d run(s) per row%s; load average before: %s%n", java.time.LocalDate.now(), runs,
                warmup ? " after one warm-up" : "", loadAverage());
        System.out.println();
        System.out.println("| run | wall (median, min-max) | goal | five slowest rules (share of rule time) | races (graded samples/s, carries) |");
        System.out.println("|---|---|---|---|---|");
        for (String name : names) {
            Row row = ROWS.stream().filter(r -> r.name().equals(name)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("unknown row " + name + "; rows: "
                            + ROWS.stream().map(Row::name).toList()));
            System.out.println(measure(root, row, runs, warmup));
            System.out.flush();
        }
        System.out.println();
        System.out.printf("load average after: %s%n", loadAverage());
    }

    private static String measure(Path root, Row row, int runs, boolean warmup) throws IOException, InterruptedException {
        List<Double> walls = new ArrayList<>();
        Run last = null;
        for (int i = warmup ? -1 : 0; i < runs; i++) {
            Run r = Run.of(root, row);
            if (r.unavailable != null) {
                r.close();
                if (last != null) {
                    last.close();
                }
                return "| " + row.shown() + " | not timed: " + r.unavailable + " | " + row.goal() + " | | |";
            }
            if (i < 0) {
                r.close();       // the warm-up: caches filled, not counted
                continue;
            }
            walls.add(r.seconds);
            if (last != null) {
                last.close();
            }
            last = r;            // the rules and races of the last run are shown
        }
        try {
            List<Double> sorted = walls.stream().sorted().toList();
            double median = sorted.get(sorted.size() / 2);
            double shipped = row.name().equals("replay") ? shippedReplays(root) : 0;
            String wall = row.name().equals("replay")
                    ? String.format("%.0f s for 2 kernels, exit %d → %.0f min for %d (extrapolated)", median, last.exit,
                    median / 2 * shipped / 60, (int) shipped)
                    : String.format("%.1f s (%.1f-%.1f), exit %d", median, sorted.get(0), sorted.get(sorted.size() - 1), last.exit);
            double judged = row.name().equals("replay") ? median / 2 * shipped : median;
            String verdict = Double.isNaN(row.goalSeconds()) ? "" : judged <= row.goalSeconds() ? " met" : " **not met**";
            return "| " + row.shown() + " | " + wall + " | " + row.goal() + verdict
                    + " | " + last.slowest() + " | " + last.races() + " |";
        } finally {
            if (last != null) {
                last.close();
            }
        }
    }

    private static double shippedReplays(Path root) throws IOException {
        try (Stream<Path> s = Files.list(root.resolve("tck-runner/src/main/native/kernel-patches"))) {
            return s.filter(p -> p.toString().endsWith(".patch")).count() + 2;   // + stock:x86, stock:arm64
        }
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** One whole-process run of {@code ./tck} into a private directory. */
    private static final class Run implements AutoCloseable {
        final Path dir;
        final double seconds;
        final int exit;
        final String unavailable;

        private Run(Path dir, double seconds, int exit, String unavailable) {
            this.dir = dir;
            this.seconds = seconds;
            this.exit = exit;
            this.unavailable = unavailable;
        }

        static Run of(Path root, Row row) throws IOException, InterruptedException {
            Path dir = PrivateFiles.tempDir("tck-bench-");
            List<String> cmd = new ArrayList<>(List.of("./tck"));
            cmd.addAll(row.args());
            cmd.addAll(List.of("--out", dir.resolve("out").toString()));
            if (!row.name().equals("replay")) {
                cmd.add("-q");
            }
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("console.log").toFile()).start();
            if (!p.waitFor(2, TimeUnit.HOURS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not end within 2 hours");
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            String console = Files.readString(dir.resolve("console.log"), StandardCharsets.UTF_8);
            Matcher m = Pattern.compile("is UNAVAILABLE here: (.*)").matcher(console);
            String unavailable = p.exitValue() == 4 && m.find() ? m.group(1).strip() : null;
            if (p.exitValue() == 2 || p.exitValue() == 3) {
                unavailable = "exit " + p.exitValue() + ": " + console.strip().lines().reduce((a, b) -> b).orElse("");
            }
            return new Run(dir, seconds, p.exitValue(), unavailable);
        }

        /** The five slowest rules of the run (replay: of its runs), with their share of all rules' time. */
        String slowest() throws IOException {
            Map<String, Long> millis = new LinkedHashMap<>();
            for (Path json : files("conformance.json")) {
                for (JsonNode r : new ObjectMapper().readTree(json.toFile()).path("rules")) {
                    millis.merge(r.path("id").asText(), r.path("millis").asLong(), Long::sum);
                }
            }
            long total = millis.values().stream().mapToLong(Long::longValue).sum();
            if (total == 0) {
                return "(no rule times)";
            }
            List<String> top = millis.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(5)
                    .map(e -> String.format("%s %.1f s (%.0f %%)", e.getKey(), e.getValue() / 1000.0, 100.0 * e.getValue() / total)).toList();
            return String.join(", ", top) + String.format(" of %.1f s", total / 1000.0);
        }

        /** Each race's graded samples per second and carries, from the attachments of the test that ran it. */
        String races() throws IOException {
            List<String> out = new ArrayList<>();
            for (Path result : files("-result.json")) {
                StringBuilder text = new StringBuilder();
                collectAttachments(new ObjectMapper().readTree(result.toFile()), result.getParent(), text);
                Matcher race = RACE.matcher(text);
                Matcher samples = SAMPLES.matcher(text);
                if (race.find() && samples.find()) {
                    Matcher carries = CARRIES.matcher(text);
                    String name = race.group(1).replaceAll(" \\(vCPU.*", "");
                    out.add(String.format("%s: %s/s%s", name, samples.group(4),
                            carries.find() ? ", " + carries.group(1) + " carries" : ""));
                }
            }
            return out.isEmpty() ? "—" : String.join("; ", out.stream().sorted().toList());
        }

        /** The texts of every attachment of a result and of its steps. */
        private static void collectAttachments(JsonNode node, Path dir, StringBuilder text) throws IOException {
            for (JsonNode a : node.path("attachments")) {
                Path f = dir.resolve(a.path("source").asText());
                if (Files.isRegularFile(f) && a.path("source").asText().endsWith(".txt")) {
                    text.append(Files.readString(f, StandardCharsets.UTF_8)).append('\n');
                }
            }
            for (JsonNode step : node.path("steps")) {
                collectAttachments(step, dir, text);
            }
        }

        private List<Path> files(String suffix) throws IOException {
            try (Stream<Path> s = Files.walk(dir)) {
                return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted(Comparator.naturalOrder()).toList();
            }
        }

        @Override
        public void close() {
            PrivateFiles.deleteTree(dir);
        }
    }
}
