package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.arm64.Arm64FaultyVariants;
import dev.stealtime.tck.runner.selftest.x86.X86FaultyVariants;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Caught every time, measured: runs every faulty variant of the named suites N times (default 10)
 * against the self-test configuration and fails (exit 1) when a deterministic variant's named rule
 * missed it even once, or a racy one was never caught; racy variants report their catch rate. The
 * default build runs each variant once ({@code X86DetectionTest}, {@code Arm64DetectionTest}); this
 * is the repeat, kept out of it for its cost (see README "Self-tests: caught every time").
 * <pre>
 * ./mvnw -B -q -pl tck-runner -am test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=dev.stealtime.tck.runner.selftest.DetectionRepeat -Dexec.args="x86 arm64 10"
 * </pre>
 * Arguments: suites ({@code x86}, {@code arm64}; both when none), then N; {@code --only NAME,...}
 * restricts the variants. Tables go to stdout and {@code target/detection-repeat-SUITE.txt}.
 */
public final class DetectionRepeat {

    private DetectionRepeat() {
    }

    public static void main(String[] args) throws IOException {
        List<Suite> suites = new ArrayList<>();
        int n = 10;
        List<String> only = List.of();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "x86" -> suites.add(Suite.X86);
                case "arm64" -> suites.add(Suite.ARM64);
                case "--only" -> only = List.of(args[++i].split(","));
                default -> n = Integer.parseInt(args[i]);
            }
        }
        if (suites.isEmpty()) {
            suites = List.of(Suite.X86, Suite.ARM64);
        }
        int problems = 0;
        for (Suite suite : suites) {
            List<FaultyVariant> variants = new ArrayList<>(suite == Suite.X86 ? X86FaultyVariants.all() : Arm64FaultyVariants.all());
            if (!only.isEmpty()) {
                List<String> names = only;
                variants.removeIf(v -> !names.contains(v.name()));
            }
            DetectionTable table = new DetectionTable(suite);
            long t0 = System.nanoTime();
            for (FaultyVariant v : variants) {
                DetectionTable.Row row = table.add(v, n);
                System.out.printf("%-8s %-36s %-13s %6d ms%n", suite.cliName, v.name(), row.catchRate(), row.millis());
            }
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            long deterministic = table.rows().stream().filter(r -> r.variant().deterministic()).count();
            long everyTime = table.rows().stream().filter(r -> r.variant().deterministic() && r.caughtRuns() == r.runs()).count();
            String text = table.render() + String.format("%n%d of %d deterministic variants caught by their named rule in %d of %d runs; "
                            + "racy: %s; %d problems; %d s (%d CPUs)%n", everyTime, deterministic, n, n,
                    table.rows().stream().filter(r -> !r.variant().deterministic()).map(r -> r.variant().name() + " " + r.catchRate()).toList(),
                    table.problems().size(), seconds, Runtime.getRuntime().availableProcessors())
                    + (table.problems().isEmpty() ? "" : "PROBLEMS\n" + String.join("\n", table.problems()) + "\n");
            System.out.println(text);
            Path out = Path.of("target", "detection-repeat-" + suite.cliName + ".txt");
            Files.createDirectories(out.getParent());
            Files.writeString(out, text, StandardCharsets.UTF_8);
            problems += table.problems().size();
        }
        System.exit(problems == 0 ? 0 : 1);
    }
}
