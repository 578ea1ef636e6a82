package dev.stealtime.tck.runner.replay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.emulatedkvm.EmulatedSelftest;
import dev.stealtime.tck.runner.emulatedkvm.SelftestResult;
import dev.stealtime.tck.runner.exit.ExitCodes;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One replay: the kernel with {@link KernelPatch} built ({@code build-kernel.sh}, cached by patch
 * hash), the suite of its architecture run on it through the emulated provider (a child {@code tck
 * run}, so every replay has a provider of its own), and the upstream selftest {@code steal_time}
 * of the same tree booted in the same machine.
 */
public final class Replay {

    /**
     * What one replay found. With {@code --repeat N} the suite ran {@code repeats} times on the same
     * build: the failing lists are the union over the runs, {@code failCounts} says in how many runs
     * each rule failed, {@code verdict} is the runs' verdicts (one, or each with its count), and
     * {@code exit} and {@code tckDir} are the first run's.
     */
    public record Result(KernelPatch patch, String build, String buildError, long buildMillis, String verdict, int exit,
                  List<String> failing, List<String> failingAdvisory, List<String> failingRequired, String tckDir,
                  long suiteMillis, SelftestResult selftest, int repeats, Map<String, Integer> failCounts,
                  BuildPlan plan, String buildNote) {

        public Result {
            failCounts = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(failCounts));   // sorted by rule id
        }

        /** Without a build plan (the tests' form). */
        public Result(KernelPatch patch, String build, String buildError, long buildMillis, String verdict, int exit,
                      List<String> failing, List<String> failingAdvisory, List<String> failingRequired, String tckDir,
                      long suiteMillis, SelftestResult selftest, int repeats, Map<String, Integer> failCounts) {
            this(patch, build, buildError, buildMillis, verdict, exit, failing, failingAdvisory, failingRequired, tckDir,
                    suiteMillis, selftest, repeats, failCounts, null, "");
        }

        /** "image, built in 6 min 40 s: WHY", "modules, cached (built in 19 s)": the row's build cell. */
        public String buildCell() {
            if (plan == null) {
                return buildNote == null ? "" : buildNote;
            }
            String s = plan.kind() + (buildNote == null || buildNote.isEmpty() ? "" : ", " + buildNote);
            if (plan.nothing()) {
                s += "; the patch touches nothing this build uses (" + String.join(", ", plan.unused()) + "): the stock build";
            } else if (!plan.unused().isEmpty()) {
                s += "; not used by this build: " + String.join(", ", plan.unused());
            }
            return plan.why().isEmpty() ? s : s + ": " + plan.why();
        }

        /** One run of the suite: each failing rule failed once. */
        Result(KernelPatch patch, String build, String buildError, long buildMillis, String verdict, int exit,
               List<String> failing, List<String> failingAdvisory, List<String> failingRequired, String tckDir,
               long suiteMillis, SelftestResult selftest) {
            this(patch, build, buildError, buildMillis, verdict, exit, failing, failingAdvisory, failingRequired, tckDir,
                    suiteMillis, selftest, 1, once(failing, failingAdvisory));
        }

        private static Map<String, Integer> once(List<String> failing, List<String> advisory) {
            Map<String, Integer> m = new java.util.TreeMap<>();
            failing.forEach(id -> m.put(id, 1));
            advisory.forEach(id -> m.put(id, 1));
            return m;
        }

        /** "ARM-LITTLE-ENDIAN 10/10, ARM-STEAL-ACCOUNTS 3/10": how often each rule failed over the runs. */
        public String perRule() {
            return failCounts.entrySet().stream().map(e -> e.getKey() + " " + e.getValue() + "/" + repeats)
                    .collect(java.util.stream.Collectors.joining(", "));
        }

        /** The fewest runs in which a rule the header names failed (the deterministic expectation is every run), or -1. */
        public int namedRuleRuns() {
            return patch.namedRules().stream().mapToInt(r -> failCounts.getOrDefault(r, 0)).max().orElse(-1);
        }

        public boolean built() {
            return buildError == null;
        }

        /** Did the suite see the defect: a rule of any level failed (advisory included). */
        boolean killed() {
            return !failing.isEmpty() || !failingAdvisory.isEmpty();
        }

        /** Is a rule the patch's header names among the failing ones (null when it names none). */
        Boolean namedRuleCaught() {
            List<String> named = patch.namedRules();
            if (named.isEmpty()) {
                return null;
            }
            return named.stream().anyMatch(r -> failing.contains(r) || failingAdvisory.contains(r));
        }

        /**
         * What the replay was expected to show and did not, or null: a stock kernel conforms and
         * passes the selftest; a fairness case passes every required rule; a deterministic defect
         * whose header names rules is failed by one of them (racy ones, equivalent ones and those
         * outside the rules expect nothing).
         */
        public String unmet() {
            if (!built()) {
                return "not built: " + buildError;
            }
            if (patch.isStock()) {
                if (!verdict.equals("CONFORMS")) {
                    return "the stock kernel " + verdict;
                }
                return selftest != null && !selftest.outcome().equals("PASS") ? "the selftest " + selftest.outcome() + " on the stock kernel" : null;
            }
            if (patch.kind().equals("fairness")) {
                return failingRequired.isEmpty() ? null : "a legal kernel failed required rules " + failingRequired;
            }
            if (!patch.racy().isEmpty() || !patch.equivalent().isEmpty()) {
                return null;
            }
            Boolean named = namedRuleCaught();
            if (named != null && named && repeats > 1 && namedRuleRuns() < repeats) {
                return "a rule of " + patch.namedRules() + " failed in only " + namedRuleRuns() + " of " + repeats
                        + " runs (a deterministic defect must be caught every time; per rule: " + perRule() + ")";
            }
            return named == null || named ? null : "none of " + patch.namedRules() + " failed (failing: " + failing + failingAdvisory + ")";
        }

        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("replay", patch.name());
            m.put("arch", patch.arch());
            m.put("kind", patch.kind());
            m.put("patch", patch.file() == null ? KernelPatch.STOCK : patch.file().getFileName().toString());
            m.put("subjects", patch.subjects());
            m.put("files", patch.files());
            m.put("fix", patch.fix());
            m.put("breaks", patch.breaks());
            m.put("rules", patch.rules());
            m.put("racy", patch.racy());
            m.put("equivalent", patch.equivalent());
            m.put("build", build);
            m.put("buildError", buildError);
            m.put("buildMillis", buildMillis);
            m.put("buildKind", plan == null ? null : plan.kind());
            m.put("buildRecipe", plan == null ? null : plan.recipe());
            m.put("buildWhy", plan == null ? null : plan.why());
            m.put("unusedFiles", plan == null ? List.of() : plan.unused());
            m.put("buildNote", buildNote);
            m.put("verdict", verdict);
            m.put("exit", exit);
            m.put("failingRules", failing);
            m.put("failingAdvisoryRules", failingAdvisory);
            m.put("failingRequiredRules", failingRequired);
            m.put("repeats", repeats);
            m.put("failCounts", failCounts);
            m.put("unmet", unmet());
            m.put("namedRuleCaught", namedRuleCaught());
            m.put("tckOut", tckDir);
            m.put("suiteMillis", suiteMillis);
            m.put("selftest", selftest == null ? null : Map.of("outcome", selftest.outcome(), "rc", selftest.rc(),
                    "detail", selftest.detail(), "millis", selftest.millis()));
            return m;
        }
    }

    private final Path cache;
    private final String version;
    private final Path scripts;
    private final Path work;
    private final List<String> runOptions;
    private final Map<String, IncludeIndex> indexes = new java.util.HashMap<>();

    /**
     * @param work       a private (0700) directory for the series' parts, removed by the caller
     * @param runOptions options of every suite run ({@code --race-budget 10s ...})
     */
    public Replay(Path cache, String version, Path scripts, Path work, List<String> runOptions, String timingMultiplier) {
        this.cache = cache;
        this.version = version;
        this.scripts = scripts;
        this.work = work;
        List<String> o = new ArrayList<>(runOptions);
        if (timingMultiplier != null) {
            o.addAll(List.of("--timing-multiplier", timingMultiplier));
        }
        this.runOptions = List.copyOf(o);
    }

    /**
     * Before any build: checks that {@code patch} applies to the source (else a {@link
     * dev.stealtime.tck.runner.exit.UsageException} with {@code patch}'s own words) and decides its
     * build ({@link BuildPlan}).
     */
    public BuildPlan plan(KernelPatch patch) throws IOException {
        String input = patch.isStock() ? "-" : patch.buildInput(work).toAbsolutePath().toString();
        List<String> cmd = List.of("bash", scripts.resolve("build-kernel.sh").toString(), cache.toString(),
                patch.arch(), version, input, scripts.toString(), "plan");
        Path err = Files.createTempFile(work, "plan-", ".err");
        String out;
        int rc;
        try {
            Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            rc = p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while checking " + patch.name());
        }
        List<String> errLines = Files.readAllLines(err);
        Files.deleteIfExists(err);
        String last = errLines.isEmpty() ? "exit " + rc : errLines.get(errLines.size() - 1).replaceFirst("^build-kernel: ", "");
        if (rc == 3) {
            throw new dev.stealtime.tck.runner.exit.UsageException(patch.name() + ": " + last);
        }
        if (rc != 0) {
            throw new IOException("cannot prepare linux-source-" + version + " for " + patch.name() + ": " + last);
        }
        Path tree = null;
        String packaged = null;
        for (String l : out.split("\n")) {
            if (l.startsWith("tree ")) {
                tree = Path.of(l.substring(5));
            } else if (l.startsWith("packaged no: ")) {
                packaged = "no packaged kernel is this source (" + l.substring("packaged no: ".length()) + ")";
            }
        }
        Path t = tree;
        return BuildPlan.decide(patch.arch(), patch.files(), packaged,
                h -> indexes.computeIfAbsent(t + " " + patch.arch(), k -> IncludeIndex.of(t, patch.arch())).imageUser(h));
    }

    public Result run(KernelPatch patch, Path out, boolean selftest) throws IOException {
        return run(patch, plan(patch), out, selftest, 1);
    }

    /** Builds {@code patch} once as {@code plan} says and runs the suite {@code repeats} times on it (the selftest once). */
    public Result run(KernelPatch patch, BuildPlan plan, Path out, boolean selftest, int repeats) throws IOException {
        Files.createDirectories(out);
        long t0 = System.nanoTime();
        Path buildLog = out.resolve("build.log");
        String input = patch.isStock() || plan.nothing() ? "-" : patch.buildInput(work).toAbsolutePath().toString();
        List<String> cmd = List.of("bash", scripts.resolve("build-kernel.sh").toString(), cache.toString(),
                plan.recipe(), version, input, scripts.toString());
        int rc;
        String stdout;
        try {
            Process p = new ProcessBuilder(cmd).redirectError(buildLog.toFile()).start();
            stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            rc = p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while building " + patch.name());
        }
        long buildMillis = (System.nanoTime() - t0) / 1_000_000;
        if (rc != 0 || stdout.isEmpty()) {
            List<String> log = Files.readAllLines(buildLog);
            String why = log.isEmpty() ? "exit " + rc : log.get(log.size() - 1);
            return new Result(patch, null, why, buildMillis, "NOT BUILT", -1, List.of(), List.of(), List.of(), null, 0, null,
                    1, Map.of(), plan, "");
        }
        Path build = Path.of(stdout.lines().reduce((a, b) -> b).orElseThrow());
        String note = buildNote(build, buildMillis, Files.readString(buildLog).contains("build-kernel: cached: "));

        List<String> failing = new ArrayList<>();
        List<String> advisory = new ArrayList<>();
        List<String> required = new ArrayList<>();
        Map<String, Integer> counts = new java.util.TreeMap<>();
        Map<String, Integer> verdicts = new LinkedHashMap<>();
        long suiteMillis = 0;
        int exit = 0;
        Path tckOut = null;
        for (int run = 1; run <= repeats; run++) {
            // the first run keeps the names of a single replay (tck/, tck.log); repeats go beside it
            String suffix = run == 1 ? "" : "-run-" + run;
            SuiteRun one = suite(patch, build, out.resolve("tck" + suffix), out.resolve("tck" + suffix + ".log"));
            suiteMillis += one.millis;
            if (run == 1) {
                exit = one.exit;
                tckOut = out.resolve("tck");
            }
            verdicts.merge(one.verdict, 1, Integer::sum);
            for (String id : one.failing) {
                counts.merge(id, 1, Integer::sum);
                addOnce(failing, id);
            }
            for (String id : one.advisory) {
                counts.merge(id, 1, Integer::sum);
                addOnce(advisory, id);
            }
            one.required.forEach(id -> addOnce(required, id));
        }
        String verdict = verdicts.size() == 1 ? verdicts.keySet().iterator().next()
                : verdicts.entrySet().stream().map(e -> e.getKey() + " ×" + e.getValue()).collect(java.util.stream.Collectors.joining(", "));

        SelftestResult st = null;
        if (selftest) {
            boolean arm = patch.arch().equals("arm64");
            Path kernel = arm ? build.resolve("Image") : Files.isRegularFile(build.resolve("bzImage")) ? build.resolve("bzImage") : null;
            st = EmulatedSelftest.run(patch.arch(), kernel, arm ? null : build, build.resolve("steal_time"), scripts, out);
        }
        return new Result(patch, build.toString(), null, buildMillis, verdict, exit, failing, advisory, required,
                tckOut.toString(), suiteMillis, st, repeats, counts, plan, note);
    }

    /** "built in 6 min 40 s", "cached (built in 19 s)", plus the touched C files the configuration does not compile. */
    private static String buildNote(Path build, long millis, boolean cached) throws IOException {
        Path secs = build.resolve("build-seconds");
        String took = Files.isRegularFile(secs) ? duration(Long.parseLong(Files.readString(secs).trim())) : null;
        String s = cached ? "cached" + (took == null ? "" : " (built in " + took + ")") : "built in " + (took != null ? took : duration(millis / 1000));
        Path nc = build.resolve("not-compiled");
        if (Files.isRegularFile(nc) && Files.size(nc) > 0) {
            s += "; this configuration compiles none of " + String.join(", ", Files.readAllLines(nc));
        }
        return s;
    }

    static String duration(long seconds) {
        return seconds < 60 ? seconds + " s" : seconds / 60 + " min " + seconds % 60 + " s";
    }

    private static void addOnce(List<String> list, String id) {
        if (!list.contains(id)) {
            list.add(id);
        }
    }

    /** One run of the suite on a build: its verdict and the rules it failed. */
    private record SuiteRun(String verdict, int exit, List<String> failing, List<String> advisory, List<String> required, long millis) {
    }

    /** The suite of {@code patch}'s architecture on {@code build}, in a child JVM of the same class path, into {@code tckOut}. */
    private SuiteRun suite(KernelPatch patch, Path build, Path tckOut, Path log) throws IOException {
        List<String> run = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ExitCodes.MAIN_CLASS, "run", "-q", "--no-report",
                "--out", tckOut.toString()));
        if (patch.arch().equals("arm64")) {
            run.addAll(List.of("--provider", "kvm-arm64", "--suite", "arm64", "--kernel", build.resolve("Image").toString()));
        } else if (Files.isRegularFile(build.resolve("bzImage"))) {
            // a kernel of its own (x86-image): its own modules with it
            run.addAll(List.of("--provider", "kvm-x86-emulated", "--suite", "x86", "--kernel", build.resolve("bzImage").toString(),
                    "--kvm-modules", build.toString()));
        } else {
            run.addAll(List.of("--provider", "kvm-x86-emulated", "--suite", "x86", "--kvm-modules", build.toString()));
        }
        run.addAll(runOptions);
        long t1 = System.nanoTime();
        int exit;
        try {
            Process p = new ProcessBuilder(run).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(30, TimeUnit.MINUTES)) {
                p.destroy();
                p.waitFor(20, TimeUnit.SECONDS);
                p.destroyForcibly();
                exit = -1;
            } else {
                exit = p.exitValue();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running the suite on " + patch.name());
        }
        long millis = (System.nanoTime() - t1) / 1_000_000;
        List<String> failing = new ArrayList<>();
        List<String> advisory = new ArrayList<>();
        List<String> required = new ArrayList<>();
        String verdict = verdictOf(exit);
        Path json = tckOut.resolve("conformance.json");
        if (Files.isRegularFile(json)) {
            JsonNode root = new ObjectMapper().readTree(json.toFile());
            verdict = root.path("verdictText").asText(verdict);
            for (JsonNode r : root.path("rules")) {
                if ("FAIL".equals(r.path("outcome").asText())) {
                    (r.path("gates").asBoolean() ? failing : advisory).add(r.path("id").asText());
                    if ("required".equals(r.path("level").asText())) {
                        required.add(r.path("id").asText());
                    }
                }
            }
        }
        return new SuiteRun(verdict, exit, failing, advisory, required, millis);
    }

    static String verdictOf(int exit) {
        return switch (exit) {
            case ExitCodes.CONFORMS -> "CONFORMS";
            case ExitCodes.GATING_FAILURE -> "DOES NOT CONFORM";
            case ExitCodes.NOT_TESTED -> "NOT TESTED";
            case ExitCodes.USAGE -> "USAGE ERROR";
            case -1 -> "TIMED OUT";
            default -> "ERROR (exit " + exit + ")";
        };
    }
}
