package dev.stealtime.tck.runner.selftest.arm64;

import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import dev.stealtime.tck.runner.selftest.FaultyVariant;
import dev.stealtime.tck.spi.TimingPrecision;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The suite's measured-timing paths (bounded inequalities with a tolerance, the race's wall-clock
 * ceiling and per-update re-seeding), which the exact reference never takes: the reference,
 * declared "measured", must still pass every rule, and defects must still be caught by their rule.
 */
public class Arm64MeasuredTimingTest {

    private static final TimingPrecision MEASURED = TimingPrecision.measured(Duration.ofNanos(200_000));

    private static ReferenceProvider measured(String id, ReferenceParts parts) {
        return new ReferenceProvider(id, "the reference declaring measured timing (±200 µs)", parts) {
            @Override
            public TimingPrecision timing() {
                return MEASURED;
            }
        };
    }

    @Test
    public void theReferenceDeclaredMeasuredPassesEveryArm64Rule() {
        RunResult run = DetectionTable.run(measured("reference-measured", new ReferenceParts()), Suite.ARM64);
        assertThat(run.rules().stream().filter(r -> r.outcome() != Outcome.PASS)
                .map(r -> r.rule().id() + " " + r.outcome() + ": " + r.message()).toList())
                .as("arm64 rules not passing against the reference with measured timing").isEmpty();
    }

    /** A hypervisor with its own total cannot be seeded: the race drives the carries itself, and passes it. */
    @Test
    public void theOwnAccumulatorDeclaredMeasuredPassesEveryRuleItIsLegalAt() {
        dev.stealtime.tck.runner.selftest.LegalVariant legal = Arm64LegalVariants.all().stream()
                .filter(x -> x.name().equals("own-accumulator")).findFirst().orElseThrow();
        RunResult run = DetectionTable.run(measured("legal-measured:own-accumulator", legal.parts()), Suite.ARM64, legal.profiles());
        assertThat(run.rules().stream().filter(r -> legal.profiles().contains(r.rule().level().group()) && r.outcome() != Outcome.PASS)
                .map(r -> r.rule().id() + " " + r.outcome() + ": " + r.message()).toList())
                .as("arm64 rules not passing against own-accumulator with measured timing").isEmpty();
    }

    @Test
    public void defectsAreStillCaughtByTheirRuleWithMeasuredTiming() {
        for (String name : List.of("torn-32-bit-halves", "torn-halves-own-total", "stolen-time-in-microseconds", "stolen-time-double-counted",
                "idle-counted", "update-one-scheduling-late", "steal-charged-vm-wide", "st-counts-from-vcpu-start", "wfi-wake-reinitialises")) {
            FaultyVariant v = Arm64FaultyVariants.all().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
            // an own total cannot be seeded: the race drives its carries, at least 3 and more while the budget
            // lasts; at tck run's default budget (2 s) a virtual-time provider gets dozens, as many as it needs
            RunResult run = name.contains("own-total")
                    ? DetectionTable.run(measured("faulty-measured:" + name, v.parts()), Suite.ARM64, "2s")
                    : DetectionTable.run(measured("faulty-measured:" + name, v.parts()), Suite.ARM64);
            List<String> failed = run.failedRuleIds();
            if (name.startsWith("torn-")) {
                // caught by a torn value, not merely for a race left unexercised
                assertThat(run.rule("ARM-ATOMIC-UPDATE").message()).as("%s with measured timing: why ARM-ATOMIC-UPDATE failed", name)
                        .contains("torn").doesNotContain("not exercised");
            }
            assertThat(failed).as("%s with measured timing: rules failed", name).containsAll(v.mustFail());
            assertThat(failed).as("%s with measured timing: only its rules and declared collateral", name)
                    .allMatch(id -> v.mustFail().contains(id) || v.mayAlsoFail().contains(id));
        }
    }
}
