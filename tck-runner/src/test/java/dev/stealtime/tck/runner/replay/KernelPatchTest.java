package dev.stealtime.tck.runner.replay;

import dev.stealtime.tck.runner.exit.UsageException;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link KernelPatch}: any file of the tree, the header, the architecture; and every shipped patch reads. */
public class KernelPatchTest {

    private Path dir;

    @BeforeMethod
    public void dir() throws IOException {
        dir = Files.createTempDirectory("kernel-patch-test");
    }

    @AfterMethod(alwaysRun = true)
    public void clean() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    private Path patch(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    private static String diff(String path) {
        return "--- a/" + path + "\n+++ b/" + path + "\n@@ -1,1 +1,1 @@\n-x\n+y\n";
    }

    @Test
    public void theHeaderIsRead() throws IOException {
        KernelPatch p = KernelPatch.read(patch("p.patch", "Replay: undo-x\nKind: history\nFix: abc \"t\" (v5.9)\n"
                + "Breaks: b\nRule: ARM-EEXIST, ARM-GET-ATTR\nRacy: r\n\n" + diff("arch/arm64/kvm/pvtime.c")), null);
        assertThat(p.name()).isEqualTo("undo-x");
        assertThat(p.arch()).isEqualTo("arm64");
        assertThat(p.kind()).isEqualTo("history");
        assertThat(p.namedRules()).containsExactly("ARM-EEXIST", "ARM-GET-ATTR");
        assertThat(p.racy()).isEqualTo("r");
        assertThat(p.files()).containsExactly("arch/arm64/kvm/pvtime.c");
    }

    @Test
    public void theArchitectureComesFromTheFilesOrMustBeSaid() throws IOException {
        assertThat(KernelPatch.read(patch("a.patch", diff("arch/x86/kvm/x86.c")), null).arch()).isEqualTo("x86");
        Path generic = patch("g.patch", diff("virt/kvm/kvm_main.c"));
        assertThatThrownBy(() -> KernelPatch.read(generic, null)).isInstanceOf(UsageException.class)
                .hasMessageContaining("--arch");
        assertThat(KernelPatch.read(generic, "arm64").arch()).isEqualTo("arm64");
        assertThat(KernelPatch.read(patch("h.patch", "Arch: x86\n" + diff("include/linux/kvm_host.h")), null).arch()).isEqualTo("x86");
    }

    @Test
    public void anyFileOfTheTreeIsAcceptedButNoneOutsideIt() throws IOException {
        for (String path : List.of("kernel/sched/core.c", "arch/arm64/include/asm/kvm_host.h", "Documentation/virt/kvm/api.rst")) {
            assertThat(KernelPatch.read(patch("o.patch", diff(path)), "x86").files()).containsExactly(path);
        }
        Path up = patch("u.patch", diff("arch/x86/kvm/../../../Makefile"));
        assertThatThrownBy(() -> KernelPatch.read(up, "x86")).isInstanceOf(UsageException.class)
                .hasMessageContaining("outside the kernel tree");
    }

    @Test
    public void notADiffIsRefused() throws IOException {
        Path p = patch("n.patch", "Replay: x\njust words\n");
        assertThatThrownBy(() -> KernelPatch.read(p, "x86")).isInstanceOf(UsageException.class).hasMessageContaining("not a unified diff");
        Path p0 = patch("p0.patch", "--- pvtime.c\n+++ pvtime.c\n@@ -1 +1 @@\n-x\n+y\n");
        assertThatThrownBy(() -> KernelPatch.read(p0, "arm64")).isInstanceOf(UsageException.class).hasMessageContaining("-p1");
    }

    /** Every shipped patch reads, names its kind, and a defect names a rule or why it is equivalent. */
    @Test
    public void everyShippedPatchReads() throws IOException {
        Path shipped = Path.of("src", "main", "native", "kernel-patches");
        List<Path> files;
        try (Stream<Path> s = Files.list(shipped)) {
            files = s.filter(f -> f.toString().endsWith(".patch")).sorted().toList();
        }
        assertThat(files).isNotEmpty();
        for (Path f : files) {
            KernelPatch p = KernelPatch.read(f, null);
            assertThat(p.kind()).as(f + ": kind").isIn("history", "mutant", "fairness");
            assertThat(p.name()).as(f + ": the replay is named by its file").isEqualTo(f.getFileName().toString().replace(".patch", ""));
            assertThat(!p.rules().isEmpty() || !p.equivalent().isEmpty())
                    .as(f + ": names the rule that sees it, 'none: why', or why it is equivalent").isTrue();
            if (p.kind().equals("history")) {
                assertThat(p.fix()).as(f + ": a history replay names the fix it undoes").isNotBlank();
            }
        }
    }
}
