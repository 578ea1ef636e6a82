package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Architecture;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Recipes as files: what they say, and a one-line reason for each thing wrong in one. No VMM runs. */
public class RecipeTest {

    private static final String GOOD = """
            # a comment
            name         = Acme VMM
            architecture = x86_64
            command      = acme-vmm --kernel {kernel} --cpus {vcpus}
                           --ram {memory}M,file={ram}
            vcpu_threads = vcpu(\\d+)
            ram          = {dir}/guest.ram
            memory       = 32
            """;

    @Test
    public void aRecipeSaysHowToStartTheVmmWithTheTestGuest() {
        Recipe r = Recipe.parse("acme.recipe", GOOD);
        assertThat(r.name()).isEqualTo("Acme VMM");
        assertThat(r.architecture()).isEqualTo(Architecture.X86_64);
        assertThat(r.memoryMib()).isEqualTo(32);
        assertThat(r.multiVcpu()).isTrue();
        assertThat(r.command(Path.of("/g/guest"), 2, Path.of("/d")))
                .containsExactly("acme-vmm", "--kernel", "/g/guest", "--cpus", "2", "--ram", "32M,file=/d/guest.ram");
        assertThat(r.ramFile(Path.of("/g/guest"), 2, Path.of("/d"))).isEqualTo(Path.of("/d/guest.ram"));
        assertThat(r.vcpuThreads().matcher("vcpu3").matches()).isTrue();
    }

    @Test
    public void theShippedRecipesParse() {
        for (String name : Recipe.shipped()) {
            Recipe r = Recipe.load(name);
            assertThat(r.source()).isEqualTo("shipped recipe " + name);
            assertThat(r.multiVcpu()).as(name).isTrue();
        }
        assertThat(Recipe.load("qemu").vcpuThreads().matcher("CPU 1/KVM").matches()).isTrue();
    }

    @DataProvider
    public Object[][] broken() {
        return new Object[][]{
                {GOOD.replace("name         = Acme VMM\n", ""), "acme.recipe: 'name' is missing"},
                {GOOD.replace("ram          = {dir}/guest.ram\n", ""), "'ram' is missing (the TCK reads the structures live"},
                {GOOD + "colour = blue\n", "line 9: unknown key 'colour'"},
                {GOOD + "memory = 64\n", "line 9: 'memory' given twice"},
                {GOOD.replace("{kernel}", "{image}"), "command has an unknown placeholder {image}"},
                {GOOD.replace("--kernel {kernel}", ""), "command must boot the test guest ({kernel})"},
                {GOOD.replace("vcpu(\\d+)", "vcpu\\d+"), "vcpu_threads needs a group for the vCPU index"},
                {GOOD.replace("vcpu(\\d+)", "vcpu(\\d+"), "vcpu_threads is not a regular expression"},
                {GOOD.replace("= 32", "= lots"), "memory must be a number of MiB, got 'lots'"},
                {GOOD.replace("x86_64", "riscv64"), "architecture must be x86_64 or arm64, got 'riscv64'"},
                {"  indented first\n", "line 1: an indented line continues a value, and none came before"},
                {"just words\n", "line 1: expected 'key = value', seen 'just words'"},
        };
    }

    @Test(dataProvider = "broken")
    public void aBrokenRecipeIsRefusedWithOneLineSayingWhy(String text, String reason) {
        assertThatThrownBy(() -> Recipe.parse("acme.recipe", text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(reason).message().doesNotContain("\n");
    }

    @Test
    public void anUnknownRecipeNamesTheShippedOnes() {
        assertThatThrownBy(() -> Recipe.load("no-such-vmm")).hasMessage(
                "recipe no-such-vmm: no such file, and the TCK ships no recipe of that name (shipped: " + String.join(", ", Recipe.shipped()) + ")");
    }

    @Test
    public void vmmWithoutARecipeIsAUsageErrorNamingTheShippedOnes() {
        assertThatThrownBy(() -> RecipeProvider.of("vmm:")).hasMessageContaining("needs a recipe: a file, or one of qemu");
        assertThat(List.of(RecipeProvider.of("vmm:qemu").id())).containsExactly("vmm:qemu");
    }
}
