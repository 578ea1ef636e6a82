package dev.stealtime.tck.runner.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.runner.host.NativeSources;
import dev.stealtime.tck.runner.host.PrivateFiles;
import dev.stealtime.tck.runner.replay.BuildPlan;
import dev.stealtime.tck.runner.replay.KernelPatch;
import dev.stealtime.tck.runner.replay.Replay;
import dev.stealtime.tck.runner.replay.ReplayTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code tck replay}: Linux KVM patched, built, and judged by the suite and by the upstream selftest. */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Replay a patch of Linux KVM: build Debian's linux-source (default 6.1) with it, cached by patch",
                "hash under ~/.cache/stealtime-tck/kernels (the unpatched build once) — x86: the KVM modules",
                "(kvm.ko, kvm-amd.ko for Debian's cloud-amd64 kernel) when the patch reaches only them, else a",
                "bzImage with its own modules (a header the kernel image also includes, any other kernel file,",
                "or a source no packaged kernel matches, e.g. --source 6.12); arm64: a minimal Image. Then run",
                "the suite of its architecture on it through the emulated provider (kvm-x86-emulated,",
                "kvm-arm64), boot the same machine with the upstream selftest",
                "tools/testing/selftests/kvm/steal_time built from the same tree, and record both. Writes",
                "DIR/NAME/{build.log,tck/,tck.log,selftest-console.log} and DIR/replays.md (the table), DIR/replays.json.",
                "PATCH is a diff of any file of the tree, git format-patch output (mail headers, several commits",
                "in one file), a series as several files in order ([PATCH n/m] files are one replay; --series",
                "makes all PATCH files one), a directory (of format-patch files: one series; else one replay",
                "per *.patch), or stock:arm64 / stock:x86 (the unpatched kernel). A patch that does not apply",
                "is exit 2 with patch's own words, before anything is built.",
                "--all replays the shipped set: both stock kernels, Linux's own fixed bugs re-introduced and",
                "the mutants of its steal-time code (tck-runner/src/main/native/kernel-patches)."},
        footer = {"", "Exit: 0 every replay ran; 1 a stock kernel did not conform or failed the selftest, or (--check)",
                "a replay did not show what it expects: a fairness case failed a required rule, a deterministic defect",
                "was not failed by a rule its header names, a patch did not build; 2 usage error (a bad patch or one",
                "that does not apply: one line); 3 internal error.",
                "", "Examples:",
                "  tck replay my-fix.patch                       does my patch keep KVM conforming?",
                "  tck replay 0001-*.patch 0002-*.patch          a git format-patch series, in order",
                "  tck replay stock:arm64 --out /tmp/r",
                "  tck replay --all --out /tmp/table             the table of docs/kvm-developers.md"})
public final class ReplayCommand implements Callable<Integer> {

    static final String PATCHES = "/native/kernel-patches";
    static final String SCRIPTS = "/native/kernel-replay";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "PATCH", arity = "0..*", description = "Patch files, directories of *.patch, stock:arm64, stock:x86.")
    List<String> patches = new ArrayList<>();

    @Option(names = "--all", description = "Replay the shipped set (stock kernels, history, mutants).")
    boolean all;

    @Option(names = "--series", description = "All PATCH files are one series, applied in the order given (one replay).")
    boolean series;

    @Option(names = "--arch", paramLabel = "arm64|x86", description = "The architecture of every PATCH (default: from its header or its files).")
    String arch;

    @Option(names = "--source", paramLabel = "VERSION", defaultValue = "6.1", description = "Debian's linux-source-VERSION (default: ${DEFAULT-VALUE}).")
    String version;

    @Option(names = "--cache", paramLabel = "DIR", description = "Where sources and builds are kept (default: $XDG_CACHE_HOME or ~/.cache, then stealtime-tck/kernels).")
    Path cache;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "replay-out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--race-budget", paramLabel = "DURATION",
            description = "The suite's torn-read race budget (default: the suite's own; a race runs on past it until it has its minimum of updates).")
    String raceBudget;

    @Option(names = "--call-timeout", paramLabel = "DURATION", defaultValue = "60s",
            description = "The suite's provider call timeout (default: ${DEFAULT-VALUE}: an emulated machine on a loaded host is slow).")
    String callTimeout;

    @Option(names = "--timing-multiplier", paramLabel = "X", description = "Passed to the suite's run (default: the suite's own, 1).")
    String timingMultiplier;

    @Option(names = "--no-selftest", description = "Do not run the upstream selftest.")
    boolean noSelftest;

    @Option(names = "--check", description = "Exit 1 when a replay did not show what it expects (see Exit below): what CI runs.")
    boolean check;

    @Option(names = "--only", paramLabel = "arm64|x86", description = "With --all: only this architecture's replays.")
    String only;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
            description = "Run each kernel's suite N times on the one build (the selftest once) and print, per rule, in how many "
                    + "runs it failed; with --check a deterministic defect must fail a rule its header names in all N (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Override
    public Integer call() throws IOException {
        PrintWriter con = spec.commandLine().getOut();
        if (arch != null && !arch.equals("arm64") && !arch.equals("x86")) {
            throw new UsageException("--arch is arm64 or x86, not '" + arch + "'");
        }
        if (only != null && !only.equals("arm64") && !only.equals("x86")) {
            throw new UsageException("--only is arm64 or x86, not '" + only + "'");
        }
        if (!version.matches("\\d+\\.\\d+")) {
            throw new UsageException("--source is a version such as 6.1 or 6.12, not '" + version + "'");
        }
        if (repeat < 1) {
            throw new UsageException("--repeat is at least 1, not " + repeat);
        }
        if (!all && patches.isEmpty()) {
            throw new UsageException("nothing to replay: give PATCH... or --all");
        }
        Path work = Files.createTempDirectory("tck-replay-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            Path scripts = work.resolve("scripts");
            NativeSources.extract(SCRIPTS, scripts);
            List<KernelPatch> todo = new ArrayList<>();
            if (all) {
                Path shipped = work.resolve("patches");
                NativeSources.extract(PATCHES, shipped);
                for (String a : List.of("arm64", "x86")) {
                    if (only == null || only.equals(a)) {
                        todo.add(KernelPatch.stock(a));
                    }
                }
                // Linux's own history first, then the fairness cases, then the mutants
                List<String> order = List.of("history", "fairness", "mutant");
                List<KernelPatch> listed = new ArrayList<>(directory(shipped));
                listed.sort(Comparator.comparingInt((KernelPatch p) -> order.indexOf(p.kind())).thenComparing(KernelPatch::name));
                for (KernelPatch p : listed) {
                    if (only == null || only.equals(p.arch())) {
                        todo.add(p);
                    }
                }
            }
            if (series) {
                todo.add(seriesOf(patches));
            } else {
                todo.addAll(grouped(patches));
            }
            Files.createDirectories(out);
            Replay replay = new Replay(cache != null ? cache.toAbsolutePath() : cacheDir(), version, scripts, work, raceBudget == null ? List.of("--call-timeout", callTimeout)
                    : List.of("--race-budget", raceBudget, "--call-timeout", callTimeout),
                    timingMultiplier);
            // every patch checked (it applies) and its build decided before anything is built
            java.util.Map<KernelPatch, BuildPlan> plans = new java.util.LinkedHashMap<>();
            long tp = System.nanoTime();
            for (KernelPatch p : todo) {
                plans.put(p, replay.plan(p));
            }
            con.printf("checked %d replay(s) against linux-source-%s: every patch applies (%d ms)%n", todo.size(), version,
                    (System.nanoTime() - tp) / 1_000_000);
            List<Replay.Result> results = new ArrayList<>();
            long t0 = System.nanoTime();
            int i = 0;
            for (KernelPatch p : todo) {
                i++;
                BuildPlan plan = plans.get(p);
                con.printf("replay %d/%d %s (%s, %s; build: %s)%n", i, todo.size(), p.name(), p.arch(), p.kind(), plan.kind());
                for (int k = 0; k < p.subjects().size(); k++) {
                    con.printf("  %d/%d %s%n", k + 1, p.subjects().size(), p.subjects().get(k));
                }
                if (!plan.why().isEmpty()) {
                    con.printf("  %s%n", plan.why());
                }
                if (plan.nothing()) {
                    con.printf("  the patch touches nothing this build uses (%s): replayed on the stock build%n", String.join(", ", plan.unused()));
                }
                con.flush();
                Replay.Result r = replay.run(p, plan, out.resolve(p.name()), !noSelftest, repeat);
                results.add(r);
                con.printf("  build %s (%s); suite: %s%s in %d s; selftest: %s%n",
                        r.built() ? "ok" : "FAILED (" + r.buildError() + ")", r.buildNote().isEmpty() ? r.buildMillis() / 1000 + " s" : r.buildNote(), r.verdict(),
                        r.failing().isEmpty() && r.failingAdvisory().isEmpty() ? ""
                                : " " + String.join(",", r.failing()) + (r.failingAdvisory().isEmpty() ? "" : " advisory " + String.join(",", r.failingAdvisory())),
                        r.suiteMillis() / 1000,
                        r.selftest() == null ? "not run" : r.selftest().outcome() + (r.selftest().detail().isEmpty() ? "" : " " + r.selftest().detail()));
                if (repeat > 1 && r.built()) {
                    con.printf("  failed, per rule, in runs of %d: %s%n", repeat, r.failCounts().isEmpty() ? "none" : r.perRule());
                }
                con.flush();
                write(results, System.nanoTime() - t0);
            }
            long wall = (System.nanoTime() - t0) / 1_000_000;
            write(results, System.nanoTime() - t0);
            con.println();
            con.println(ReplayTable.totals(results, wall));
            con.printf("table  %s%n       %s%n", out.resolve("replays.md").toAbsolutePath(), out.resolve("replays.json").toAbsolutePath());
            List<String> unmet = results.stream().filter(r -> r.unmet() != null && (check || r.patch().isStock()))
                    .map(r -> r.patch().name() + ": " + r.unmet()).toList();
            unmet.forEach(u -> con.println("UNMET  " + u));
            return unmet.isEmpty() ? 0 : 1;
        } finally {
            PrivateFiles.deleteTree(work);
        }
    }

    private void write(List<Replay.Result> results, long wallNanos) throws IOException {
        Files.writeString(out.resolve("replays.md"), ReplayTable.markdown(results, wallNanos / 1_000_000), StandardCharsets.UTF_8);
        Files.writeString(out.resolve("replays.json"), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsString(results.stream().map(Replay.Result::toMap).toList()), StandardCharsets.UTF_8);
    }

    /**
     * The PATCH arguments as replays: consecutive {@code git format-patch} files {@code [PATCH 1/m]}
     * ... {@code [PATCH m/m]} are one series (a cover letter {@code [PATCH 0/m]} is read with it);
     * every other argument is resolved alone.
     */
    private List<KernelPatch> grouped(List<String> args) {
        List<KernelPatch> out = new ArrayList<>();
        List<Path> run = new ArrayList<>();
        int expect = 0;
        for (String s : args) {
            Path p = Path.of(s);
            int[] part = !s.startsWith("stock:") && Files.isRegularFile(p) ? KernelPatch.seriesPart(p) : null;
            if (part != null && (part[0] == expect + 1 || part[0] == 0 && run.isEmpty() || part[0] == 1 && run.isEmpty())) {
                run.add(p);
                expect = part[0];
                if (part[0] == part[1]) {
                    out.add(KernelPatch.read(List.copyOf(run), null, arch));
                    run.clear();
                    expect = 0;
                }
                continue;
            }
            if (!run.isEmpty()) {
                throw new UsageException("series " + run.get(0) + ": part " + (expect + 1) + " is missing (got " + s
                        + "); give a series' files in order, or --series");
            }
            out.addAll(resolve(s));
        }
        if (!run.isEmpty()) {
            throw new UsageException("series " + run.get(0) + ": it ends at part " + expect + "; give every part, in order, or --series");
        }
        return out;
    }

    /** --series: every PATCH file, in the order given, one replay. */
    private KernelPatch seriesOf(List<String> args) {
        if (args.isEmpty()) {
            throw new UsageException("--series needs the series' PATCH files");
        }
        List<Path> files = new ArrayList<>();
        for (String s : args) {
            Path p = Path.of(s);
            if (!Files.isRegularFile(p)) {
                throw new UsageException("--series: no such patch file: " + s);
            }
            files.add(p);
        }
        return KernelPatch.read(files, null, arch);
    }

    private List<KernelPatch> resolve(String s) {
        if (s.startsWith("stock:")) {
            String a = s.substring("stock:".length());
            if (!a.equals("arm64") && !a.equals("x86")) {
                throw new UsageException("stock:" + a + ": the architecture is arm64 or x86");
            }
            return List.of(KernelPatch.stock(a));
        }
        Path p = Path.of(s);
        if (Files.isDirectory(p)) {
            return seriesOrEach(p);
        }
        if (!Files.isRegularFile(p)) {
            throw new UsageException("no such patch file or directory: " + s);
        }
        return List.of(KernelPatch.read(p, arch));
    }

    /** A directory of format-patch files ([PATCH n/m]) is one series, named by the directory; else one replay per *.patch. */
    private List<KernelPatch> seriesOrEach(Path dir) {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(f -> f.getFileName().toString().endsWith(".patch")).sorted().toList();
        } catch (IOException e) {
            throw new UsageException("cannot list " + dir + ": " + e.getMessage());
        }
        if (!files.isEmpty() && files.stream().allMatch(f -> KernelPatch.seriesPart(f) != null)) {
            List<Path> parts = files.stream().sorted(Comparator.comparingInt((Path f) -> KernelPatch.seriesPart(f)[0])).toList();
            return List.of(KernelPatch.read(parts, dir.toAbsolutePath().normalize().getFileName().toString(), arch));
        }
        return directory(dir);
    }

    private List<KernelPatch> directory(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> files = s.filter(f -> f.getFileName().toString().endsWith(".patch")).sorted().toList();
            if (files.isEmpty()) {
                throw new UsageException("no *.patch in " + dir);
            }
            return files.stream().map(f -> KernelPatch.read(f, arch)).toList();
        } catch (IOException e) {
            throw new UsageException("cannot list " + dir + ": " + e.getMessage());
        }
    }

    /** The kernel cache: {@code $XDG_CACHE_HOME} or {@code ~/.cache}, then {@code stealtime-tck/kernels}. */
    static Path cacheDir() {
        return NativeSources.cacheDir("kernels");
    }

}
