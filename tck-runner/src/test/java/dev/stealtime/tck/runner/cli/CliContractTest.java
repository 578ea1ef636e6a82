package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.TckCli;
import dev.stealtime.tck.runner.host.PrivateFiles;
import org.testng.annotations.AfterClass;
import org.testng.annotations.Test;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.ToolProvider;

import static org.assertj.core.api.Assertions.assertThat;

/** The command-line contract: outputs, exit codes, one-line errors without stack traces. */
public class CliContractTest {

    record Result(int code, String out, String err) {
    }

    static Result tck(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = TckCli.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    public void rulesPrintsEveryCatalogueId() {
        Result r = tck("rules");
        assertThat(r.code()).isZero();
        RuleCatalogue.get().all().forEach(rule -> assertThat(r.out()).contains(rule.id()));
        assertThat(r.out()).contains(RuleCatalogue.get().all().size() + " rules");
    }

    /** A vendor sees an exec: adapter's handshake and capabilities, and whether its VMs open, before any run. */
    @Test
    public void providersChecksAnExecAdapter() {
        String java = ProcessHandle.current().info().command().orElse("java");
        String serve = "exec:" + java + " -cp " + System.getProperty("java.class.path") + " dev.stealtime.tck.runner.TckCli serve --provider reference --stdio";
        Result r = tck("providers", "--provider", serve);
        assertThat(r.code()).as("%s%s", r.out(), r.err()).isZero();
        assertThat(r.out()).contains("handshake (hello) answered").contains("capabilities:  [DIRTY_LOG, HIGH_MEMORY, HOST_MSR_ACCESS")
                .contains("guest RAM:     shared").contains("open X86_64 VM").contains("open ARM64 VM").doesNotContain("FAILED");
        Result bad = tck("providers", "--provider", "exec:/bin/false");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("exec:/bin/false").doesNotContain("Exception\n\tat");
        assertThat(tck("providers", "--provider", "reference").code()).isEqualTo(2);
    }

    /** An exec: adapter that dies before answering {@code hello} is reported by its exit status and what it printed. */
    @Test
    public void anAdapterThatExitsEarlySaysHowItEnded() {
        Result dead = tck("providers", "--provider", "exec:/bin/false");
        assertThat(dead.code()).isEqualTo(2);
        assertThat(dead.err()).as(dead.err()).contains("exited with status 1").contains("printed nothing")
                .doesNotContain("Stream closed").doesNotContain("Broken pipe");
        Result garbage = tck("providers", "--provider", "exec:sh -c 'echo garbage'");
        assertThat(garbage.code()).isEqualTo(2);
        assertThat(garbage.err()).as(garbage.err()).contains("exited with status 0").contains("having printed: garbage");
    }

    /** {@code --accel}: three values, only for the emulated machines, and a choice the host cannot run is refused in one line. */
    @Test
    public void accelIsCheckedBeforeAnythingRuns() {
        Result bogus = tck("run", "--accel", "fast", "--out", tempDir().toString());
        assertThat(bogus.code()).isEqualTo(2);
        assertThat(bogus.err().strip()).isEqualTo("tck: tck.accel must be auto, kvm or tcg, got 'fast'");
        Result notEmulated = tck("run", "--accel", "tcg", "--out", tempDir().toString());
        assertThat(notEmulated.code()).isEqualTo(2);
        assertThat(notEmulated.err()).contains("--accel does not apply to provider 'reference'");
        if (System.getProperty("os.arch").equals("amd64")) {
            Result impossible = tck("run", "--provider", "kvm-arm64", "--accel", "kvm", "--out", tempDir().toString());
            assertThat(impossible.code()).isEqualTo(2);
            assertThat(impossible.err().strip()).as(impossible.err())
                    .isEqualTo("tck: tck.accel=kvm is impossible for kvm-arm64 here: the host is x86_64, the emulated machine aarch64;"
                            + " use --accel auto or tcg");
        }
    }

    @Test
    public void providersListsReferenceAsAvailable() {
        Result r = tck("providers");
        assertThat(r.code()).isZero();
        assertThat(r.out()).containsPattern("reference\\s+yes");
    }

    @Test
    public void unknownProviderIsAUsageErrorOnOneLine() {
        Result r = tck("run", "--provider", "nope", "--out", tempDir().toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("tck: unknown provider 'nope'").doesNotContain("\n").doesNotContain("Exception");
    }

    @Test
    public void unreadableProviderJarIsAUsageError() throws Exception {
        Path notAJar = Files.createTempFile("not-a-jar", ".jar");
        try {
            Files.writeString(notAJar, "hello");
            Result r = tck("run", "--provider-jar", notAJar.toString());
            assertThat(r.code()).isEqualTo(2);
            assertThat(r.err()).contains("is not a readable jar").doesNotContain("at dev.");
            Result missing = tck("providers", "--provider-jar", "/nonexistent/x.jar");
            assertThat(missing.code()).isEqualTo(2);
            assertThat(missing.err()).contains("does not exist");
        } finally {
            Files.deleteIfExists(notAJar);
        }
    }

    /**
     * A vendor jar whose provider class does not link (its superclass is in no jar given) is a
     * provider that did not load, with the reason on one line: never a stack trace.
     */
    @Test
    public void aProviderThatDoesNotLinkIsAOneLineReason() throws Exception {
        Path dir = Files.createTempDirectory("tck-unlinked");
        try {
            Path src = Files.createDirectories(dir.resolve("src/com/example/unlinked"));
            Files.writeString(src.resolve("Missing.java"), "package com.example.unlinked; public class Missing {}\n");
            Files.writeString(src.resolve("Unlinked.java"), "package com.example.unlinked; public abstract class Unlinked extends Missing"
                    + " implements dev.stealtime.tck.spi.HypervisorProvider {}\n");
            Path classes = Files.createDirectories(dir.resolve("classes"));
            int rc = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                    "-cp", System.getProperty("java.class.path"), src.resolve("Missing.java").toString(), src.resolve("Unlinked.java").toString());
            assertThat(rc).as("javac").isZero();
            Path jar = dir.resolve("unlinked.jar");
            try (var out = new JarOutputStream(Files.newOutputStream(jar))) {
                out.putNextEntry(new JarEntry("com/example/unlinked/Unlinked.class"));   // Missing left out
                out.write(Files.readAllBytes(classes.resolve("com/example/unlinked/Unlinked.class")));
                out.putNextEntry(new JarEntry("META-INF/services/dev.stealtime.tck.spi.HypervisorProvider"));
                out.write("com.example.unlinked.Unlinked\n".getBytes(StandardCharsets.UTF_8));
            }
            Result list = tck("providers", "--provider-jar", jar.toString());
            assertThat(list.code()).as("%s%s", list.out(), list.err()).isZero();
            assertThat(list.out() + list.err()).contains("does not link").contains("com/example/unlinked/Missing").doesNotContain("\tat ");
            Result run = tck("run", "--provider-jar", jar.toString(), "--provider", "unlinked", "--out", dir.resolve("out").toString());
            assertThat(run.code()).isEqualTo(2);
            assertThat(run.err().strip()).doesNotContain("\tat ").contains("does not link");
        } finally {
            PrivateFiles.deleteTree(dir);
        }
    }

    @Test
    public void badValuesAreUsageErrors() {
        assertThat(tck("run", "--suite", "ppc").code()).isEqualTo(2);
        assertThat(tck("run", "--profile", "gold").err()).contains("unknown profile 'gold'");
        assertThat(tck("run", "--race-budget", "soon").code()).isEqualTo(2);
        assertThat(tck("run", "--timing-multiplier", "0").code()).isEqualTo(2);
        Result unknown = tck("run", "--frobnicate");
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("Unknown option: '--frobnicate'").contains("tck run --help");
    }

    @Test
    public void helpTeachesTheCommandsAndExitCodes() {
        Result r = tck("--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("run", "rules", "providers", "coverage", "Exit codes");
        assertThat(tck("run", "--help").out()).contains("--provider-jar", "--race-budget", "TCK_RACE_BUDGET");
    }

    /** Directories the tests gave to {@code --out}: removed after the class (deleteOnExit cannot remove a non-empty one). */
    private static final List<Path> TEMP_DIRS = new CopyOnWriteArrayList<>();

    private static Path tempDir() {
        try {
            Path d = PrivateFiles.tempDir("tck-cli");
            TEMP_DIRS.add(d);
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterClass(alwaysRun = true)
    public void removeTempDirs() {
        TEMP_DIRS.forEach(PrivateFiles::deleteTree);
        TEMP_DIRS.clear();
    }

    /** A series given out of order or with a part missing is a one-line usage error before anything is checked or built. */
    @Test
    public void aSeriesMustBeGivenWholeAndInOrder() throws IOException {
        Path d = Files.createTempDirectory("series-cli");
        try {
            String[] parts = new String[3];
            for (int n = 1; n <= 2; n++) {
                Path f = d.resolve("000" + n + "-p.patch");
                Files.writeString(f, "From 0123456789abcdef0123456789abcdef0123456" + n + " Mon Sep 17 00:00:00 2001\n"
                        + "Subject: [PATCH " + n + "/2] KVM: x86: part " + n + "\n\n---\n"
                        + "--- a/arch/x86/kvm/x86.c\n+++ b/arch/x86/kvm/x86.c\n@@ -1 +1 @@\n-a\n+b\n");
                parts[n] = f.toString();
            }
            Result missing = tck("replay", "--out", d.resolve("out").toString(), parts[1]);
            assertThat(missing.code()).isEqualTo(2);
            assertThat(missing.err()).contains("it ends at part 1").doesNotContain("\tat ");
            Result reversed = tck("replay", "--out", d.resolve("out").toString(), parts[2], parts[1]);
            assertThat(reversed.code()).isEqualTo(2);
            assertThat(reversed.err()).contains("ends at part 1");
        } finally {
            PrivateFiles.deleteTree(d);
        }
    }
}
