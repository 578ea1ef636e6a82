package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RuleResult;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.runner.result.Verdict;
import dev.stealtime.tck.runner.run.ProgressListener;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.ProviderGuard;
import dev.stealtime.tck.support.TckConfig;
import org.testng.annotations.Test;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Outcomes are never disguised: NOT_APPLICABLE only when the provider declared a lack (with the
 * reason), a provider that breaks is FAIL, and unclaimed levels are reported as such.
 */
public class RunnerOutcomeTest {

    @Test
    public void aMissingArchitectureIsNotApplicableWithTheReason() {
        var x86Only = new DelegatingProvider(new ReferenceProvider()) {
            @Override
            public Set<Architecture> architectures() {
                return EnumSet.of(Architecture.X86_64);
            }
        };
        RunResult r = DetectionTable.run(x86Only, Suite.ARM64);
        assertThat(r.rules()).isNotEmpty().allSatisfy(rule -> {
            assertThat(rule.outcome()).isEqualTo(Outcome.NOT_APPLICABLE);
            assertThat(rule.message()).contains("does not support ARM64");
        });
        // nothing claimed was tested: that is no verdict, never CONFORMS
        assertThat(r.verdict()).isEqualTo(Verdict.NOT_TESTED);
        assertThat(r.conforms()).isFalse();
        assertThat(r.verdictExplanation(List.of("required", "linux-abi"))).contains("could be tested").contains("does not support ARM64");
    }

    @Test
    public void anUnavailableProviderIsNotApplicableWithItsReason() {
        var absent = new DelegatingProvider(new ReferenceProvider()) {
            @Override
            public Availability availability() {
                return Availability.no("/dev/kvm: No such file or directory");
            }
        };
        RunResult r = DetectionTable.run(absent, Suite.X86);
        assertThat(r.rules()).allSatisfy(rule -> assertThat(rule.message()).contains("/dev/kvm: No such file or directory"));
        assertThat(r.count(Outcome.NOT_APPLICABLE)).isEqualTo(r.rules().size());
        assertThat(r.verdict()).isEqualTo(Verdict.NOT_TESTED);
    }

    @Test
    public void aMissingCapabilityWithOtherRulesTestedStillConforms() {
        var noMulti = new DelegatingProvider(new ReferenceProvider()) {
            @Override
            public Set<Capability> capabilities() {
                return EnumSet.complementOf(EnumSet.of(Capability.MULTI_VCPU));
            }
        };
        RunResult r = DetectionTable.run(noMulti, Suite.ARM64);
        assertThat(r.count(Outcome.NOT_APPLICABLE)).as("ARM-PER-VCPU needs MULTI_VCPU").isPositive();
        assertThat(r.verdict()).isEqualTo(Verdict.CONFORMS);
    }

    @Test
    public void aProviderExceptionIsTheProvidersWithItsMessageAndFirstFrames() {
        var broken = new DelegatingProvider(new ReferenceProvider()) {
            @Override
            public Vm open(VmSpec spec) {
                throw new IllegalStateException("KVM_CREATE_VM: Cannot allocate memory");
            }
        };
        RunResult r = DetectionTable.run(broken, Suite.X86);
        assertThat(r.tests()).filteredOn(t -> t.outcome() == Outcome.FAIL).isNotEmpty().anySatisfy(t -> assertThat(t.message())
                .startsWith("provider 'wrapped-reference' failed in HypervisorProvider.open(")
                .contains("java.lang.IllegalStateException: KVM_CREATE_VM: Cannot allocate memory")
                .contains("at dev.stealtime.tck.runner.cli.RunnerOutcomeTest$"));
    }

    @Test
    public void aHangingCallFailsWithTheCallTheLimitAndTheStuckFrames() {
        CountDownLatch never = new CountDownLatch(1);
        var hanging = new DelegatingProvider(new ReferenceProvider()) {
            @Override
            public Vm open(VmSpec spec) {
                try {
                    never.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return inner.open(spec);
            }
        };
        TckConfig cfg = DetectionTable.selfTestConfig().with(TckConfig.Key.CALL_TIMEOUT, "200ms");
        try {
            RunResult r = new TckRun(hanging, cfg, List.of(Suite.ARM64), ProgressListener.SILENT).execute();
            assertThat(r.verdict()).isEqualTo(Verdict.DOES_NOT_CONFORM);
            List<TestOutcome> failed = r.tests().stream().filter(t -> t.outcome() == Outcome.FAIL).toList();
            assertThat(failed).isNotEmpty();
            assertThat(failed.get(0).message()).startsWith("provider call HypervisorProvider.open(")
                    .contains("did not return within 200ms (tck.call.timeout 200ms)").contains("Stuck thread").contains("CountDownLatch.await");
            assertThat(failed).filteredOn(t -> t.message().contains("given up after " + ProviderGuard.GIVE_UP_AFTER))
                    .as("after %d timeouts in a row the provider is not called again", ProviderGuard.GIVE_UP_AFTER).isNotEmpty();
        } finally {
            never.countDown();
        }
    }

    /** A provider whose slow one-time preparation happens once, outside the call timeout. */
    private static final class Preparing extends DelegatingProvider {
        final AtomicInteger prepared = new AtomicInteger();
        final long millis;
        final RuntimeException failure;

        Preparing(long millis, RuntimeException failure) {
            super(new ReferenceProvider());
            this.millis = millis;
            this.failure = failure;
        }

        @Override
        public void prepare() {
            prepared.incrementAndGet();
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (failure != null) {
                throw failure;
            }
        }
    }

    @Test
    public void aPreparationLongerThanTheCallTimeoutRunsOnceAndTheRunConforms() {
        Preparing p = new Preparing(600, null);
        TckConfig cfg = DetectionTable.selfTestConfig().with(TckConfig.Key.CALL_TIMEOUT, "200ms");
        RunResult r = new TckRun(p, cfg, List.of(Suite.ARM64), ProgressListener.SILENT).execute();
        assertThat(p.prepared.get()).as("prepare() calls in one run").isEqualTo(1);
        assertThat(r.verdict()).as("a 600 ms preparation under a 200 ms call timeout").isEqualTo(Verdict.CONFORMS);
    }

    @Test
    public void aPreparationThatFailsOrOverrunsMakesTheProviderUnavailableWithTheReason() {
        Preparing broken = new Preparing(0, new IllegalStateException("cannot fetch the kernel image"));
        RunResult r = new TckRun(broken, DetectionTable.selfTestConfig(), List.of(Suite.ARM64), ProgressListener.SILENT).execute();
        assertThat(r.verdict()).isEqualTo(Verdict.NOT_TESTED);
        assertThat(r.rules()).allSatisfy(rr -> assertThat(rr.message()).contains("prepare() threw").contains("cannot fetch the kernel image"));

        Preparing slow = new Preparing(3_000, null);
        TckConfig cfg = DetectionTable.selfTestConfig().with(TckConfig.Key.PREPARE_TIMEOUT, "300ms");
        RunResult late = new TckRun(slow, cfg, List.of(Suite.ARM64), ProgressListener.SILENT).execute();
        assertThat(late.verdict()).isEqualTo(Verdict.NOT_TESTED);
        assertThat(late.rules()).allSatisfy(rr -> assertThat(rr.message())
                .contains("prepare() did not finish within 300ms (tck.prepare.timeout)"));
    }

    @Test
    public void aListingAsksAvailabilityWithoutPreparing() {
        Preparing p = new Preparing(0, null);
        var listed = ProviderGuard.wrapForListing(p, DetectionTable.selfTestConfig());
        assertThat(listed.availability().available()).isTrue();
        assertThat(p.prepared.get()).as("prepare() calls by a listing").isZero();
        assertThat(ProviderGuard.prepares(p)).isTrue();
        assertThat(ProviderGuard.prepares(new ReferenceProvider())).isFalse();
    }

    @Test
    public void aProviderThatBreaksFailsEveryRuleItTouchesAndNeverSkips() {
        var broken = new DelegatingProvider(new ReferenceProvider()) {
            @Override
            public Vm open(VmSpec spec) {
                throw new IllegalStateException("KVM_CREATE_VM: Cannot allocate memory");
            }
        };
        for (Suite s : Suite.values()) {
            RunResult r = DetectionTable.run(broken, s);
            assertThat(r.count(Outcome.NOT_APPLICABLE)).as("%s: nothing becomes not applicable", s).isZero();
            assertThat(r.conforms()).isFalse();
            assertThat(r.rules()).filteredOn(rr -> rr.outcome() == Outcome.FAIL).isNotEmpty()
                    .allSatisfy(rr -> assertThat(rr.message()).isNotBlank());
        }
    }

    @Test
    public void aMissingCapabilityMakesOnlyTheTestsNeedingItNotApplicable() {
        var noHoles = new DelegatingProvider(new ReferenceProvider()) {
            @Override
            public Set<Capability> capabilities() {
                return EnumSet.complementOf(EnumSet.of(Capability.MEMORY_HOLES));
            }
        };
        for (Suite s : Suite.values()) {
            RunResult r = DetectionTable.run(noHoles, s);
            assertThat(r.count(Outcome.FAIL)).as("%s: %s", s, r.failedRuleIds()).isZero();
            List<TestOutcome> na = r.tests().stream().filter(t -> t.outcome() == Outcome.NOT_APPLICABLE).toList();
            assertThat(na).as("%s: tests needing MEMORY_HOLES", s).isNotEmpty()
                    .allSatisfy(t -> assertThat(t.message()).contains("MEMORY_HOLES"));
        }
    }

    @Test
    public void unclaimedLevelsAreReportedAsNotClaimedAndDoNotGate() {
        TckConfig cfg = DetectionTable.selfTestConfig().with(TckConfig.Key.PROFILES, "required");
        RunResult r = new TckRun(new ReferenceProvider(), cfg, List.of(Suite.X86), ProgressListener.SILENT).execute();
        List<RuleResult> unclaimed = r.rules().stream().filter(rr -> !rr.rule().level().group().equals("required")).toList();
        assertThat(unclaimed).isNotEmpty().allSatisfy(rr -> {
            assertThat(rr.outcome()).isEqualTo(Outcome.NOT_APPLICABLE);
            assertThat(rr.message()).contains("not claimed");
            assertThat(rr.tests()).as("no test of an unclaimed level runs").isEmpty();
        });
        assertThat(r.rules()).filteredOn(rr -> rr.rule().level().group().equals("required"))
                .allSatisfy(rr -> assertThat(rr.outcome()).isEqualTo(Outcome.PASS));
    }
}
