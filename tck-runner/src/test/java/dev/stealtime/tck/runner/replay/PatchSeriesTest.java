package dev.stealtime.tck.runner.replay;

import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.runner.host.PrivateFiles;
import org.testng.SkipException;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Patches as KVM developers write them ({@code git format-patch}): mail headers, a diffstat, several
 * commits in one file, a series in several files; the subjects; which build each touched path needs
 * ({@link BuildPlan}, {@link IncludeIndex}); and a patch that does not apply (the build script's plan
 * mode against a tree of three files: nothing is built).
 */
public class PatchSeriesTest {

    private Path dir;

    @BeforeMethod
    public void dir() throws IOException {
        dir = Files.createTempDirectory("patch-series-test", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    @AfterMethod(alwaysRun = true)
    public void clean() throws IOException {
        PrivateFiles.deleteTree(dir);
    }

    private Path write(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
        return p;
    }

    /** One mail as git format-patch writes it, with a diffstat and the signature. */
    private static String mail(int n, int of, String subject, String body, String path, String hunk) {
        return "From 0123456789abcdef0123456789abcdef0123456" + n + " Mon Sep 17 00:00:00 2001\n"
                + "From: A Developer <dev@example.org>\n"
                + "Date: Mon, 7 Dec 2026 12:00:00 +0000\n"
                + "Subject: [PATCH " + (of > 1 ? n + "/" + of : "") + "] " + subject + "\n\n"
                + body + "\n"
                + "Signed-off-by: A Developer <dev@example.org>\n"
                + "---\n"
                + " " + path + " | 2 +-\n"
                + " 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
                + "diff --git a/" + path + " b/" + path + "\n"
                + "index 1111111..2222222 100644\n"
                + "--- a/" + path + "\n"
                + "+++ b/" + path + "\n"
                + hunk
                + "-- \n2.39.5\n\n";
    }

    private static final String HUNK = "@@ -10,3 +10,3 @@ static void f(void)\n \ta();\n-\tb();\n+\tc();\n \td();\n";

    @Test
    public void aMailIsOneCommitWithItsSubject() throws IOException {
        Path p = write("0001-KVM-x86-fix.patch", mail(1, 1, "KVM: x86: fix the thing", "Why it is needed.\n\nFixes: 1234567 (\"KVM: x86: old\")",
                "arch/x86/kvm/x86.c", HUNK));
        KernelPatch k = KernelPatch.read(p, null);
        assertThat(k.subjects()).containsExactly("KVM: x86: fix the thing");
        assertThat(k.files()).containsExactly("arch/x86/kvm/x86.c");     // the diffstat's line is not a file
        assertThat(k.arch()).isEqualTo("x86");
        assertThat(k.name()).isEqualTo("KVM-x86-fix");
        assertThat(k.kind()).isEqualTo("patch");
        assertThat(k.commits()).hasSize(1);
        assertThat(k.buildInput(dir)).isEqualTo(p);                      // one commit: the file itself, its cache key unchanged
    }

    @Test
    public void aFoldedSubjectIsJoined() throws IOException {
        String m = mail(1, 2, "KVM: x86: keep the steal-time total in struct", "b", "arch/x86/include/asm/kvm_host.h", HUNK)
                .replace("in struct\n", "in struct\n kvm_vcpu_arch\n");
        KernelPatch k = KernelPatch.read(write("f.patch", m), null);
        assertThat(k.subjects()).containsExactly("KVM: x86: keep the steal-time total in struct kvm_vcpu_arch");
    }

    @Test
    public void severalCommitsInOneFileAreAppliedOneByOne() throws IOException {
        Path p = write("series.mbox", mail(1, 2, "KVM: x86: add a field", "one", "arch/x86/include/asm/kvm_host.h", HUNK)
                + mail(2, 2, "KVM: x86: use it", "two", "arch/x86/kvm/x86.c", HUNK));
        assertThat(KernelPatch.seriesPart(p)).as("a whole series in one file is not waiting for its other parts").isNull();
        KernelPatch k = KernelPatch.read(p, null);
        assertThat(k.subjects()).containsExactly("KVM: x86: add a field", "KVM: x86: use it");
        assertThat(k.files()).containsExactly("arch/x86/include/asm/kvm_host.h", "arch/x86/kvm/x86.c");
        Path in = k.buildInput(dir);
        assertThat(in).isDirectory();
        try (Stream<Path> s = Files.list(in)) {
            assertThat(s.map(f -> f.getFileName().toString()).sorted().toList()).containsExactly("0001.patch", "0002.patch");
        }
        assertThat(Files.readString(in.resolve("0002.patch"))).contains("Subject: [PATCH 2/2] KVM: x86: use it").doesNotContain("add a field");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(in))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(in.resolve("0001.patch")))).isEqualTo("rw-------");
    }

    @Test
    public void aSeriesInSeveralFilesKeepsItsOrderAndItsDescription() throws IOException {
        Path cover = write("s/0000-cover-letter.patch", "From 0123456789abcdef0123456789abcdef01234560 Mon Sep 17 00:00:00 2001\n"
                + "Subject: [PATCH 0/2] KVM: x86: a series\n\nReplay: my-series\nRule: X86-ACCUMULATES-IN-MEMORY\n\n"
                + " arch/x86/kvm/x86.c | 2 +-\n-- \n2.39.5\n");
        Path one = write("s/0001-a.patch", mail(1, 2, "KVM: x86: first", "x", "arch/x86/include/asm/kvm_host.h", HUNK));
        Path two = write("s/0002-b.patch", mail(2, 2, "KVM: x86: second", "y", "arch/x86/kvm/x86.c", HUNK));
        assertThat(KernelPatch.seriesPart(one)).containsExactly(1, 2);
        assertThat(KernelPatch.seriesPart(two)).containsExactly(2, 2);
        assertThat(KernelPatch.seriesPart(cover)).containsExactly(0, 2);
        KernelPatch k = KernelPatch.read(List.of(cover, one, two), "s", null);
        assertThat(k.name()).isEqualTo("my-series");
        assertThat(k.namedRules()).containsExactly("X86-ACCUMULATES-IN-MEMORY");
        assertThat(k.subjects()).containsExactly("KVM: x86: first", "KVM: x86: second");   // the cover letter has no diff
        assertThat(k.commits()).extracting(KernelPatch.Commit::source).containsExactly(one, two);
        KernelPatch named = KernelPatch.read(List.of(one, two), "s", null);
        assertThat(named.name()).isEqualTo("s");
    }

    @Test
    public void theShippedExampleSeriesRead() {
        Path ex = Path.of("src", "main", "native", "kernel-patches", "examples");
        for (String s : List.of("x86-series-harmless", "x86-series-broken")) {
            List<Path> parts;
            try (Stream<Path> f = Files.list(ex.resolve(s))) {
                parts = f.sorted().toList();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            KernelPatch k = KernelPatch.read(parts, s, null);
            assertThat(k.name()).isEqualTo(s);
            assertThat(k.subjects()).hasSize(2);
            assertThat(k.files()).containsExactly("arch/x86/include/asm/kvm_host.h", "arch/x86/kvm/x86.c");
            if (s.endsWith("broken")) {
                assertThat(k.namedRules()).containsExactly("X86-ACCUMULATES-IN-MEMORY");
            }
        }
    }

    @Test
    public void aRemovedLineThatLooksLikeAFileHeaderStaysInItsHunk() throws IOException {
        String diff = "--- a/arch/x86/kvm/x86.c\n+++ b/arch/x86/kvm/x86.c\n@@ -1,3 +1,2 @@\n a\n--- b\n+++ c\n-d\n";
        // "--- b" / "+++ c" are a removed and an added line (counted by the hunk), not a file
        KernelPatch k = KernelPatch.read(write("h.patch", diff.replace("-d\n", "")), null);
        assertThat(k.files()).containsExactly("arch/x86/kvm/x86.c");
        Path damaged = write("d.patch", "--- a/arch/x86/kvm/x86.c\n+++ b/arch/x86/kvm/x86.c\n@@ -1,3 +1,3 @@\n a\n-b\n+c\nhello\n");
        assertThatThrownBy(() -> KernelPatch.read(damaged, null)).isInstanceOf(UsageException.class).hasMessageContaining("ends early");
    }

    // ---------------------------------------------------------------- which build

    /** The 6.1 facts: arch/x86/events/intel/core.c includes asm/kvm_host.h, kernel/entry/kvm.c linux/kvm_host.h. */
    private static final IncludeIndex X86 = IncludeIndex.of("x86", Map.of(
            "arch/x86/events/intel/core.c", List.of("arch/x86/include/asm/kvm_host.h"),
            "include/linux/kvm_host.h", List.of("arch/x86/include/asm/kvm_host.h"),
            "kernel/entry/kvm.c", List.of("include/linux/kvm_host.h"),
            "arch/x86/kernel/kvm.c", List.of("arch/x86/include/asm/kvm_para.h"),
            "arch/x86/include/asm/kvm_para.h", List.of("arch/x86/include/uapi/asm/kvm_para.h"),
            "arch/x86/kvm/x86.c", List.of("arch/x86/kvm/x86.h", "arch/x86/include/asm/kvm_host.h", "arch/x86/include/asm/kvm_only.h"),
            "arch/x86/kvm/svm/svm.c", List.of("arch/x86/kvm/x86.h", "arch/x86/include/asm/kvm_only.h")));

    private static BuildPlan x86(String... files) {
        return BuildPlan.decide("x86", List.of(files), null, X86::imageUser);
    }

    @Test
    public void theBuildFollowsWhatEachPathReaches() {
        // KVM's own code and a header only KVM includes: the two modules
        assertThat(x86("arch/x86/kvm/x86.c").recipe()).isEqualTo("x86");
        assertThat(x86("virt/kvm/kvm_main.c", "arch/x86/kvm/x86.h").recipe()).isEqualTo("x86");
        assertThat(x86("arch/x86/include/asm/kvm_only.h").recipe()).isEqualTo("x86");
        assertThat(x86("tools/testing/selftests/kvm/steal_time.c").recipe()).isEqualTo("x86");
        // a header the image also includes, directly or through another header: a kernel of its own
        BuildPlan h = x86("arch/x86/include/asm/kvm_host.h", "arch/x86/kvm/x86.c");
        assertThat(h.recipe()).isEqualTo("x86-image");
        assertThat(h.kind()).isEqualTo("image");
        assertThat(h.why()).contains("arch/x86/include/asm/kvm_host.h", "arch/x86/events/intel/core.c");
        assertThat(x86("include/linux/kvm_host.h").why()).contains("kernel/entry/kvm.c");
        assertThat(x86("arch/x86/include/uapi/asm/kvm_para.h").why()).contains("arch/x86/kernel/kvm.c");
        // any other file of the kernel
        assertThat(x86("kernel/sched/cputime.c").recipe()).isEqualTo("x86-image");
        // no packaged kernel of this source: always a kernel of its own
        BuildPlan v = BuildPlan.decide("x86", List.of("arch/x86/kvm/x86.c"), "no packaged kernel is this source", X86::imageUser);
        assertThat(v.recipe()).isEqualTo("x86-image");
        assertThat(v.why()).contains("no packaged kernel");
        // arm64: the Image, whatever it touches
        assertThat(BuildPlan.decide("arm64", List.of("arch/arm64/include/asm/kvm_host.h"), null, f -> Optional.of("x")).recipe()).isEqualTo("arm64");
    }

    @Test
    public void filesNoBuildUsesAreAcceptedAndNamed() {
        BuildPlan doc = x86("Documentation/virt/kvm/x86/msr.rst");
        assertThat(doc.nothing()).isTrue();
        assertThat(doc.unused()).containsExactly("Documentation/virt/kvm/x86/msr.rst");
        assertThat(doc.recipe()).isEqualTo("x86");
        BuildPlan mixed = x86("arch/arm64/kvm/pvtime.c", "arch/x86/kvm/x86.c", "MAINTAINERS");
        assertThat(mixed.nothing()).isFalse();
        assertThat(mixed.unused()).containsExactly("arch/arm64/kvm/pvtime.c", "MAINTAINERS");
        assertThat(BuildPlan.decide("arm64", List.of("arch/x86/kvm/x86.c"), null, f -> Optional.empty()).nothing()).isTrue();
    }

    @Test
    public void theIncludeIndexReadsATree() throws IOException {
        write("t/arch/x86/include/asm/kvm_host.h", "#include <linux/types.h>\n");
        write("t/include/linux/types.h", "\n");
        write("t/include/linux/kvm_host.h", "#include <asm/kvm_host.h>\n");
        write("t/kernel/entry/kvm.c", "# include <linux/kvm_host.h>\n");
        write("t/arch/x86/kvm/x86.c", "#include \"x86.h\"\n#include <linux/kvm_host.h>\n");
        write("t/arch/x86/kvm/x86.h", "\n");
        write("t/arch/arm64/kvm/arm.c", "#include \"../../../arch/x86/kvm/x86.h\"\n");   // another architecture: not read
        IncludeIndex idx = IncludeIndex.of(dir.resolve("t"), "x86");
        assertThat(idx.imageUser("arch/x86/include/asm/kvm_host.h")).contains("kernel/entry/kvm.c");
        assertThat(idx.imageUser("arch/x86/kvm/x86.h")).isEmpty();
    }

    // ---------------------------------------------------------------- a patch that does not apply

    /**
     * The build script's plan mode on a cache whose linux-source package holds three files: a patch
     * whose context is not there is exit 3 with patch's words, which {@link Replay#plan} turns into
     * a usage error (exit 2). Nothing is compiled.
     */
    @Test
    public void aPatchThatDoesNotApplyIsAUsageErrorWithPatchsReason() throws Exception {
        for (String tool : List.of("dpkg-deb", "xz", "patch", "flock")) {
            if (!onPath(tool)) {
                throw new SkipException(tool + " is not on PATH (host-package group test/replay)");
            }
        }
        Path pkg = dir.resolve("pkg");
        Path src = pkg.resolve("usr/src/linux-source-9.9");
        write("pkg/usr/src/linux-source-9.9/Makefile", "all:\n");
        write("pkg/usr/src/linux-source-9.9/arch/x86/kvm/x86.c", "static void f(void)\n{\n\ta();\n\tb();\n\td();\n}\n");
        write("pkg/DEBIAN/control", "Package: linux-source-9.9\nVersion: 9.9.1-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n");
        run(List.of("tar", "-cJf", pkg.resolve("usr/src/linux-source-9.9.tar.xz").toString(), "-C", pkg.resolve("usr/src").toString(), "linux-source-9.9"));
        PrivateFiles.deleteTree(src);
        Path cache = dir.resolve("cache");
        Files.createDirectories(cache.resolve("debs"));
        run(List.of("dpkg-deb", "--build", "--root-owner-group", pkg.toString(), cache.resolve("debs/linux-source-9.9_9.9.1-1_all.deb").toString()));
        Path scripts = Path.of("src", "main", "native", "kernel-replay").toAbsolutePath();
        Path work = Files.createDirectories(dir.resolve("work"));
        Replay replay = new Replay(cache, "9.9", scripts, work, List.of(), null);

        String good = "--- a/arch/x86/kvm/x86.c\n+++ b/arch/x86/kvm/x86.c\n@@ -3,3 +3,3 @@\n \ta();\n-\tb();\n+\tc();\n \td();\n";
        KernelPatch ok = KernelPatch.read(write("ok.patch", "Arch: arm64\n" + good), null);
        assertThat(replay.plan(ok).recipe()).isEqualTo("arm64");
        KernelPatch bad = KernelPatch.read(write("bad.patch", "Arch: arm64\n" + good.replace(" \td();", " \te();")), null);
        assertThatThrownBy(() -> replay.plan(bad)).isInstanceOf(UsageException.class)
                .hasMessageContaining("bad.patch does not apply to linux-source-9.9 9.9.1-1 (arch/x86/kvm/x86.c): Hunk #1 FAILED")
                .hasMessageNotContaining("\n");
        // a series: part 2 needs part 1 (checked in order, on private copies: the tree stays as it was)
        Path one = write("s/0001.patch", mail(1, 2, "one", "x", "arch/x86/kvm/x86.c", good.substring(good.indexOf("@@"))));
        Path two = write("s/0002.patch", mail(2, 2, "two", "y", "arch/x86/kvm/x86.c",
                "@@ -3,3 +3,3 @@\n \ta();\n-\tc();\n+\tz();\n \td();\n"));
        assertThat(replay.plan(KernelPatch.read(List.of(one, two), "s", "arm64")).recipe()).isEqualTo("arm64");
        assertThatThrownBy(() -> replay.plan(KernelPatch.read(List.of(two, one), "s2", "arm64"))).isInstanceOf(UsageException.class)
                .hasMessageContaining("0001.patch does not apply");
        assertThat(Files.readString(cache.resolve("linux-9.9/arm64/linux-source-9.9/arch/x86/kvm/x86.c"))).contains("\tb();");
    }

    private static boolean onPath(String tool) {
        return Stream.of(System.getenv().getOrDefault("PATH", "").split(":")).anyMatch(d -> Files.isExecutable(Path.of(d, tool)));
    }

    private static void run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError(cmd + ": " + out);
        }
    }
}
