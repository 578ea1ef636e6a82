package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.host.HostKvm;
import org.testng.annotations.Test;

import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Which accelerator an emulated machine gets on each kind of host (fake probes): the host's KVM only
 * where it can nest, TCG everywhere else, a forced choice that cannot work refused in one line.
 */
public class AcceleratorChoiceTest {

    static final HostKvm NO_DEVICE = new HostKvm("x86_64", "/dev/kvm: No such file or directory", null, null, Optional.empty(), false);
    static final HostKvm PVM = new HostKvm("x86_64", null, "kvm_pvm", null, Optional.empty(), false);
    static final HostKvm AMD_NESTED = new HostKvm("x86_64", null, "kvm_amd", "ABC", Optional.of(true), true);
    static final HostKvm INTEL_NOT_NESTED = new HostKvm("x86_64", null, "kvm_intel", "DEF", Optional.of(false), true);
    static final HostKvm ARM_HOST = new HostKvm("aarch64", null, "kvm", null, Optional.empty(), false);

    @Test
    public void autoUsesTcgWithoutDevKvm() {
        Guest.Accelerator a = Guest.X86_64.accelerator(NO_DEVICE, "auto");
        assertThat(a.name()).isEqualTo("tcg");
        assertThat(a.cpu()).isEqualTo("max");
        assertThat(a.description()).isEqualTo("tcg (auto: /dev/kvm: No such file or directory)");
        assertThat(a.fallsBack()).isFalse();
    }

    @Test
    public void autoUsesTcgOnKvmPvmWhichCannotNest() {
        Guest.Accelerator a = Guest.X86_64.accelerator(PVM, "auto");
        assertThat(a.name()).isEqualTo("tcg");
        assertThat(a.description()).contains("kvm_pvm").contains("cannot nest");
    }

    @Test
    public void autoUsesKvmWhereTheHostNestsAndMayFallBack() {
        Guest.Accelerator a = Guest.X86_64.accelerator(AMD_NESTED, "auto");
        assertThat(a.name()).isEqualTo("kvm");
        assertThat(a.cpu()).isEqualTo("host");
        assertThat(a.fallsBack()).isTrue();
        assertThat(a.description()).contains("kvm_amd").contains("can nest");
        Guest.Accelerator after = a.fallBack(Guest.X86_64, "qemu-system-x86_64 exited with status 1");
        assertThat(after.name()).isEqualTo("tcg");
        assertThat(after.cpu()).isEqualTo("max");
        assertThat(after.fallsBack()).isFalse();
        assertThat(after.description()).contains("-accel kvm failed").contains("exited with status 1").contains("retried with TCG");
    }

    @Test
    public void autoUsesTcgWhereNestingIsOff() {
        assertThat(Guest.X86_64.accelerator(INTEL_NOT_NESTED, "auto").description())
                .isEqualTo("tcg (auto: kvm_intel has nesting off (/sys/module/kvm_intel/parameters/nested))");
    }

    @Test
    public void anotherArchitecturesHostIsTcg() {
        assertThat(Guest.ARM64.accelerator(AMD_NESTED, "auto").description()).contains("the host is x86_64, the emulated machine aarch64");
        assertThat(Guest.X86_64.accelerator(ARM_HOST, "auto").name()).isEqualTo("tcg");
    }

    @Test
    public void forcedTcgIsAlwaysPossible() {
        for (HostKvm h : new HostKvm[]{NO_DEVICE, PVM, AMD_NESTED, INTEL_NOT_NESTED}) {
            Guest.Accelerator a = Guest.X86_64.accelerator(h, "tcg");
            assertThat(a.description()).isEqualTo("tcg (tck.accel=tcg)");
            assertThat(a.fallsBack()).isFalse();
        }
    }

    @Test
    public void forcedKvmRunsWhereTheHostNestsWithoutFallback() {
        Guest.Accelerator a = Guest.X86_64.accelerator(AMD_NESTED, "kvm");
        assertThat(a.name()).isEqualTo("kvm");
        assertThat(a.fallsBack()).isFalse();
    }

    @Test
    public void forcedKvmThatCannotWorkIsRefusedInOneLine() {
        assertThatThrownBy(() -> Guest.X86_64.accelerator(PVM, "kvm")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("tck.accel=kvm is impossible for kvm-x86-emulated here: the host's KVM is kvm_pvm "
                        + "(no hardware virtualisation), which cannot nest; use --accel auto or tcg");
        assertThatThrownBy(() -> Guest.X86_64.accelerator(NO_DEVICE, "kvm")).hasMessageContaining("No such file");
        assertThatThrownBy(() -> Guest.ARM64.accelerator(AMD_NESTED, "kvm")).hasMessageContaining("kvm-arm64")
                .hasMessageNotContaining("\n");
    }
}
