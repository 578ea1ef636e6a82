package dev.stealtime.tck.runner.result;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.HostRequirement;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The kernel's own KTAP parser ({@code tools/testing/kunit/kunit_parser.py} of Debian's
 * linux-source-6.1, fetched by {@code scripts/kunit-parser}) run on a file: its counts and every
 * leaf test with its status and log, as the parser sees them. When the package is unavailable
 * here, the calling test is skipped with the script's reason ({@link HostRequirement}: under .ci/run,
 * which fetches it first, that is a failure).
 */
public final class KernelKtapParser {

    /** Driver: parse with kunit_parser.parse_run_tests, print one JSON line after the parser's own output. */
    private static final String DRIVER = """
            import json, sys
            sys.path.insert(0, sys.argv[1])
            import kunit_parser
            with open(sys.argv[2], encoding='utf-8') as f:
                test = kunit_parser.parse_run_tests(f.readlines())
            leaves = []
            def walk(t, path):
                if not t.subtests:
                    leaves.append({'name': t.name, 'suite': path, 'status': t.status.name, 'log': list(t.log)})
                for s in t.subtests:
                    walk(s, t.name)
            for s in test.subtests:
                walk(s, 'main')
            c = test.counts
            print('KTAP-COUNTS ' + json.dumps({'passed': c.passed, 'failed': c.failed, 'crashed': c.crashed,
                  'skipped': c.skipped, 'errors': c.errors, 'status': test.status.name, 'leaves': leaves}))
            """;

    private KernelKtapParser() {
    }

    /** The directory holding kunit_parser.py, or a skip saying why the package is unavailable. */
    public static Path parserDir() throws IOException, InterruptedException {
        HostRequirement.requireOrSkip("test", "results.ktap read by the kernel's KTAP parser", "python3", "xz-utils", "apt", "dpkg");
        Path script = Path.of("..", "scripts", "kunit-parser").toAbsolutePath().normalize();
        Process p = new ProcessBuilder(script.toString()).redirectErrorStream(false).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("scripts/kunit-parser did not finish within 10 minutes");
        }
        if (p.exitValue() == 4) {
            // a skip with the reason; under .ci/run (which fetched it first) a failure
            HostRequirement.unavailable("test", "results.ktap read by the kernel's KTAP parser", err);
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException("scripts/kunit-parser failed (exit " + p.exitValue() + "): " + err);
        }
        return Path.of(out);
    }

    /** The parser's view of {@code ktap}: counts, status, and the leaves. */
    public static JsonNode parse(Path ktap) throws IOException, InterruptedException {
        Path dir = parserDir();
        Path driver = Files.createTempFile("ktap-driver", ".py");
        try {
            Files.writeString(driver, DRIVER, StandardCharsets.UTF_8);
            Process p = new ProcessBuilder("python3", driver.toString(), dir.toString(), ktap.toString())
                    .redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(2, TimeUnit.MINUTES) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new AssertionError("kunit_parser failed on " + ktap + ":\n" + out);
            }
            List<String> lines = out.lines().filter(l -> l.startsWith("KTAP-COUNTS ")).toList();
            if (lines.isEmpty()) {
                throw new AssertionError("kunit_parser printed no counts for " + ktap + ":\n" + out);
            }
            return new ObjectMapper().readTree(lines.get(lines.size() - 1).substring("KTAP-COUNTS ".length()));
        } finally {
            Files.deleteIfExists(driver);
        }
    }
}
