package dev.stealtime.tck.runner.selftest.x86;

import dev.stealtime.tck.runner.selftest.FaultyVariant;
import dev.stealtime.tck.support.TckConfig;
import dev.stealtime.tck.support.TckContext;
import dev.stealtime.tck.x86.VersionProtocolTests;
import org.testng.ITestResult;
import org.testng.TestListenerAdapter;
import org.testng.TestNG;
import org.testng.xml.XmlClass;
import org.testng.xml.XmlInclude;
import org.testng.xml.XmlSuite;
import org.testng.xml.XmlTest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Not a test: the detection power of X86-VERSION-ADVANCES, measured. Runs that rule's test RUNS
 * times (default 50) against a faulty variant (default {@code version-never-odd-slow-adapter}: a
 * version never made odd, with a 2 µs window and slow calls) with the configured race budget
 * (default 2 s, as {@code tck run}) and prints how many runs caught it, and the machine's load.
 * <pre>
 *   ./mvnw -B -q -pl tck-runner test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=dev.stealtime.tck.runner.selftest.x86.VersionRacePower [-Dexec.args="RUNS VARIANT"]
 * </pre>
 */
public final class VersionRacePower {

    private VersionRacePower() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        String name = args.length > 1 ? args[1] : "version-never-odd-slow-adapter";
        FaultyVariant v = X86FaultyVariants.all().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
        TckConfig config = TckConfig.fromEnvironment();
        System.out.printf("X86-VERSION-ADVANCES against %s (%s), race budget %s, %d CPU(s), load before: %s%n", name, v.defect(),
                config.raceBudget(), Runtime.getRuntime().availableProcessors(), load());
        int caught = 0;
        long t0 = System.nanoTime();
        for (int i = 1; i <= runs; i++) {
            String outcome = once(v, config);
            boolean hit = outcome.startsWith("FAIL");
            caught += hit ? 1 : 0;
            System.out.printf("run %2d: %s%n", i, hit ? "caught: " + outcome.substring(0, Math.min(160, outcome.length())) : outcome);
        }
        System.out.printf("caught in %d of %d runs (%.1f %%), %.1f s per run, load after: %s%n", caught, runs, 100.0 * caught / runs,
                (System.nanoTime() - t0) / 1e9 / runs, load());
    }

    private static String once(FaultyVariant v, TckConfig config) {
        TckContext.install(v.provider(), config);
        try {
            XmlSuite suite = new XmlSuite();
            suite.setName("power");
            XmlTest test = new XmlTest(suite);
            test.setName("x86");
            XmlClass c = new XmlClass(VersionProtocolTests.class);
            c.setIncludedMethods(List.of(new XmlInclude("X86_VERSION_ADVANCES_everyUpdateAdvancesTheVersion")));
            test.setXmlClasses(List.of(c));
            TestListenerAdapter listener = new TestListenerAdapter();
            TestNG testng = new TestNG(false);
            testng.setUseDefaultListeners(false);
            testng.setVerbose(0);
            testng.setXmlSuites(List.of(suite));
            testng.addListener(listener);
            testng.run();
            List<ITestResult> failed = listener.getFailedTests();
            if (!failed.isEmpty()) {
                Throwable t = failed.get(0).getThrowable();
                return "FAIL " + (t == null ? "" : String.valueOf(t.getMessage()).replace('\n', ' '));
            }
            return listener.getPassedTests().isEmpty() ? "no result" : "missed";
        } finally {
            TckContext.clear();
        }
    }

    private static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "?";
        }
    }
}
