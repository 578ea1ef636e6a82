package dev.stealtime.tck.support;

import org.testng.annotations.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class TckConfigTest {

    @Test
    public void flagWinsOverPropertyWhichWinsOverDefault() {
        System.setProperty("tck.race.budget", "750ms");
        try {
            TckConfig c = TckConfig.fromEnvironment();
            assertThat(c.raceBudget()).isEqualTo(Duration.ofMillis(750));
            assertThat(c.origin(TckConfig.Key.RACE_BUDGET)).isEqualTo("property");
            c.with(TckConfig.Key.RACE_BUDGET, "3s");
            assertThat(c.raceBudget()).isEqualTo(Duration.ofSeconds(3));
            assertThat(c.origin(TckConfig.Key.RACE_BUDGET)).isEqualTo("flag");
        } finally {
            System.clearProperty("tck.race.budget");
        }
        assertThat(TckConfig.fromEnvironment().origin(TckConfig.Key.PROVIDER)).isIn("default", "env");
        assertThat(TckConfig.Key.RACE_BUDGET.envName()).isEqualTo("TCK_RACE_BUDGET");
    }

    @Test
    public void aProvidersOwnDefaultReplacesOnlyTheTcksDefault() {
        TckConfig c = TckConfig.fromEnvironment().withProviderDefault(TckConfig.Key.CALL_TIMEOUT, "30s", "kvm-x86-emulated");
        assertThat(c.callTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.origin(TckConfig.Key.CALL_TIMEOUT)).isEqualTo("default of provider kvm-x86-emulated");
        assertThat(c.effective().get("tck.call.timeout")).isEqualTo("30s (default of provider kvm-x86-emulated)");
        c.with(TckConfig.Key.CALL_TIMEOUT, "12s");
        assertThat(c.callTimeout()).as("a flag wins over the provider's default").isEqualTo(Duration.ofSeconds(12));
        assertThat(c.origin(TckConfig.Key.CALL_TIMEOUT)).isEqualTo("flag");
    }

    @Test
    public void badValuesAreOneLineReasons() {
        assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.RACE_BUDGET, "-1s").validate())
                .hasMessage("tck.race.budget must be a positive duration such as 500ms, 2s or 1m, got '-1s'");
        assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.TIMING_MULTIPLIER, "fast").validate())
                .hasMessageContaining("timing multiplier");
        assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.PROFILES, "required,gold").validate())
                .hasMessageContaining("unknown profile 'gold'");
    }

    @Test
    public void kernelUnderTestAndKvmModulesAreCheckedPathsOnTheOneSurface() throws java.io.IOException {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("tck-config-test");
        try {
            java.nio.file.Path image = java.nio.file.Files.write(dir.resolve("bzImage"), new byte[]{1});
            assertThat(TckConfig.fromEnvironment().with(TckConfig.Key.KERNEL, image.toString()).kernel()).contains(image);
            assertThat(TckConfig.Key.KERNEL.envName()).isEqualTo("TCK_KERNEL");
            assertThat(TckConfig.Key.KVM_MODULES.envName()).isEqualTo("TCK_KVM_MODULES");
            assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.KERNEL, dir.resolve("nope").toString()).validate())
                    .hasMessageContaining("tck.kernel must be a readable kernel image file").hasMessageContaining("no such file");
            assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.KVM_MODULES, dir.toString()).validate())
                    .hasMessageContaining("holds no module (*.ko)");
            java.nio.file.Files.write(dir.resolve("kvm.ko"), new byte[]{1});
            assertThat(TckConfig.fromEnvironment().with(TckConfig.Key.KVM_MODULES, dir.toString()).kvmModules()).contains(dir);
            assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.KVM_MODULES, image.toString()).validate())
                    .hasMessageContaining("(not a directory)");
            assertThat(TckConfig.fromEnvironment().effective().get("tck.kernel")).startsWith("none");
        } finally {
            for (String f : new String[]{"bzImage", "kvm.ko"}) {
                java.nio.file.Files.deleteIfExists(dir.resolve(f));
            }
            java.nio.file.Files.delete(dir);
        }
    }

    @Test
    public void durationsParse() {
        assertThat(TckConfig.parseDuration(TckConfig.Key.RACE_BUDGET, "1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(TckConfig.parseDuration(TckConfig.Key.RACE_BUDGET, "1m")).isEqualTo(Duration.ofMinutes(1));
        assertThat(TckConfig.parseDuration(TckConfig.Key.RACE_BUDGET, "250")).isEqualTo(Duration.ofMillis(250));
    }

    @Test
    public void hexDumpShowsAddressBytesAndChangedOffsets() {
        byte[] before = new byte[16];
        byte[] after = before.clone();
        after[9] = 7;
        assertThat(HexDump.of(0x4000, after)).startsWith("0x00004000  00 00");
        assertThat(HexDump.beforeAfter(0x4000, before, after)).contains("bytes changed at offsets: [9]");
    }
}
