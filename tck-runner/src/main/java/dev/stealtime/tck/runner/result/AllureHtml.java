package dev.stealtime.tck.runner.result;

import dev.stealtime.tck.runner.host.Leftovers;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Turns Allure results into the single-file HTML report ({@code index.html} that opens from disk,
 * through {@code file://}) with the Allure 2.33.0 command-line distribution from Maven Central
 * (io.qameta.allure:allure-commandline:2.33.0:zip, unpacked by the build next to the runner's jar as
 * {@code allure-2.33.0/}). The distribution rather than the bare allure-generator jar, because the
 * Behaviors tab (epic → feature → story) is a plugin whose browser half ships only there.
 *
 * <p>The generator runs in a child JVM (about a second more than in-process) for one reason: only
 * the environment variable {@code ALLURE_NO_ANALYTICS} stops Allure 2.33 from calling Google
 * Analytics while it generates and from putting the analytics tag into the page, and a running JVM
 * cannot set its own environment. The child also keeps the generator's Jackson and logging away from
 * the runner's; its logging is turned down to warnings and kept out of the console unless it fails.
 */
public final class AllureHtml {

    /** The Allure version the report is generated with (the same as allure-testng's). */
    public static final String ALLURE_VERSION = "2.33.0";
    /** System property / environment variable naming the unpacked distribution explicitly. */
    public static final String HOME_PROPERTY = "tck.allure.home";
    public static final String HOME_ENV = "TCK_ALLURE_HOME";

    /** Why a report could not be generated: always one line. */
    public static final class ReportException extends Exception {
        public ReportException(String message) {
            super(message);
        }

        public ReportException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final Path home;

    public AllureHtml(Path home) {
        this.home = home;
    }

    /** The distribution found as {@link #findHome()} explains, or a one-line reason. */
    public static AllureHtml locate() throws ReportException {
        return new AllureHtml(findHome().orElseThrow(() -> new ReportException(
                "the Allure " + ALLURE_VERSION + " distribution was not found (looked for allure-" + ALLURE_VERSION
                        + "/ next to the runner's jar; set -D" + HOME_PROPERTY + " or " + HOME_ENV + " to an unpacked allure-commandline-"
                        + ALLURE_VERSION + ".zip)")));
    }

    /**
     * Where the distribution is: {@code -Dtck.allure.home}, {@code TCK_ALLURE_HOME}, else
     * {@code allure-2.33.0/} beside the runner's jar (or beside {@code target/classes} in a build).
     */
    public static Optional<Path> findHome() {
        String explicit = System.getProperty(HOME_PROPERTY);
        if (explicit == null || explicit.isBlank()) {
            explicit = System.getenv(HOME_ENV);
        }
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            return isDistribution(p) ? Optional.of(p) : Optional.empty();
        }
        try {
            URL location = AllureHtml.class.getProtectionDomain().getCodeSource().getLocation();
            Path here = Path.of(location.toURI());
            Path candidate = here.getParent().resolve("allure-" + ALLURE_VERSION);
            return isDistribution(candidate) ? Optional.of(candidate) : Optional.empty();
        } catch (URISyntaxException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static boolean isDistribution(Path p) {
        return Files.isDirectory(p.resolve("lib")) && Files.isDirectory(p.resolve("plugins"));
    }

    public Path home() {
        return home;
    }

    /**
     * Generates {@code reportDir/index.html} (single file; the directory is cleaned first) from the
     * given results directories. Returns the index file.
     */
    public Path generate(List<Path> resultsDirs, Path reportDir, String reportName) throws ReportException {
        if (resultsDirs.isEmpty()) {
            throw new ReportException("no Allure results to generate a report from");
        }
        for (Path r : resultsDirs) {
            if (!Files.isDirectory(r)) {
                throw new ReportException("Allure results directory " + r + " does not exist");
            }
        }
        if (!isDistribution(home)) {
            throw new ReportException("the Allure distribution at " + home + " is not usable (no lib/ and plugins/)");
        }
        Path work = null;
        try {
            work = Leftovers.create(() -> Files.createTempDirectory("tck-allure"));
            Path logConfig = work.resolve("logback.xml");
            Files.writeString(logConfig, """
                    <configuration>
                      <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
                        <encoder><pattern>%msg%n</pattern></encoder>
                      </appender>
                      <root level="WARN"><appender-ref ref="out"/></root>
                    </configuration>
                    """, StandardCharsets.UTF_8);
            Path log = work.resolve("allure.log");
            List<String> cmd = new ArrayList<>(List.of(javaExecutable(), "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                    "-Dlogback.configurationFile=" + logConfig,
                    "-cp", home.resolve("lib") + "/*", "io.qameta.allure.CommandLine",
                    "generate", "--single-file", "--clean", "-o", reportDir.toAbsolutePath().toString()));
            if (reportName != null && !reportName.isBlank()) {
                cmd.add("--name");
                cmd.add(reportName);
            }
            resultsDirs.forEach(r -> cmd.add(r.toAbsolutePath().toString()));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("APP_HOME", home.toAbsolutePath().toString());
            // no analytics: the generator otherwise reports to Google Analytics and puts its tag in the page
            pb.environment().put("ALLURE_NO_ANALYTICS", "true");   // read as a boolean by the page template
            Process process = Leftovers.track(pb.start());
            process.getOutputStream().close();
            if (!process.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new ReportException("allure generate did not finish within " + TIMEOUT_MINUTES + " minutes");
            }
            Leftovers.untrack(process);
            if (process.exitValue() != 0) {
                throw new ReportException("allure generate failed (exit " + process.exitValue() + "): " + lastLine(log));
            }
        } catch (IOException e) {
            throw new ReportException("cannot run allure generate: " + oneLine(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ReportException("interrupted while generating the report", e);
        } finally {
            Leftovers.deleteQuietly(work);
            if (work != null) {
                Leftovers.untrack(work);
            }
        }
        Path index = reportDir.resolve("index.html");
        if (!Files.isRegularFile(index)) {
            throw new ReportException("allure generate finished but wrote no " + index);
        }
        return index;
    }

    private static final long TIMEOUT_MINUTES = 5;

    private static String javaExecutable() {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        return Files.isExecutable(java) ? java.toString() : "java";
    }

    private static String lastLine(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8).stream().filter(l -> !l.isBlank()).toList();
            return lines.isEmpty() ? "no output" : lines.get(lines.size() - 1).strip();
        } catch (IOException e) {
            return "no output";
        }
    }

    static String oneLine(Throwable t) {
        String m = t.getMessage();
        String s = t.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m.strip());
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
