package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.run.ProgressListener;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
import dev.stealtime.tck.runner.selftest.x86.X86SuiteBenchmark;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.TckConfig;
import org.testcontainers.DockerClientFactory;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Not a test: what the adapter protocol costs. Prints the x86 suite's wall time against the
 * reference in-process, through {@code exec:} (tck serve on stdio) and through {@code container:}
 * (an image built FROM scratch; skipped without Docker), each after one warm-up run (goal: the
 * protocol adds under 50 %), and the torn-read race's graded samples per second in-process, through
 * the shared RAM file, and through sampling.
 * <pre>
 *   TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost \
 *   ./mvnw -B -q -pl tck-runner test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=dev.stealtime.tck.runner.adapter.AdapterBenchmark [-Dexec.args="RUNS"]
 * </pre>
 */
public final class AdapterBenchmark {

    private AdapterBenchmark() {
    }

    /** This program's classpath (under exec:java it is the class loader's, not java.class.path). */
    static String classpath() throws Exception {
        if (Thread.currentThread().getContextClassLoader() instanceof URLClassLoader u && u.getURLs().length > 0) {
            StringBuilder sb = new StringBuilder();
            for (URL url : u.getURLs()) {
                sb.append(sb.length() == 0 ? "" : File.pathSeparator).append(Path.of(url.toURI()));
            }
            return sb.toString();
        }
        return System.getProperty("java.class.path");
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        TckConfig config = TckConfig.fromEnvironment();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = classpath();
        String serve = java + " -cp " + cp + " dev.stealtime.tck.runner.TckCli serve --provider reference --stdio";

        Map<String, HypervisorProvider> providers = new LinkedHashMap<>();
        providers.put("in-process", new ReferenceProvider());
        providers.put("exec:", AdapterSources.resolve("exec:" + serve, null).orElseThrow());
        providers.put("exec: sampled", AdapterSources.resolve("exec:" + serve + " --memory sampled", null).orElseThrow());
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            docker = false;
        }
        if (docker) {
            ProcessBuilder pb = new ProcessBuilder(ContainerAdapterTest.buildScript().toString(), ContainerAdapterTest.IMAGE, "reference").inheritIO();
            pb.environment().put("TCK_CLASSPATH", cp.replace(File.pathSeparator, ":"));
            if (pb.start().waitFor() == 0) {
                providers.put("container:", AdapterSources.resolve("container:" + ContainerAdapterTest.IMAGE, null).orElseThrow());
            }
        } else {
            System.out.println("(no Docker engine answers: container: not measured)");
        }

        System.out.printf("x86 suite against the reference, race budget %s, %d CPU(s), best of %d runs after a warm-up%n",
                config.raceBudget(), Runtime.getRuntime().availableProcessors(), runs);
        double base = 0;
        for (Map.Entry<String, HypervisorProvider> e : providers.entrySet()) {
            if (e.getKey().endsWith("sampled")) {
                continue;
            }
            new TckRun(e.getValue(), config, List.of(Suite.X86), ProgressListener.SILENT).execute();   // warm-up
            double best = Double.MAX_VALUE;
            RunResult last = null;
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                last = new TckRun(e.getValue(), config, List.of(Suite.X86), ProgressListener.SILENT).execute();
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            if (base == 0) {
                base = best;
            }
            System.out.printf("  %-14s %6.2f s  (%+5.0f %% vs in-process)  %d PASS, %d FAIL, %d N/A%n", e.getKey(), best,
                    (best / base - 1) * 100, last.count(Outcome.PASS), last.count(Outcome.FAIL), last.count(Outcome.NOT_APPLICABLE));
        }
        System.out.println("torn-read race (x86), graded samples per second:");
        for (Map.Entry<String, HypervisorProvider> e : providers.entrySet()) {
            System.out.printf("  %-14s %s%n", e.getKey(), X86SuiteBenchmark.race(e.getValue(), config));
        }
        AdapterSources.closeAll();
        System.exit(0);
    }
}
