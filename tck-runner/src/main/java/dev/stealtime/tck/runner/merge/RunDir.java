package dev.stealtime.tck.runner.merge;

import dev.stealtime.tck.runner.host.OutDir;
import dev.stealtime.tck.runner.result.RunSummary;
import dev.stealtime.tck.runner.result.SummaryJson;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One run directory given to {@code tck merge}: its summary read back, or why it cannot be, and
 * what is missing from it.
 *
 * @param summary null when the directory is not a readable run (then {@code problems} says why)
 * @param problems what is wrong with it: damaged (not merged) or partial (merged, with the gap named)
 */
public record RunDir(Path dir, RunSummary summary, List<String> problems) {

    public static RunDir read(Path dir) {
        List<String> problems = new ArrayList<>();
        if (!Files.exists(dir.resolve(OutDir.MARKER)) && !Files.exists(dir.resolve(OutDir.JSON))) {
            return new RunDir(dir, null, List.of("not a run directory (no " + OutDir.JSON + ", no " + OutDir.MARKER + ")"));
        }
        RunSummary s;
        try {
            s = SummaryJson.read(dir.resolve(OutDir.JSON));
        } catch (SummaryJson.SummaryException e) {
            return new RunDir(dir, null, List.of("damaged: " + e.getMessage()));
        }
        if (s.partial()) {
            problems.add("partial: the run was INTERRUPTED; " + s.totals().notRun() + " rule(s) were not reached (NOT RUN)");
        } else if ("PARTIAL".equals(s.verdict())) {
            problems.add("partial: only the rules selected by --rule ran; " + s.totals().notRun() + " rule(s) were not run (NOT RUN)");
        }
        int results = allureResultCount(dir.resolve(OutDir.ALLURE_RESULTS));
        if (results == 0) {
            problems.add("partial: no Allure results in " + OutDir.ALLURE_RESULTS + "/, so its tests are missing from the merged report");
        } else if (results < s.totals().tests()) {
            problems.add("partial: " + results + " Allure result(s) for " + s.totals().tests()
                    + " test results in its summary; the merged report lacks the others");
        }
        return new RunDir(dir, s, List.copyOf(problems));
    }

    static int allureResultCount(Path results) {
        if (!Files.isDirectory(results)) {
            return 0;
        }
        int n = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(results, "*-result.json")) {
            for (Path ignored : ds) {
                n++;
            }
        } catch (IOException e) {
            return 0;
        }
        return n;
    }

    /** The run's parameters, from its summary; the kernel from the provider's machine description when it gives one. */
    public Matrix.Run run(String name, String relativeDir) {
        Map<String, String> machine = summary.provider().machine();
        String release = null;
        String hash = null;
        if (machine != null) {
            release = machine.get("kernel release");
            for (Map.Entry<String, String> e : machine.entrySet()) {
                String k = e.getKey().toLowerCase(Locale.ROOT);
                if (!k.contains("kernel")) {
                    continue;
                }
                boolean isHash = k.contains("sha") || k.contains("hash");
                if (isHash && hash == null) {
                    hash = e.getValue();
                } else if (!isHash && release == null && !k.contains("image")) {
                    release = e.getValue();
                }
            }
        }
        String kernel = (release != null ? release : "host " + summary.environment().kernel()) + modulesUnderTest(machine);
        String host = (summary.environment().host() == null ? "unknown" : summary.environment().host())
                + (summary.environment().kvm() == null ? "" : " (KVM: " + summary.environment().kvm() + ")");
        return new Matrix.Run(name, relativeDir, summary.provider().id(), String.join("+", summary.suites()), kernel, hash,
                host, summary.verdictText(), summary.partial(), machine);
    }

    /**
     * The KVM modules a run loaded from {@code --kvm-modules} ("module kvm.ko" = "SHA256 (--kvm-modules,
     * path, loaded)"), as " + kvm.ko 42fcd8b14cf3, kvm-amd.ko 3844c817d126": the same kernel image with
     * other modules is another kernel under test, and its column must say so.
     */
    static String modulesUnderTest(Map<String, String> machine) {
        StringBuilder sb = new StringBuilder();
        if (machine != null) {
            for (Map.Entry<String, String> e : machine.entrySet()) {
                String v = e.getValue();
                if (e.getKey().startsWith("module ") && v != null && v.contains("(--kvm-modules") && v.endsWith("loaded)")
                        && !v.contains("not loaded")) {
                    sb.append(sb.length() == 0 ? " + " : ", ").append(e.getKey().substring(7)).append(' ')
                            .append(v, 0, Math.min(12, v.indexOf(' ') < 0 ? v.length() : v.indexOf(' ')));
                }
            }
        }
        return sb.toString();
    }
}
