package dev.stealtime.tck.runner.emulatedkvm;

import org.testng.SkipException;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The C adapter's JSON reader (C, src/main/native/kvm/json.c) survives malformed
 * input: src/test/native/json_fuzz.c, built for this host with AddressSanitizer and
 * UndefinedBehaviorSanitizer, feeds it truncated and corrupted requests, binary garbage, deep
 * nesting, huge numbers and strings, and checks every accepted document round-trips through the
 * writer. Needs the host's C compiler (skipped, saying so, without one).
 */
public class AdapterJsonFuzzTest {

    private static final Path SOURCES = Path.of("src/main/native/kvm");
    private static final Path FUZZER = Path.of("src/test/native/json_fuzz.c");

    @Test
    public void malformedInputIsRejectedWithAReasonAndNeverCrashesTheReader() throws Exception {
        if (!HostTools.onPath("gcc")) {
            throw new SkipException("no host C compiler (gcc) to build the adapter's JSON fuzzer");
        }
        Path dir = Files.createTempDirectory("tck-json-fuzz-");
        try {
            Path exe = dir.resolve("json_fuzz");
            run(List.of("gcc", "-O1", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-I", SOURCES.toString(),
                    FUZZER.toString(), SOURCES.resolve("json.c").toString(), "-o", exe.toString()));
            String out = run(List.of(exe.toString(), "50000", "7"));
            assertThat(out).as("fuzzer output").contains("json_fuzz: 50005 inputs").containsPattern("\\d+ parsed, \\d+ rejected");
        } finally {
            EmulatedMachine.deleteTree(dir);
        }
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("%s finished", command.get(0)).isTrue();
        assertThat(p.exitValue()).as("exit status of %s; output:%n%s", String.join(" ", command), out).isZero();
        return out;
    }
}
