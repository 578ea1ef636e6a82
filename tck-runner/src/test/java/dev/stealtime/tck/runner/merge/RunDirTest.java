package dev.stealtime.tck.runner.merge;

import org.testng.annotations.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A run's column names its kernel under test: the image's release, and the KVM modules it loaded from --kvm-modules. */
public class RunDirTest {

    @Test
    public void modulesLoadedFromKvmModulesJoinTheKernelColumn() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("kernel release", "6.1.0-57-cloud-amd64");
        m.put("module irqbypass.ko", "aaaa1111bbbb2222 (Debian, /cache/irqbypass.ko, loaded)");
        m.put("module kvm.ko", "42fcd8b14cf37f6d (--kvm-modules, /b/kvm.ko, loaded)");
        m.put("module kvm-amd.ko", "3844c817d12665c0 (--kvm-modules, /b/kvm-amd.ko, loaded)");
        m.put("module kvm-intel.ko", "820e51c7a4401137 (--kvm-modules, /b/kvm-intel.ko, not loaded: not this CPU's vendor)");
        assertThat(RunDir.modulesUnderTest(m)).isEqualTo(" + kvm.ko 42fcd8b14cf3, kvm-amd.ko 3844c817d126");
        m.keySet().removeIf(k -> k.startsWith("module kvm"));
        assertThat(RunDir.modulesUnderTest(m)).as("Debian's own modules: the kernel alone names it").isEmpty();
        assertThat(RunDir.modulesUnderTest(null)).isEmpty();
    }
}
