package dev.stealtime.tck.runner.host;

import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The host's KVM read from fake {@code /dev}, {@code /sys/module} and {@code /proc/cpuinfo} trees: the three kinds of host. */
public class HostKvmTest {

    private Path root;

    @BeforeMethod
    public void fakeRoot() throws IOException {
        root = PrivateFiles.tempDir("host-kvm-test");
    }

    @AfterMethod(alwaysRun = true)
    public void remove() {
        PrivateFiles.deleteTree(root);
    }

    /** A fake host: /dev/kvm when {@code device}, the module's directory with its files, the CPU flags. */
    static Path host(Path root, boolean device, String module, String srcversion, String nested, String flags) throws IOException {
        Files.createDirectories(root.resolve("dev"));
        Files.createDirectories(root.resolve("proc"));
        if (device) {
            Files.writeString(root.resolve("dev/kvm"), "");
        }
        if (module != null) {
            Path dir = Files.createDirectories(root.resolve("sys/module").resolve(module).resolve("parameters"));
            if (srcversion != null) {
                Files.writeString(dir.resolveSibling("srcversion"), srcversion + "\n");
            }
            if (nested != null) {
                Files.writeString(dir.resolve("nested"), nested + "\n");
            }
        }
        Files.writeString(root.resolve("proc/cpuinfo"), "processor\t: 0\nflags\t\t: fpu vme " + flags + " hypervisor\n");
        return root;
    }

    @Test
    public void noDeviceIsNoKvmAndNoNesting() throws IOException {
        HostKvm h = HostKvm.probe(host(root, false, null, null, null, ""), "x86_64");
        assertThat(h.usable()).isFalse();
        assertThat(h.whyNoNesting()).hasValueSatisfying(w -> assertThat(w).contains("No such file or directory"));
        assertThat(h.describe()).startsWith("none (").contains("dev/kvm");
    }

    @Test
    public void kvmPvmRunsGuestsButNeverNests() throws IOException {
        HostKvm h = HostKvm.probe(host(root, true, "kvm_pvm", null, null, "sse2"), "x86_64");
        assertThat(h.usable()).isTrue();
        assertThat(h.module()).isEqualTo("kvm_pvm");
        assertThat(h.whyNoNesting()).hasValueSatisfying(w -> assertThat(w).contains("kvm_pvm").contains("cannot nest"));
        assertThat(h.describe()).isEqualTo("kvm_pvm (built in, no srcversion, cannot nest, no svm/vmx flag)");
    }

    @Test
    public void kvmAmdNestsOnlyWithNestedOnAndTheFlag() throws IOException {
        HostKvm on = HostKvm.probe(host(root, true, "kvm_amd", "ABC123", "1", "svm"), "x86_64");
        assertThat(on.whyNoNesting()).isEmpty();
        assertThat(on.describe()).isEqualTo("kvm_amd (srcversion ABC123, nested=on, svm/vmx flag)");

        PrivateFiles.deleteTree(root);
        root = PrivateFiles.tempDir("host-kvm-test");
        HostKvm off = HostKvm.probe(host(root, true, "kvm_amd", "ABC123", "0", "svm"), "x86_64");
        assertThat(off.whyNoNesting()).hasValueSatisfying(w -> assertThat(w).contains("kvm_amd has nesting off"));
    }

    @Test
    public void kvmIntelWithoutTheVmxFlagDoesNotNest() throws IOException {
        HostKvm h = HostKvm.probe(host(root, true, "kvm_intel", "DEF", "Y", "sse4_2"), "x86_64");
        assertThat(h.nested()).contains(true);
        assertThat(h.whyNoNesting()).hasValueSatisfying(w -> assertThat(w).contains("no svm/vmx flag"));
    }

    @Test
    public void thisMachineIsDescribedWithoutThrowing() {
        HostKvm h = HostKvm.probe();
        assertThat(h.describe()).isNotBlank();
        assertThat(h.usable()).isEqualTo(Files.exists(Path.of("/dev/kvm")) && h.problem() == null);
    }
}
