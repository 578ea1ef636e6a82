package dev.stealtime.tck.runner.selftest.x86;

import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Capability;
import org.testng.annotations.Test;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * NOT APPLICABLE in the x86 suite arises only from a declared lack, with the reason, whether the
 * NotApplicableException is thrown in a test body (a data-driven case needing HIGH_MEMORY), in a
 * {@code @BeforeMethod} of the suite class (PerVcpuIsolationTests needs MULTI_VCPU) or in TckTest's
 * own check inside each test's invocation (architecture) — and it is never a failure, never a pass.
 */
public class X86NotApplicableTest {

    /** The reference declaring only {@code caps} (and {@code archs}). */
    private static ReferenceProvider declaring(Set<Capability> caps, Set<Architecture> archs) {
        return new ReferenceProvider("reference-declaring-" + caps, "reference with fewer declarations", new ReferenceParts()) {
            @Override
            public Set<Capability> capabilities() {
                return caps;
            }

            @Override
            public Set<Architecture> architectures() {
                return archs;
            }
        };
    }

    private static String failures(RunResult r) {
        StringBuilder sb = new StringBuilder();
        r.rules().stream().filter(rr -> rr.outcome() == Outcome.FAIL)
                .forEach(rr -> sb.append(System.lineSeparator()).append(rr.rule().id()).append(": ").append(rr.message()));
        return sb.toString();
    }

    @Test
    public void aProviderLackingHighMemoryAndMultiVcpuGetsNotApplicableOnlyForThoseCases() {
        Set<Capability> caps = EnumSet.complementOf(EnumSet.of(Capability.HIGH_MEMORY, Capability.MULTI_VCPU));
        RunResult r = DetectionTable.run(declaring(caps, EnumSet.allOf(Architecture.class)), Suite.X86);

        assertThat(r.failedRuleIds()).as("nothing fails for lack of a capability: %s", failures(r)).isEmpty();
        List<TestOutcome> na = r.tests().stream().filter(t -> t.outcome() == Outcome.NOT_APPLICABLE).toList();
        assertThat(na).as("not-applicable test results").isNotEmpty()
                .allSatisfy(t -> assertThat(t.message()).containsAnyOf("HIGH_MEMORY", "MULTI_VCPU"));
        // @BeforeMethod in PerVcpuIsolationTests: the whole rule is not applicable, with the reason
        assertThat(r.rule("X86-PER-VCPU").outcome()).isEqualTo(Outcome.NOT_APPLICABLE);
        assertThat(r.rule("X86-PER-VCPU").message()).contains("MULTI_VCPU");
        // data-driven cases above 4 GiB: those cases only; the rule passes on the others and says so
        assertThat(na).anySatisfy(t -> assertThat(t.name()).contains("X86_ALIGN_REJECT").contains("above 4 GiB"));
        assertThat(na).anySatisfy(t -> assertThat(t.name()).contains("X86_ENABLE").contains("above 4 GiB"));
        assertThat(r.rule("X86-ALIGN-REJECT").outcome()).isEqualTo(Outcome.PASS);
        assertThat(r.rule("X86-ALIGN-REJECT").message()).contains("not applicable").contains("HIGH_MEMORY");
        assertThat(r.tests()).filteredOn(t -> t.outcome() == Outcome.PASS).isNotEmpty();
    }

    @Test
    public void aProviderDeclaringNoCapabilityIsNeverFailedForIt() {
        RunResult r = DetectionTable.run(declaring(EnumSet.noneOf(Capability.class), EnumSet.allOf(Architecture.class)), Suite.X86);
        assertThat(r.failedRuleIds()).as("nothing fails for lack of a capability: %s", failures(r)).isEmpty();
        assertThat(r.tests()).filteredOn(t -> t.outcome() == Outcome.NOT_APPLICABLE)
                .allSatisfy(t -> assertThat(t.message()).contains("does not declare capability"));
        // the cases needing nothing still run and pass
        assertThat(r.rule("X86-ENABLE").outcome()).isEqualTo(Outcome.PASS);
        assertThat(r.rule("X86-OUTSIDE-RAM").outcome()).isEqualTo(Outcome.PASS);
        assertThat(r.rule("X86-FEATURE-BIT").message()).contains("WITHHOLD_STEAL_TIME");
    }

    @Test
    public void aProviderWithoutX86IsNotApplicableForEveryX86Rule() {
        RunResult r = DetectionTable.run(declaring(EnumSet.allOf(Capability.class), EnumSet.of(Architecture.ARM64)), Suite.X86);
        assertThat(r.rules()).isNotEmpty().allSatisfy(rr -> {
            assertThat(rr.outcome()).isEqualTo(Outcome.NOT_APPLICABLE);
            assertThat(rr.message()).contains("does not support X86_64");
        });
        assertThat(r.tests()).isNotEmpty().allSatisfy(t -> assertThat(t.outcome()).isEqualTo(Outcome.NOT_APPLICABLE));
    }
}
