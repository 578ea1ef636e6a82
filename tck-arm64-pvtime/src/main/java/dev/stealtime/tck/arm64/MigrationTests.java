package dev.stealtime.tck.arm64;

import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.support.DirtyLog;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.Migration;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.Arrays;

import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatAttr;
import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatCall;
import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatStolenTime;
import static dev.stealtime.tck.arm64.PvTime.SIZE;
import static dev.stealtime.tck.arm64.PvTime.STOLEN_TIME;
import static dev.stealtime.tck.rules.Level.LINUX_ABI_GROUP;
import static dev.stealtime.tck.support.GuestLayout.low;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rule areas "Migration", "Dirty logging" and "Memory that moves" for arm64: the TCK plays the VMM
 * that moves a running guest. The IPA is saved with {@code GET_DEVICE_ATTR} on the source and
 * restored with {@code SET_DEVICE_ATTR} on a new VM; guest memory is copied in both orders
 * ({@link Migration.Order}). The dirty log is {@link Capability#DIRTY_LOG}, a moving memory slot
 * {@link Capability#MOVABLE_MEMORY}. Linux KVM (since v5.9) reads stolen_time back from guest memory
 * on every update, so a moved guest continues where it was.
 */
public class MigrationTests extends Arm64TckTest {

    /** The stopped source: its VM, the saved IPA, the VMM's copy of the structure's page and the structure in it. */
    private record Source(PvTimeVm vm, long ipa, Migration.Saved page, Snapshot structure) {
    }

    /**
     * A source whose guest discovered its structure at {@code ipa} (PV_TIME_ST) and accumulated stolen
     * time (three preemptions, each seen), then was stopped right after a preemption (stolen time may
     * be pending). The VMM copies the page first, then saves the IPA.
     */
    private Source stoppedSource(long ipa) {
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu v = vm.vcpu(0);
        v.requireTckPlacesStructure("the TCK, as the VMM, moves the IPA (GET_DEVICE_ATTR, SET_DEVICE_ATTR) and the page to a new VM");
        Duration d = millis(3);
        Evidence.step("source: configure " + PvTime.hex(ipa) + ", PV_TIME_ST, accumulate stolen time (3 × preempt " + d.toNanos() + " ns)", () -> {
            v.enable(ipa);
            v.settle();
            for (int i = 1; i <= 3; i++) {
                Snapshot before = v.snapshot("source: before preempt #" + i);
                v.preempt(d);
                v.settle();
                assertThat(v.snapshot("source: after preempt #" + i).bytes())
                        .as("the source must update its structure before the move can be judged (preemption #%d)", i).isNotEqualTo(before.bytes());
            }
            v.preempt(d);   // stopped right after being kept off its CPU: no further guest entry
        });
        Migration.Saved page = Evidence.step("source: the VMM copies the structure's page", () -> Migration.save(vm.memory(), ipa));
        AttrCall saved = Evidence.step("source: the VMM saves the IPA (GET_DEVICE_ATTR)", v::get);
        assertThatAttr(saved).as("saving the source's IPA").succeeded();
        assertThat(saved.read()).as("GET_DEVICE_ATTR(PVTIME_IPA) on the source must return the IPA that was set, %s", PvTime.hex(ipa)).isEqualTo(ipa);
        int at = (int) (ipa - page.page());
        Snapshot structure = new Snapshot("transferred from the source", 0, ipa, Arrays.copyOfRange(page.bytes(), at, at + SIZE));
        Evidence.text("transferred structure", structure.hex());
        return new Source(vm, saved.read(), page, structure);
    }

    /** A destination restored from {@code src} in {@code order}; the source is closed afterwards. */
    private PvTimeVcpu migrate(Source src, Migration.Order order) {
        PvTimeVm dst = openPvTimeVm(1);
        PvTimeVcpu v = dst.vcpu(0);
        order.restore(() -> v.restore(src.ipa()), () -> src.page().copyTo(dst.memory()));
        closeVm(src.vm().vm());
        return v;
    }

    /**
     * The VMM's own save and restore: the guest discovers its structure (PV_TIME_ST) and accumulates
     * stolen time (three preemptions, each seen), then the VMM saves the VM and restores it into a
     * new one. Once the restored vCPU was scheduled in, stolen time is at least the value last seen;
     * a preemption adds to it; all that was added since the save stays within the restored vCPU's
     * own wait, the save's wall time and the tolerance; and the guest's PV_TIME_ST still answers the IPA.
     */
    @TckRule(RuleIds.ARM_RESTORE_CONTINUES)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_RESTORE_CONTINUES_stolenTimeContinuesAcrossTheVmmsOwnSaveAndRestore() {
        require(Capability.VMM_SAVE_RESTORE);
        continuesAcrossTheVmmsMove("save", "restored", low(8), this::saveAndRestore);
    }

    /**
     * The VMM's own live migration: as the save and restore above, but the destination waits first
     * and the guest keeps running while its memory is copied.
     */
    @TckRule(RuleIds.ARM_LIVE_MIGRATION_CONTINUES)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_LIVE_MIGRATION_CONTINUES_stolenTimeContinuesAcrossTheVmmsOwnLiveMigration() {
        require(Capability.VMM_LIVE_MIGRATION);
        continuesAcrossTheVmmsMove("migration", "destination", low(10), this::liveMigrate);
    }

    /**
     * Configures the structure (or adopts the VMM's), accumulates stolen time, lets the VMM move the
     * VM ({@code vmm}) and judges the new VM: stolen time not below the value last seen, a preemption
     * adding to it, all added within its own wait and the move's wall time, PV_TIME_ST still the IPA.
     */
    private void continuesAcrossTheVmmsMove(String move, String moved, long wanted, java.util.function.UnaryOperator<PvTimeVm> vmm) {
        Duration d = millis(3);
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu v = vm.vcpu(0);
        long ipa = v.placedByVmm() ? v.configure(wanted).ipa() : wanted;
        Snapshot saved = Evidence.step("before the " + move + ": configure " + PvTime.hex(ipa) + ", PV_TIME_ST, accumulate stolen time (3 × preempt "
                + d.toNanos() + " ns)", () -> {
            v.enable(ipa);
            v.settle();
            for (int i = 1; i <= 3; i++) {
                Snapshot before = v.snapshot("before preempt #" + i);
                v.preempt(d);
                v.settle();
                assertThat(v.snapshot("after preempt #" + i).bytes())
                        .as("the VM must update its structure before the %s can be judged (preemption #%d)", move, i).isNotEqualTo(before.bytes());
            }
            return v.snapshot("the last observation before the " + move);
        });
        long t0 = System.nanoTime();
        PvTimeVm restored = vmm.apply(vm);
        long moveNanos = System.nanoTime() - t0;
        PvTimeVcpu r = restored.vcpu(0).restoredAt(ipa);
        r.settle();
        Snapshot first = r.snapshot(moved + ": after it was scheduled in");
        assertThatStolenTime(first).comparedTo(saved).stolenTimeDidNotDecrease();
        r.preempt(d);
        r.settle();
        Snapshot after = r.snapshot(moved + ": after preempt(" + d.toNanos() + " ns) and the next runs");
        long own = r.hostSteal();
        assertThatStolenTime(after).comparedTo(first).stolenTimeGrew("a preemption on the " + moved + " VM adds to the stolen time it arrived with");
        assertThatStolenTime(after).comparedTo(saved).stolenTimeGrewBetween(0, own + moveNanos + tolerance(), String.format(
                "stolen time after the %s continues from the value last seen, adding no more than the %s vCPU's own wait (%,d ns), "
                        + "the %s's wall time (%,d ns: the source may run until it stops) and the tolerance", move, moved, own, move, moveNanos));
        Evidence.step(moved + ": the guest's PV_TIME_ST answers the IPA", () ->
                assertThatCall(r.stolenTimeIpa()).returnsIpa(ipa));
    }

    /**
     * Both orders: once the destination vCPU was scheduled in, stolen time is at least the transferred
     * value and grew by no more than the destination vCPU's own involuntary wait (its host measure
     * from its start); a preemption then adds what it should.
     */
    @TckRule(RuleIds.ARM_MIGRATION_CONTINUES)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_MIGRATION_CONTINUES_stolenTimeContinuesFromTheTransferredValue() {
        Duration d = millis(3);
        StringBuilder table = new StringBuilder();
        try {
            int n = 0;
            for (Migration.Order order : Migration.Order.values()) {
                long ipa = low(2 * n++);
                Evidence.step("move the vCPU: " + order, () -> {
                    Source src = stoppedSource(ipa);
                    PvTimeVcpu v = migrate(src, order);
                    v.settle();
                    long own = v.hostSteal();
                    Snapshot first = v.snapshot("destination: after it was scheduled in");
                    assertThatStolenTime(first).comparedTo(src.structure()).stolenTimeGrewBetween(0, own + tolerance(),
                            "the destination continues from the transferred stolen time (" + order + "), adding only its own vCPU's wait ("
                                    + String.format("%,d", own) + " ns measured since it started)");
                    v.preempt(d);
                    v.settle();
                    Snapshot after = v.snapshot("destination: after preempt(" + d.toNanos() + " ns) and the next runs");
                    assertThatStolenTime(after).comparedTo(src.structure()).stolenTimeDidNotDecrease();
                    assertThatStolenTime(after).comparedTo(first).stolenTimeGrew("a preemption on the destination adds to the continued total (" + order + ")");
                    table.append(String.format("%-44s transferred %,d -> first %,d -> after preempt %,d ns%n", order,
                            src.structure().u64(STOLEN_TIME), first.u64(STOLEN_TIME), after.u64(STOLEN_TIME)));
                });
            }
        } finally {
            Evidence.text("stolen time across the move", table.toString());
        }
    }

    /**
     * The stopped source writes nothing once the VMM took its copy and saved the IPA: not while the
     * destination runs, not until it is closed; and closing it changes nothing in the destination.
     */
    @TckRule(RuleIds.ARM_MIGRATION_SOURCE_QUIET)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_MIGRATION_SOURCE_QUIET_stoppedSourceWritesNothing() {
        long ipa = low(6);
        Source src = stoppedSource(ipa);
        PvTimeVm dst = openPvTimeVm(1);
        PvTimeVcpu v = dst.vcpu(0);
        Migration.Order.MEMORY_BEFORE_REGISTRATION.restore(() -> v.restore(src.ipa()), () -> src.page().copyTo(dst.memory()));
        Duration d = millis(2);
        Evidence.step("destination runs: 3 × preempt " + d.toNanos() + " ns + run; the source stays stopped", () -> {
            for (int i = 0; i < 3; i++) {
                v.preempt(d);
                v.runBriefly();
            }
        });
        Evidence.step("the source's page still holds the VMM's copy", () -> src.page().assertUnchangedIn(src.vm().memory(),
                "after the VMM copied it and saved the IPA, while the source's vCPU was not scheduled"));
        Migration.Saved dstPage = Migration.save(dst.memory(), ipa);
        closeVm(src.vm().vm());
        Evidence.step("closing the source leaves the destination's memory alone", () -> dstPage.assertUnchangedIn(dst.memory(),
                "in the destination, while the source was closed (no call on the destination meanwhile)"));
    }

    // ---------------------------------------------------------------- dirty logging

    /** A vCPU whose structure at {@code ipa} is set, discovered and settled, with dirty logging started. */
    private PvTimeVcpu enabledAndLogged(long ipa) {
        require(Capability.DIRTY_LOG);
        PvTimeVcpu v = openPvTimeVm(1).vcpu(0);
        v.enable(ipa);
        v.settle();
        Evidence.step("start dirty logging", v.memory()::startDirtyLog);
        return v;
    }

    /**
     * The log is taken after every call that can carry an update (the preemption, then each of two
     * runs) and judged whenever the structure changed since the call before, so each update must mark
     * the page, not only one of each round's (a hypervisor that misses every second one shows).
     */
    @TckRule(RuleIds.ARM_DIRTY_LOGGED)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_DIRTY_LOGGED_everyUpdateMarksTheStructurePage() {
        PvTimeVcpu v = enabledAndLogged(low(8));
        GuestMemory mem = v.memory();
        DirtyLog log = DirtyLog.forStructure(mem, v.ipa(), SIZE);
        Duration d = millis(2);
        for (int i = 1; i <= 5; i++) {
            int round = i;
            Evidence.step("preempt " + d.toNanos() + " ns #" + i + ", run, run: the dirty log taken after each call", () -> {
                mem.takeDirtyPages();
                Snapshot previous = v.snapshot("before preempt #" + round);
                int judged = 0;
                for (String call : new String[]{"preempt #" + round, "run #1 after preempt #" + round, "run #2 after preempt #" + round}) {
                    if (call.startsWith("preempt")) {
                        v.preempt(d);
                    } else {
                        v.runBriefly();
                    }
                    Snapshot now = v.snapshot("after " + call);
                    long[] dirty = mem.takeDirtyPages();
                    if (!Arrays.equals(now.bytes(), previous.bytes())) {
                        Evidence.text("dirty log after " + call, log.describe(dirty));
                        log.assertMarked(dirty, "the update seen after " + call);
                        judged++;
                    }
                    previous = now;
                }
                assertThat(judged).as("an update is needed to judge the log (preemption #%d and the two runs after it changed nothing)", round)
                        .isPositive();
            });
        }
    }

    @TckRule(RuleIds.ARM_DIRTY_ONLY_STRUCTURE)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_DIRTY_ONLY_STRUCTURE_nothingElseIsDirtied() {
        PvTimeVcpu v = enabledAndLogged(low(10) + 0x1000 - SIZE);   // the last 64 bytes of its page
        GuestMemory mem = v.memory();
        DirtyLog log = DirtyLog.forStructure(mem, v.ipa(), SIZE);
        Duration d = millis(2);
        String[] names = {"preempt + run", "run", "idle (WFI)", "PV_TIME_FEATURES", "preempt + PV_TIME_FEATURES", "PV_TIME_ST"};
        for (int i = 0; i < 2 * names.length; i++) {
            String name = names[i % names.length] + " #" + (i / names.length + 1);
            int kind = i % names.length;
            Evidence.step(name + ", take the dirty log", () -> {
                switch (kind) {
                    case 0 -> { v.preempt(d); v.runBriefly(); }
                    case 1 -> v.runBriefly();
                    case 2 -> v.idle(d);
                    case 3 -> v.features(PvTime.PV_TIME_ST);
                    case 4 -> { v.preempt(d); v.features(PvTime.PV_TIME_ST); }
                    default -> v.stolenTimeIpa();   // zeroes the structure (Linux): still only its page
                }
                log.assertOnlyStructure(mem.takeDirtyPages(), name);
            });
        }
    }

    // ---------------------------------------------------------------- memory that moves

    @TckRule(RuleIds.ARM_MEMORY_MOVES)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_MEMORY_MOVES_updatesLandInTheNewBacking() {
        require(Capability.MOVABLE_MEMORY);
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu v = vm.vcpu(0);
        long ipa = low(12);
        v.enable(ipa);
        v.settle();
        Duration d = millis(2);
        v.preempt(d);
        v.settle();
        GuestMemory mem = vm.memory();
        Evidence.step("the VMM moves the RAM region holding " + PvTime.hex(ipa) + " to new backing", () -> mem.replaceBacking(ipa));
        Snapshot old = new Snapshot("old backing right after the move", 0, ipa, mem.readRetired(ipa, SIZE));
        assertThat(v.snapshot("new backing right after the move").bytes())
                .as("the new backing must hold a copy of the old (GuestMemory.replaceBacking copies the region)").isEqualTo(old.bytes());
        for (int i = 1; i <= 3; i++) {
            Snapshot before = v.snapshot("new backing before preempt #" + i);
            v.preempt(d);
            v.settle();
            assertThat(v.snapshot("new backing after preempt #" + i).bytes())
                    .as("updates after the move must land in the new backing (preemption #%d): the structure there did not change%n%s", i, before.hex())
                    .isNotEqualTo(before.bytes());
            Snapshot stale = new Snapshot("old backing after preempt #" + i, 0, ipa, mem.readRetired(ipa, SIZE));
            assertThat(stale.bytes()).as("the hypervisor wrote the old backing after the move (a stale mapping)%n%s",
                    dev.stealtime.tck.support.HexDump.beforeAfter(ipa, old.bytes(), stale.bytes())).isEqualTo(old.bytes());
        }
    }
}
