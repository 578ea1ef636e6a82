package dev.stealtime.tck.runner.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.HostRequirement;
import dev.stealtime.tck.runner.TckCli;
import dev.stealtime.tck.runner.host.Leftovers;
import dev.stealtime.tck.runner.host.OutDir;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Results are never lost or stale: {@code tck run} (a real child JVM, with the HTML report) is
 * interrupted with SIGINT at {@value #RUNS} random moments of its run, each time into a directory that
 * holds an earlier run's CONFORMS summary. After each: no temp files (own {@code java.io.tmpdir}, the
 * output directory), no report generator left running, and the summary is either INTERRUPTED, or this
 * run's own finished one, or the earlier one untouched only when the run had not yet started.
 */
public class InterruptedRunsTest {

    static final int RUNS = 20;

    private Path work;

    @BeforeClass
    public void workDir() throws IOException {
        work = Files.createTempDirectory("tck-interrupts");
    }

    @AfterClass(alwaysRun = true)
    public void cleanUp() {
        Leftovers.deleteQuietly(work);
    }

    private Process start(Path out, Path tmp, Path log) throws IOException {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // SIGINT back to its default first: a build started in the background by a non-interactive shell
        // (nohup make &, a CI runner's script) inherits SIGINT ignored, and the JVM keeps an ignored
        // SIGINT ignored, as a background job should; the run under test is a foreground command
        List<String> cmd = List.of("env", "--default-signal=INT", Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djava.io.tmpdir=" + tmp, "-cp", cp, TckCli.class.getName(),
                "run", "--suite", "arm64", "--race-budget", "300ms", "--out", out.toString());
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    @Test
    public void twentyRandomInterruptsLeaveNoLeftoversAndNoStaleVerdict() throws Exception {
        HostRequirement.requireOrSkip("build", "interrupting runs with SIGINT (kill -INT)", "procps");
        // an earlier, complete run: its CONFORMS summary is what must never pass for an interrupted run
        Path seedDir = work.resolve("seed");
        Path seedTmp = Files.createDirectories(work.resolve("seed-tmp"));
        long t0 = System.nanoTime();
        Process seed = start(seedDir, seedTmp, work.resolve("seed.log"));
        assertThat(seed.waitFor(180, TimeUnit.SECONDS)).isTrue();
        long fullMillis = (System.nanoTime() - t0) / 1_000_000;
        assertThat(seed.exitValue()).as(Files.readString(work.resolve("seed.log"))).isZero();
        String seedJson = Files.readString(seedDir.resolve(OutDir.JSON));
        assertThat(seedJson).contains("\"verdict\" : \"CONFORMS\"");

        long seedValue = Long.getLong("tck.interrupts.seed", System.nanoTime());
        Random random = new Random(seedValue);
        Map<String, Integer> seen = new TreeMap<>();
        List<String> moments = new ArrayList<>();
        for (int i = 0; i < RUNS; i++) {
            Path out = work.resolve("run-" + i);
            Path tmp = Files.createDirectories(work.resolve("tmp-" + i));
            Path log = work.resolve("run-" + i + ".log");
            copyTree(seedDir, out);
            long at = 100 + (long) (random.nextDouble() * fullMillis);
            Instant started = Instant.now().minusSeconds(1);
            Process p = start(out, tmp, log);
            boolean exitedEarly = p.waitFor(at, TimeUnit.MILLISECONDS);
            List<ProcessHandle> children = p.descendants().toList();
            if (!exitedEarly) {
                new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
            }
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("run %d ends after SIGINT at %d ms", i, at).isTrue();
            String output = Files.readString(log);
            String context = "run " + i + ", SIGINT at " + at + " ms (seed " + seedValue + "), exit " + p.exitValue() + ":\n" + output;

            for (ProcessHandle c : children) {
                c.onExit().get(10, TimeUnit.SECONDS);
                assertThat(c.isAlive()).as("child process %d (%s) left running; %s", c.pid(), c.info().command().orElse("?"), context).isFalse();
            }
            try (Stream<Path> s = Files.list(tmp)) {
                assertThat(s.map(Path::getFileName).map(Path::toString).toList()).as("temp files left; %s", context).isEmpty();
            }
            try (Stream<Path> s = Files.list(out)) {
                assertThat(s.map(f -> f.getFileName().toString()).toList()).as(context)
                        .noneMatch(n -> n.contains(".tmp-") || n.startsWith(".report-staging"));
            }
            assertThat(p.exitValue()).as(context).isIn(0, TckCli.INTERRUPTED);

            Path json = out.resolve(OutDir.JSON);
            Path md = out.resolve(OutDir.MARKDOWN);
            String kind;
            if (!Files.exists(json)) {
                assertThat(md).as(context).doesNotExist();
                kind = "no summary (interrupted before one was written)";
            } else if (Files.readString(json).equals(seedJson)) {
                assertThat(output).as("the earlier run's summary is still there, so this run must not have begun; " + context)
                        .doesNotContain("Steal-Time TCK");
                kind = "earlier summary untouched (interrupted before the run began)";
            } else {
                JsonNode s = new ObjectMapper().readTree(json.toFile());
                String verdict = s.path("verdict").asText();
                assertThat(Files.readString(md)).as(context).contains("**Result: " + s.path("verdictText").asText() + "**");
                if (verdict.equals("INTERRUPTED")) {
                    assertThat(out.resolve("report/index.html")).as("no report of an earlier run; " + context).doesNotExist();
                    kind = "INTERRUPTED summary";
                } else {
                    assertThat(verdict).as(context).isEqualTo("CONFORMS");
                    assertThat(p.exitValue()).as(context).isZero();
                    assertThat(Instant.parse(s.path("finishedAt").asText())).as("this run's own summary; " + context).isAfter(started);
                    kind = "this run finished first";
                }
            }
            seen.merge(kind, 1, Integer::sum);
            moments.add(at + " ms: " + kind);
            Leftovers.deleteQuietly(out);
            Leftovers.deleteQuietly(tmp);
        }
        System.out.printf("InterruptedRunsTest: %d SIGINTs (seed %d, full run %d ms): %s%n  %s%n", RUNS, seedValue, fullMillis, seen,
                String.join("\n  ", moments));
        assertThat(seen.getOrDefault("INTERRUPTED summary", 0)).as("most interrupts hit a running run: %s", seen).isPositive();
    }

    /** Copies a directory tree (shared by the cli tests). */
    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
