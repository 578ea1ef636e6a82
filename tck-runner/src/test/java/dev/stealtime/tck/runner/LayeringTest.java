package dev.stealtime.tck.runner;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import dev.stealtime.tck.runner.layering.cycle.a.Left;
import org.testng.annotations.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The runner's layout, as rules over its compiled classes (test classes left out):
 * <pre>
 *   TckCli (root: the entry point)
 *     → cli        one class per subcommand; nothing but the entry point depends on it
 *     → run, merge, replay          the engines
 *     → providers, adapter, kvm, emulatedkvm, reference   discovery and the providers
 *     → dev.stealtime.tck.spi       the vendor's SPI
 *   beside them, used from above only: result (the model and its renderers), host (out dir,
 *   private files, leftovers, host packages, native sources, host KVM), exit (exit codes, usage error)
 * </pre>
 * and no package of the runner depends on another that depends back on it. The same rules applied to
 * the fixtures under {@code layering/} (a cycle, and an engine that calls a command) must fail, so
 * the rules are known to catch what they state.
 */
public class LayeringTest {

    private static final String RUNNER = "dev.stealtime.tck.runner";

    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages(RUNNER, "dev.stealtime.tck.spi");

    /** One slice per package under {@code base}, the base package itself included. */
    static ArchRule noPackageCycles(String base) {
        return slices().assignedFrom(new SliceAssignment() {
            @Override
            public SliceIdentifier getIdentifierOf(JavaClass c) {
                String p = c.getPackageName();
                return p.equals(base) || p.startsWith(base + ".") ? SliceIdentifier.of(p) : SliceIdentifier.ignore();
            }

            @Override
            public String getDescription() {
                return "the packages of " + base;
            }
        }).should().beFreeOfCycles();
    }

    static LayeredArchitecture layers(String base) {
        return layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("Entry").definedBy(base)
                .layer("Cli").definedBy(base + ".cli..")
                .layer("Engines").definedBy(base + ".run..", base + ".merge..", base + ".replay..")
                .layer("Providers").definedBy(base + ".providers..", base + ".adapter..", base + ".kvm..",
                        base + ".emulatedkvm..", base + ".reference..")
                .layer("Result").definedBy(base + ".result..")
                .layer("Host").definedBy(base + ".host..")
                .layer("Exit").definedBy(base + ".exit..")
                .layer("SPI").definedBy("dev.stealtime.tck.spi..")
                .whereLayer("Cli").mayOnlyBeAccessedByLayers("Entry")
                .whereLayer("Engines").mayOnlyBeAccessedByLayers("Entry", "Cli")
                .whereLayer("Providers").mayOnlyBeAccessedByLayers("Entry", "Cli", "Engines")
                .whereLayer("Result").mayOnlyBeAccessedByLayers("Entry", "Cli", "Engines", "Providers")
                .whereLayer("Host").mayOnlyBeAccessedByLayers("Entry", "Cli", "Engines", "Providers", "Result")
                .whereLayer("Exit").mayOnlyBeAccessedByLayers("Entry", "Cli", "Engines", "Providers", "Result", "Host")
                .whereLayer("SPI").mayNotAccessAnyLayer();
    }

    static ArchRule nothingButTheEntryPointUsesCli(String base) {
        return noClasses().that().resideOutsideOfPackages(base, base + ".cli..")
                .should().dependOnClassesThat().resideInAPackage(base + ".cli..");
    }

    @Test
    public void noPackageOfTheRunnerIsInACycle() {
        noPackageCycles(RUNNER).check(MAIN);
    }

    @Test
    public void cliThenEnginesThenProvidersThenSpi() {
        layers(RUNNER).check(MAIN);
    }

    @Test
    public void nothingButTheEntryPointDependsOnCli() {
        nothingButTheEntryPointUsesCli(RUNNER).check(MAIN);
    }

    @Test
    public void theRootPackageIsTheEntryPointAndAHandfulMore() {
        assertThat(MAIN.stream().filter(c -> c.getPackageName().equals(RUNNER) && c.isTopLevelClass()))
                .extracting(JavaClass::getSimpleName).contains("TckCli").hasSizeLessThanOrEqualTo(8);
    }

    // -- the rules catch what they state: fixtures in test sources that break them

    private static final String FIXTURES = RUNNER + ".layering";

    @Test
    public void aCycleBetweenTwoPackagesFails() {
        JavaClasses cyclic = new ClassFileImporter().importPackages(FIXTURES + ".cycle");
        assertThat(cyclic.contain(Left.class)).isTrue();
        assertThatThrownBy(() -> noPackageCycles(FIXTURES + ".cycle").check(cyclic))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("Cycle detected")
                .hasMessageContaining(FIXTURES + ".cycle.a").hasMessageContaining(FIXTURES + ".cycle.b");
    }

    @Test
    public void anEngineThatCallsACommandFails() {
        String base = FIXTURES + ".uphill";
        JavaClasses uphill = new ClassFileImporter().importPackages(base);
        assertThatThrownBy(() -> layers(base).withOptionalLayers(true).check(uphill))
                .isInstanceOf(AssertionError.class).hasMessageContaining("Engine").hasMessageContaining("FixtureCommand");
        assertThatThrownBy(() -> nothingButTheEntryPointUsesCli(base).check(uphill))
                .isInstanceOf(AssertionError.class).hasMessageContaining("Engine");
    }
}
