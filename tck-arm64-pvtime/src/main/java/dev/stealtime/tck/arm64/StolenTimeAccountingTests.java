package dev.stealtime.tck.arm64;

import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.LiveMemory;
import dev.stealtime.tck.support.Snapshot;
import dev.stealtime.tck.support.race.Carries;
import dev.stealtime.tck.support.race.Outcome;
import dev.stealtime.tck.support.race.OutcomeTable;
import dev.stealtime.tck.support.race.RaceResult;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatStolenTime;
import static dev.stealtime.tck.arm64.PvTime.SIZE;
import static dev.stealtime.tck.rules.Level.REQUIRED_GROUP;
import static dev.stealtime.tck.support.GuestLayout.low;
import static dev.stealtime.tck.support.assertions.RaceAssert.assertThatRace;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * "Stolen time in unsigned nanoseconds indicating how much time this VCPU thread was
 * involuntarily not running on a physical CPU", "updated by the hypervisor prior to scheduling a
 * VCPU", read by the guest without a sequence counter. Amounts are judged on deltas only (Linux
 * may add earlier run delay on the first update), against the induced wait below and the host's
 * own measure above, each with the provider's tolerance (zero with exact timing).
 */
public class StolenTimeAccountingTests extends Arm64TckTest {

    // ---------------------------------------------------------------- ARM-ATOMIC-UPDATE

    /**
     * The outcome table of the {@code ARM-ATOMIC-UPDATE} race ({@link StolenTimeRace}'s reader returns
     * its indices): a value outside the floor and ceiling the writer published, or below the reader's
     * previous one, is forbidden.
     */
    static final List<Outcome> ATOMIC_UPDATE_OUTCOMES = OutcomeTable.rows()
            .acceptable(StolenTimeRace.UNCHANGED, "unchanged", "the same value as this reader's previous sample")
            .acceptable(StolenTimeRace.ADVANCED, "advanced", "a larger value, within the floor and ceiling the writer published")
            .acceptable(StolenTimeRace.CROSSED, "advanced into a higher upper word",
                    "a value past a 32-bit carry: the words the race is about changed together")
            .forbidden(StolenTimeRace.BELOW_FLOOR, "torn: below the floor",
                    "lower than the value in memory before the update began (e.g. old upper word + new lower word)")
            .forbidden(StolenTimeRace.ABOVE_CEILING, "torn: above the ceiling", "more than the host measured (e.g. new upper word + old lower word)")
            .forbidden(StolenTimeRace.BACKWARDS, "went backwards", "lower than a value this reader had already seen")
            .build();

    @TckRule(RuleIds.ARM_ATOMIC_UPDATE)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ATOMIC_UPDATE_oneSixtyFourBitLoadNeverSeesATornStolenTime() {
        PvTimeVm vm = openPvTimeVm(quietVcpuCount());
        PvTimeVcpu vcpu = vm.vcpu(quietVcpuCount() - 1);
        vcpu.enable(low(0));
        vcpu.settle();
        StolenTimeRace race = new StolenTimeRace(vcpu, new LiveMemory(vm.memory(), vcpu.ipa(), SIZE), exact(), tolerance(), millis(0.2));
        Evidence.step("seed stolen_time just below a 32-bit boundary", race::prepare);
        int readers = dev.stealtime.tck.support.race.RaceSpec.READERS;
        Duration budget = config().raceBudget();
        Evidence.parameter("race budget", budget);
        Evidence.parameter("reader threads", readers);
        RaceResult result = Evidence.step("race: readers load stolen_time while preempt/run cycles update it",
                () -> race.run(ATOMIC_UPDATE_OUTCOMES, readers, budget));
        assertThatRace(result).hasNoForbiddenObservation().racedAtLeast(100, 10_000);
        // the rule is exercised only by updates that change both 32-bit words: never PASS without them
        assertThat(race.carries().crossings()).as(RuleIds.ARM_ATOMIC_UPDATE + " not exercised: updates that carried into the upper 32-bit word "
                        + "(the race must see at least %d, %s)%n%s", race.carries().minimum(),
                race.carries().mode() == Carries.Mode.DRIVEN ? "driven by long preemptions within " + Carries.drivenBound(budget).toSeconds() + " s"
                        : "as nearly every update carries", race.summary())
                .isGreaterThanOrEqualTo(race.carries().minimum());
    }

    // ---------------------------------------------------------------- ARM-MONOTONIC

    @TckRule(RuleIds.ARM_MONOTONIC)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_MONOTONIC_neverDecreasesBetweenPvTimeStCalls() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.enable(low(0));
        List<Step> steps = new ArrayList<>(List.of(
                new Step("run", v -> v.runBriefly()),
                new Step("preempt 1 ms, run", v -> { v.preempt(millis(1)); v.runBriefly(); }),
                new Step("idle 0.5 ms", v -> v.idle(millis(0.5))),
                new Step("run", v -> v.runBriefly()),
                new Step("preempt 0.1 ms twice, run", v -> { v.preempt(millis(0.1)); v.preempt(millis(0.1)); v.runBriefly(); }),
                new Step("idle 2 ms", v -> v.idle(millis(2))),
                new Step("preempt 3 ms, idle 1 ms", v -> { v.preempt(millis(3)); v.idle(millis(1)); }),
                new Step("run 1 ms", v -> v.run(millis(1))),
                new Step("idle 0.2 ms", v -> v.idle(millis(0.2))),
                new Step("preempt 0.5 ms, run", v -> { v.preempt(millis(0.5)); v.runBriefly(); })));
        if (exact()) {
            // virtual time: carrying into the upper 32-bit word costs nothing
            steps.add(new Step("preempt 2^32 ns, run", v -> { v.preempt(Duration.ofNanos(1L << 32)); v.runBriefly(); }));
            steps.add(new Step("idle 1 ms", v -> v.idle(millis(1))));
        }
        Snapshot previous = vcpu.snapshot("after PV_TIME_ST");
        StringBuilder sequence = new StringBuilder(String.format("%-28s %,d%n", "after PV_TIME_ST", previous.u64(PvTime.STOLEN_TIME)));
        try {
            for (Step step : steps) {
                step.action.accept(vcpu);
                Snapshot now = vcpu.snapshot("after " + step.name);
                sequence.append(String.format("%-28s %,d%n", step.name, now.u64(PvTime.STOLEN_TIME)));
                assertThatStolenTime(now).comparedTo(previous).stolenTimeDidNotDecrease();
                previous = now;
            }
        } finally {
            Evidence.text("stolen_time after each step", sequence.toString());
        }
    }

    private record Step(String name, Consumer<PvTimeVcpu> action) {
    }

    // ---------------------------------------------------------------- ARM-STEAL-ACCOUNTS

    @DataProvider
    public Object[][] preemptions() {
        return new Object[][]{{0.5}, {2.0}, {5.0}};
    }

    @TckRule(RuleIds.ARM_STEAL_ACCOUNTS)
    @Test(groups = REQUIRED_GROUP, dataProvider = "preemptions")
    public void ARM_STEAL_ACCOUNTS_growsByTheInducedWaitAndNoMoreThanTheHostMeasured(double ms) {
        Duration d = measurable(ms);
        Evidence.parameter("preemption", d);
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.enable(low(0));
        vcpu.settle();
        preemptAndCheck(vcpu, d, "preempt(" + d.toNanos() + " ns)", "the induced wait");
    }

    @TckRule(RuleIds.ARM_STEAL_ACCOUNTS)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_STEAL_ACCOUNTS_countsNanoseconds() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.enable(low(0));
        vcpu.settle();
        Duration d = measurable(3);
        preemptAndCheck(vcpu, d, "preempt(" + d.toNanos() + " ns)", String.format("nanoseconds: %,d ns must read as about %,d, not %,d (µs) or %d (ms)",
                d.toNanos(), d.toNanos(), d.toNanos() / 1000, d.toMillis()));
    }

    @TckRule(RuleIds.ARM_STEAL_ACCOUNTS)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_STEAL_ACCOUNTS_consecutivePreemptionsAddUp() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.enable(low(0));
        vcpu.settle();
        Snapshot before = vcpu.snapshot("settled");
        long h0 = vcpu.hostSteal();
        Duration first = measurable(1);
        Duration second = measurable(2);
        Evidence.step("preempt " + first.toNanos() + " ns, run, preempt " + second.toNanos() + " ns, run", () -> {
            vcpu.preempt(first);
            vcpu.runBriefly();
            vcpu.preempt(second);
            vcpu.settle();
        });
        long h1 = vcpu.hostSteal();
        Snapshot after = vcpu.snapshot("after two preemptions, each followed by a run");
        long induced = first.toNanos() + second.toNanos();
        assertThatStolenTime(after).comparedTo(before)
                .stolenTimeGrewBetween(induced - 2 * tolerance(), (h1 - h0) + tolerance(), "both preemptions, within the host's measure");
    }

    private void preemptAndCheck(PvTimeVcpu vcpu, Duration d, String what, String why) {
        Snapshot before = vcpu.snapshot("settled, before " + what);
        long h0 = vcpu.hostSteal();
        Evidence.step("preempt " + d.toNanos() + " ns, then run", () -> {
            vcpu.preempt(d);
            vcpu.settle();
        });
        long h1 = vcpu.hostSteal();
        Snapshot after = vcpu.snapshot("after " + what + " and the next runs");
        Evidence.parameter("host measured", (h1 - h0) + " ns");
        assertThatStolenTime(after).comparedTo(before).stolenTimeGrewBetween(d.toNanos() - tolerance(), (h1 - h0) + tolerance(),
                why + "; at least the induced " + d.toNanos() + " ns, at most what the host measured (" + (h1 - h0) + " ns)");
    }

    // ---------------------------------------------------------------- ARM-ACCUMULATES-IN-MEMORY

    /**
     * The VMM replaces stolen_time in guest memory while the vCPU is stopped (as restoring a saved
     * guest would, with the source's total), upwards and downwards: the next update adds the
     * preemption to the value found there, never to a total the hypervisor kept itself.
     */
    @TckRule(RuleIds.ARM_ACCUMULATES_IN_MEMORY)
    @Test(groups = dev.stealtime.tck.rules.Level.LINUX_ABI_GROUP)
    public void ARM_ACCUMULATES_IN_MEMORY_updatesAddToTheStolenTimeInGuestMemory() {
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu vcpu = vm.vcpu(0);
        vcpu.enable(low(0));
        vcpu.settle();
        Duration d = millis(3);
        long up = vcpu.stolenTime() + (1L << 31);
        long down = up - (1L << 30);
        StringBuilder table = new StringBuilder();
        try {
            for (long seed : new long[]{up, down}) {
                Evidence.step("the VMM stores stolen_time = " + PvTime.hex(seed) + ", then preempt " + d.toNanos() + " ns and run", () -> {
                    new LiveMemory(vm.memory(), vcpu.ipa(), SIZE).storeU64(PvTime.STOLEN_TIME, seed);
                    Snapshot seeded = vcpu.snapshot("after the VMM stored " + PvTime.hex(seed));
                    long h0 = vcpu.hostSteal();
                    vcpu.preempt(d);
                    vcpu.settle();
                    long h1 = vcpu.hostSteal();
                    Snapshot after = vcpu.snapshot("after preempt(" + d.toNanos() + " ns) and the next runs");
                    table.append(String.format("stored %s -> hypervisor wrote %s (host measured %,d ns)%n", PvTime.hex(seed),
                            PvTime.hex(after.u64(PvTime.STOLEN_TIME)), h1 - h0));
                    // the amount is ARM-STEAL-ACCOUNTS's: here only where the update started from (a second of slack)
                    assertThatStolenTime(after).comparedTo(seeded).stolenTimeGrewBetween(1, (h1 - h0) + tolerance() + 1_000_000_000L,
                            "the update must add the preemption to the " + PvTime.hex(seed) + " found in guest memory, not write a total of its own");
                });
            }
        } finally {
            Evidence.text("accumulator in guest memory", table.toString());
        }
    }

    // ---------------------------------------------------------------- ARM-IDLE-EXCLUDED

    @TckRule(RuleIds.ARM_IDLE_EXCLUDED)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_IDLE_EXCLUDED_wfiWhileTheHostIsContendedAddsNoStolenTime() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.enable(low(0));
        vcpu.settle();
        Duration d = measurable(5);
        Snapshot before = vcpu.snapshot("settled");
        long h0 = vcpu.hostSteal();
        Evidence.step("WFI for " + d.toMillis() + " ms while the host CPU is contended, then run", () -> {
            vcpu.idle(d);
            vcpu.settle();
        });
        long h1 = vcpu.hostSteal();
        Snapshot after = vcpu.snapshot("after idle(" + d.toMillis() + " ms) and the next runs");
        assertThatStolenTime(after).comparedTo(before).stolenTimeGrewAtMost((h1 - h0) + tolerance(),
                "waiting in WFI is voluntary; only what the host measured as involuntary wait (" + (h1 - h0) + " ns) may count");
    }

    // ---------------------------------------------------------------- ARM-UPDATED-BEFORE-RUN

    @TckRule(RuleIds.ARM_UPDATED_BEFORE_RUN)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_UPDATED_BEFORE_RUN_theHypercallRightAfterAPreemptionAlreadySeesIt() {
        firstEntryAfterPreemptionSeesIt("an SMCCC call (PV_TIME_FEATURES)", v -> v.features(PvTime.PV_TIME_ST));
    }

    @TckRule(RuleIds.ARM_UPDATED_BEFORE_RUN)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_UPDATED_BEFORE_RUN_theRunRightAfterAPreemptionAlreadySeesIt() {
        firstEntryAfterPreemptionSeesIt("a short run", PvTimeVcpu::runBriefly);
    }

    /** The guest's first entry after the preemption is one that halts at once (WFI): it was scheduled in, so it was updated. */
    @TckRule(RuleIds.ARM_UPDATED_BEFORE_RUN)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_UPDATED_BEFORE_RUN_theEntryThatWaitsRightAfterAPreemptionAlreadySeesIt() {
        firstEntryAfterPreemptionSeesIt("an entry that executes WFI at once (idle 1 ms)", v -> v.idle(millis(1)));
    }

    /**
     * After preempt(d), the structure shows the preemption by the first guest entry, and nothing
     * of it appears only later: what is added by further runs is no more than the host measured
     * meanwhile.
     */
    private void firstEntryAfterPreemptionSeesIt(String entry, Consumer<PvTimeVcpu> firstEntry) {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.enable(low(0));
        vcpu.settle();
        Duration d = measurable(2);
        Snapshot before = vcpu.snapshot("settled");
        vcpu.preempt(d);
        Evidence.step("first guest entry after preempt(" + d.toMillis() + " ms): " + entry, () -> firstEntry.accept(vcpu));
        long h1 = vcpu.hostSteal();
        Snapshot first = vcpu.snapshot("at the first entry after preempt(" + d.toMillis() + " ms): " + entry);
        vcpu.settle();
        long h2 = vcpu.hostSteal();
        Snapshot later = vcpu.snapshot("after two more runs");
        Evidence.step("the first entry already saw the preemption", () ->
                assertThatStolenTime(first).comparedTo(before).stolenTimeGrew("the preemption, by the first entry after it"));
        Evidence.step("nothing of it was left for later entries", () ->
                assertThatStolenTime(later).comparedTo(first).stolenTimeGrewAtMost((h2 - h1) + tolerance(),
                        "later runs may only add what the host measured after the first entry (" + (h2 - h1) + " ns)"));
    }
}
