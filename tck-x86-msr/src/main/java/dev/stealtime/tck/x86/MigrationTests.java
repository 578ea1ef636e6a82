package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
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

import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.KvmStealTime.ms;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.steal;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.version;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rule areas "Migration", "Dirty logging" and "Memory that moves": the TCK plays the VMM that moves
 * a running guest. Save/restore goes through the VMM's MSR path ({@code KVM_GET_MSRS} on the source,
 * {@code KVM_SET_MSRS} on a new VM, {@link Capability#HOST_MSR_ACCESS}) and guest memory is copied in
 * both orders ({@link Migration.Order}); the dirty log is {@link Capability#DIRTY_LOG}; a moving
 * memory slot is {@link Capability#MOVABLE_MEMORY}. Linux KVM reads steal and version back from guest
 * memory on every update (record_steal_time), so a moved guest continues where it was.
 */
public class MigrationTests extends X86TckTest {

    /** The source after a guest with accumulated steal was stopped: its VM, the saved registration and the page copy. */
    private record Source(StealTimeVm vm, StealTimeVcpu cpu, long gpa, long msrValue, Migration.Saved page, Snapshot structure) {
    }

    /**
     * A source VM whose guest registered a structure at {@code gpa} and accumulated steal (three
     * preemptions, each published), then stopped: the vCPU's last call is a preemption, so steal may
     * be pending, unpublished, when the VMM saves the state. The VMM copies the page first, then
     * reads the registration through the host MSR path (the order that exposes a save that writes).
     */
    private Source stoppedSource(long gpa) {
        require(Capability.HOST_MSR_ACCESS);
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        Duration d = preemption(Duration.ofMillis(3));
        Evidence.step("source: zero and register " + hex(gpa | KvmStealTime.ENABLE) + ", accumulate steal (3 × preempt " + ms(d) + ")", () -> {
            registerAndAccumulate(vm, cpu, gpa, d, "source: ", "the source must publish steal before the move can be judged");
            cpu.preempt(d);   // stopped while kept off its CPU: the last call enters the guest no more
        });
        Migration.Saved page = Evidence.step("source: the VMM copies the structure's page", () -> Migration.save(vm.memory(), gpa));
        long value = Evidence.step("source: the VMM saves MSR_KVM_STEAL_TIME (host MSR get)", () -> cpu.hostGetMsr());
        assertThat(value).as("the saved MSR_KVM_STEAL_TIME of the source (host MSR get) must be the registration %s", hex(gpa | KvmStealTime.ENABLE))
                .isEqualTo(gpa | KvmStealTime.ENABLE);
        Snapshot structure = new Snapshot("transferred from the source", 0, gpa, java.util.Arrays.copyOfRange(page.bytes(),
                (int) (gpa - page.page()), (int) (gpa - page.page()) + SIZE));
        Evidence.text("transferred structure", structure.hex());
        return new Source(vm, cpu, gpa, value, page, structure);
    }

    /**
     * Zeroes and registers the structure at {@code gpa}, then three preemptions of {@code d}, each
     * published before the next ({@code why} says why that must hold); {@code who} prefixes the labels.
     */
    private void registerAndAccumulate(StealTimeVm vm, StealTimeVcpu cpu, long gpa, Duration d, String who, String why) {
        vm.zeroStructure(gpa);
        cpu.enable(gpa);
        cpu.settle(gpa, who + "after registering");
        for (int i = 1; i <= 3; i++) {
            Snapshot before = cpu.snapshot(gpa, who + "before preempt #" + i);
            cpu.preempt(d);
            Snapshot s = cpu.runUntilUpdated(gpa, before, who + "after preempt #" + i);
            assertThatRecord(s).wasUpdatedSince(before, why);
        }
    }

    /** A destination VM restored from {@code src} in {@code order}; the source is closed afterwards. */
    private StealTimeVcpu migrate(Source src, Migration.Order order) {
        StealTimeVm dst = openStealTimeVm();
        StealTimeVcpu cpu = dst.vcpu(0);
        order.restore(() -> assertThat(cpu.hostSetMsr(src.msrValue()))
                        .as("destination: host MSR set of the saved MSR_KVM_STEAL_TIME %s must be accepted", hex(src.msrValue())).isTrue(),
                () -> src.page().copyTo(dst.memory()));
        closeVm(src.vm());
        return cpu;
    }

    /**
     * Both orders: the destination's first update publishes at least the transferred steal and adds
     * no more than the destination vCPU's own run delay (its host measure from its start); a
     * preemption on the destination then adds what it should; nothing published goes below the
     * transferred value.
     */
    @TckRule(RuleIds.X86_MIGRATION_CONTINUES)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_MIGRATION_CONTINUES_stealContinuesFromTheTransferredValue() {
        long tol = tolerance();
        Duration d = preemption(Duration.ofMillis(3));
        StringBuilder table = new StringBuilder();
        try {
            int n = 0;
            for (Migration.Order order : Migration.Order.values()) {
                long gpa = layout().slot(52 + 2 * n++);
                Evidence.step("move the vCPU: " + order, () -> {
                    Source src = stoppedSource(gpa);
                    StealTimeVcpu cpu = migrate(src, order);
                    Snapshot first = cpu.runUntilUpdated(gpa, src.structure(), "destination: first update");
                    long own = cpu.hostSteal();
                    assertThatRecord(first).hasStealDeltaBetween(src.structure(), 0, own + tol,
                            "the destination continues from the transferred steal (" + order + "), adding only its own vCPU's run delay ("
                                    + String.format("%,d", own) + " ns measured since it started, tolerance " + String.format("%,d", tol) + " ns)");
                    Snapshot before = cpu.snapshot(gpa, "destination: before preempt " + ms(d));
                    cpu.preempt(d);
                    Snapshot after = cpu.runUntilStealAbove(gpa, before, "destination: after preempt " + ms(d));
                    assertThatRecord(after).hasStealNotBelow(src.structure());
                    assertThatRecord(after).hasStealAbove(before, "a preemption on the destination adds to the continued total (" + order + ")");
                    table.append(String.format("%-44s transferred %,d -> first %,d -> after preempt %,d ns%n", order,
                            steal(src.structure()), steal(first), steal(after)));
                });
            }
        } finally {
            Evidence.text("steal across the move", table.toString());
        }
    }

    /**
     * The VMM's own save and restore: the guest registers and accumulates steal (three preemptions,
     * each published), then the VMM saves the VM and restores it into a new one. The restored guest
     * reads its registration back; the restored structure holds at least the steal last seen; a
     * preemption on the restored VM is published on top of it; and all that was added since the save
     * stays within what the run delays can explain: the restored vCPU's own, the source's after the
     * last observation, and the save's wall time (Launchpad #1494350: steal leapt to 100 % after a
     * restore).
     */
    @TckRule(RuleIds.X86_RESTORE_CONTINUES)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_RESTORE_CONTINUES_stealContinuesAcrossTheVmmsOwnSaveAndRestore() {
        require(Capability.VMM_SAVE_RESTORE);
        continuesAcrossTheVmmsMove(RuleIds.X86_RESTORE_CONTINUES, "save", "restored", layout().slot(70), this::saveAndRestore, false);
    }

    /**
     * The VMM's own live migration: as the save and restore above, but the destination waits first
     * and the guest keeps running while its memory is copied; the destination's first update after
     * the preemption also keeps the version protocol (even, above the version last seen).
     */
    @TckRule(RuleIds.X86_LIVE_MIGRATION_CONTINUES)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_LIVE_MIGRATION_CONTINUES_stealContinuesAcrossTheVmmsOwnLiveMigration() {
        require(Capability.VMM_LIVE_MIGRATION);
        continuesAcrossTheVmmsMove(RuleIds.X86_LIVE_MIGRATION_CONTINUES, "migration", "destination", layout().slot(72), this::liveMigrate,
                true);
    }

    /**
     * Registers and accumulates steal, lets the VMM move the VM ({@code move}), and judges the new VM:
     * registration read back, steal not below the value last seen, a preemption published on top of
     * it, all added within the run delays and the move's wall time; with {@code versions}, the
     * version protocol too.
     */
    private void continuesAcrossTheVmmsMove(String rule, String move, String moved, long gpa,
                                            java.util.function.UnaryOperator<StealTimeVm> vmm, boolean versions) {
        long tol = tolerance();
        Duration d = preemption(Duration.ofMillis(3));
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        Snapshot saved = Evidence.step("before the " + move + ": zero and register " + hex(gpa | KvmStealTime.ENABLE)
                + ", accumulate steal (3 × preempt " + ms(d) + ")", () -> {
            registerAndAccumulate(vm, cpu, gpa, d, "", "the VM must publish steal before the " + move + " can be judged");
            return cpu.snapshot(gpa, "the last observation before the " + move);
        });
        long sourceHostAtSaved = cpu.hostSteal();
        long t0 = System.nanoTime();
        StealTimeVm restored = vmm.apply(vm);
        long moveNanos = System.nanoTime() - t0;
        StealTimeVcpu rc = restored.vcpu(0);
        Evidence.step(moved + ": the guest reads its registration back", () ->
                assertThat(hex(rc.rdmsr())).as(rule + ": RDMSR(MSR_KVM_STEAL_TIME) on the " + moved + " VM must read the "
                        + "registration %s the guest wrote before the %s", hex(gpa | KvmStealTime.ENABLE), move).isEqualTo(hex(gpa | KvmStealTime.ENABLE)));
        Snapshot first = rc.snapshot(gpa, moved + ": as it arrived");
        assertThatRecord(first).hasStealNotBelow(saved);
        rc.preempt(d);
        Snapshot after = rc.runUntilStealAbove(gpa, first, moved + ": after preempt " + ms(d));
        long own = rc.hostSteal();
        assertThatRecord(after).hasStealAbove(first, "a preemption on the " + moved + " VM is published on top of the steal it arrived with");
        if (versions) {
            assertThatRecord(after).hasEvenVersion();
            assertThatRecord(after).hasVersionAbove(saved);
        }
        long bound = own + moveNanos + tol;
        assertThatRecord(after).hasStealDeltaBetween(saved, 0, bound, String.format("steal after the %s continues from the value last "
                        + "seen, adding no more than the %s vCPU's own run delay (%,d ns), the %s's wall time (%,d ns: the source "
                        + "may run until it stops) and the tolerance (%,d ns); the source's run delay at the last observation was %,d ns",
                move, moved, own, move, moveNanos, tol, sourceHostAtSaved));
    }

    /** Both orders: every destination update leaves an even version strictly above the transferred one. */
    @TckRule(RuleIds.X86_MIGRATION_VERSION)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_MIGRATION_VERSION_versionProtocolContinuesOnTheDestination() {
        Duration d = preemption(Duration.ofMillis(2));
        int n = 0;
        for (Migration.Order order : Migration.Order.values()) {
            long gpa = layout().slot(57 + 2 * n++);
            Evidence.step("move the vCPU: " + order, () -> {
                Source src = stoppedSource(gpa);
                StealTimeVcpu cpu = migrate(src, order);
                Snapshot previous = src.structure();
                StringBuilder seq = new StringBuilder("transferred version " + KvmStealTime.version(version(previous)) + "\n");
                try {
                    for (int i = 1; i <= 3; i++) {
                        Snapshot s = cpu.runUntilUpdated(gpa, previous, "destination: update #" + i);
                        seq.append("update #").append(i).append(": version ").append(KvmStealTime.version(version(s))).append('\n');
                        assertThatRecord(s).wasUpdatedSince(previous, "the destination must keep updating (" + order + ")");
                        assertThatRecord(s).hasEvenVersion();
                        assertThatRecord(s).hasVersionAbove(previous);
                        previous = s;
                        cpu.preempt(d);
                    }
                } finally {
                    Evidence.text("versions across the move (" + order + ")", seq.toString());
                }
            });
        }
    }

    /**
     * The stopped source writes nothing once the VMM took its copy and saved the registration: not
     * while the destination runs (with preemptions, time passes), not until the source is closed;
     * and closing it changes nothing in the destination's memory.
     */
    @TckRule(RuleIds.X86_MIGRATION_SOURCE_QUIET)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_MIGRATION_SOURCE_QUIET_stoppedSourceWritesNothing() {
        long gpa = layout().slot(62);
        Source src = stoppedSource(gpa);
        StealTimeVm dst = openStealTimeVm();
        StealTimeVcpu cpu = dst.vcpu(0);
        Migration.Order.MEMORY_BEFORE_REGISTRATION.restore(() -> assertThat(cpu.hostSetMsr(src.msrValue()))
                .as("destination: host MSR set of %s", hex(src.msrValue())).isTrue(), () -> src.page().copyTo(dst.memory()));
        Duration d = preemption(Duration.ofMillis(2));
        Evidence.step("destination runs: 3 × preempt " + ms(d) + " + run; the source stays stopped", () -> {
            for (int i = 0; i < 3; i++) {
                cpu.preemptThenRun(d);
            }
        });
        Evidence.step("the source's page still holds the VMM's copy", () -> src.page().assertUnchangedIn(src.vm().memory(),
                "after the VMM copied it and saved the registration, while the source's vCPU made no guest entry"));
        Migration.Saved dstPage = Migration.save(dst.memory(), gpa);
        closeVm(src.vm());
        Evidence.step("closing the source leaves the destination's memory alone", () -> dstPage.assertUnchangedIn(dst.memory(),
                "in the destination, while the source was closed (no call on the destination meanwhile)"));
    }

    // ---- dirty logging ------------------------------------------------------------------------

    /** A VM whose structure at {@code gpa} is registered and settled, with dirty logging started. */
    private record Logged(StealTimeVm vm, StealTimeVcpu cpu, long gpa, DirtyLog log) {
    }

    private Logged registeredAndLogged(long gpa) {
        require(Capability.DIRTY_LOG);
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        vm.zeroStructure(gpa);
        cpu.enable(gpa);
        cpu.settle(gpa, "after registering");
        Evidence.step("start dirty logging", vm.memory()::startDirtyLog);
        return new Logged(vm, cpu, gpa, DirtyLog.forStructure(vm.memory(), gpa, SIZE));
    }

    /** With the dirty log on, each of five preemptions' updates marks the structure's page dirty. */
    @TckRule(RuleIds.X86_DIRTY_LOGGED)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_DIRTY_LOGGED_everyUpdateMarksTheStructurePage() {
        Logged l = registeredAndLogged(layout().slot(64));
        StealTimeVm vm = l.vm();
        StealTimeVcpu cpu = l.cpu();
        long gpa = l.gpa();
        GuestMemory mem = vm.memory();
        DirtyLog log = l.log();
        Duration d = preemption(Duration.ofMillis(2));
        for (int i = 1; i <= 5; i++) {
            int round = i;
            Evidence.step("preempt " + ms(d) + " #" + i + ", run until published, take the dirty log", () -> {
                mem.takeDirtyPages();
                Snapshot before = cpu.snapshot(gpa, "before preempt #" + round);
                cpu.preempt(d);
                Snapshot after = cpu.runUntilUpdated(gpa, before, "after preempt #" + round);
                assertThatRecord(after).wasUpdatedSince(before, "an update is needed to judge the log");
                long[] dirty = mem.takeDirtyPages();
                Evidence.text("dirty log #" + round, log.describe(dirty));
                log.assertMarked(dirty, "the update after preemption #" + round);
            });
        }
    }

    /**
     * With the dirty log on, a mixed workload (preemptions, runs, idling, CPUID, RDMSR) dirties no
     * page of the TCK's RAM but the structure's: the hypervisor writes nothing else on its own account.
     * The structure is the last 64 bytes of its page, so a log that rounds its end up shows.
     */
    @TckRule(RuleIds.X86_DIRTY_ONLY_STRUCTURE)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_DIRTY_ONLY_STRUCTURE_nothingElseIsDirtied() {
        Logged l = registeredAndLogged(layout().slot(66) + 0x1000 - SIZE);
        StealTimeVm vm = l.vm();
        StealTimeVcpu cpu = l.cpu();
        long gpa = l.gpa();
        GuestMemory mem = vm.memory();
        DirtyLog log = l.log();
        for (Op op : mixedWorkload(2)) {
            Evidence.step(op.name() + ", take the dirty log", () -> {
                op.on(cpu);
                long[] dirty = mem.takeDirtyPages();
                log.assertOnlyStructure(dirty, op.name());
            });
        }
    }

    // ---- memory that moves ---------------------------------------------------------------------

    /**
     * The region holding the structure moves to new backing (same guest-physical address): the next
     * updates show in the new backing (steal grows there, three times) and the old backing is never
     * written again.
     */
    @TckRule(RuleIds.X86_MEMORY_MOVES)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_MEMORY_MOVES_updatesLandInTheNewBacking() {
        require(Capability.MOVABLE_MEMORY);
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(68);
        Duration d = preemption(Duration.ofMillis(2));
        vm.zeroStructure(gpa);
        cpu.enable(gpa);
        cpu.settle(gpa, "after registering");
        cpu.preemptThenRunUntilPublished(gpa, d, "preempt before the move");
        GuestMemory mem = vm.memory();
        Evidence.step("the VMM moves the RAM region holding " + hex(gpa) + " to new backing", () -> mem.replaceBacking(gpa));
        Snapshot old = new Snapshot("old backing right after the move", 0, gpa, mem.readRetired(gpa, SIZE));
        Snapshot moved = cpu.snapshot(gpa, "new backing right after the move");
        assertThatRecord(moved).as("the new backing must hold a copy of the old (GuestMemory.replaceBacking copies the region)")
                .wasNotWrittenSince(old, "a move copies the contents");
        for (int i = 1; i <= 3; i++) {
            Snapshot before = cpu.snapshot(gpa, "new backing before preempt #" + i);
            cpu.preempt(d);
            Snapshot after = cpu.runUntilUpdated(gpa, before, "new backing after preempt #" + i);
            assertThatRecord(after).wasUpdatedSince(before, "updates after the move must land in the new backing (preemption #" + i + ")");
            Snapshot stale = new Snapshot("old backing after preempt #" + i, 0, gpa, mem.readRetired(gpa, SIZE));
            assertThatRecord(stale).wasNotWrittenSince(old, "the hypervisor wrote the old backing after the move (a stale mapping)");
        }
    }
}
