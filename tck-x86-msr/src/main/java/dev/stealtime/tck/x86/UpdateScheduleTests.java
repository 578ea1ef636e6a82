package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.KvmStealTime.ms;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.steal;

/**
 * Rule area "Update schedule": when updates land. Seed 000 leaves the interval between updates to
 * the hypervisor, so every other x86 rule waits for an update within the update bound (see
 * {@link StealTimeVcpu}); Linux KVM updates on every guest entry after the vCPU was scheduled in
 * ({@code record_steal_time} on {@code KVM_REQ_STEAL_UPDATE}, set at vCPU load), and this linux-abi
 * rule checks that a KVM drop-in does too.
 */
public class UpdateScheduleTests extends X86TckTest {

    /**
     * Filler entries before each round: 0, 1 and 2 short runs, so the checked entries are 1, 2 and
     * 3 entries apart (plus the round's own). Steps of 1 and 2 are co-prime: no schedule that
     * updates on every k-th entry (k >= 2) hits every checked entry, whatever its phase.
     */
    static final int[] FILLERS = {0, 1, 2};

    /**
     * Each kind of guest entry the SPI offers is "the next entry": after a preemption exactly one
     * entry of that kind follows (a short run, CPUID, RDMSR, a WRMSR re-writing the registered value,
     * and last a WRMSR that disables: Linux records steal when it enters the guest, before the guest
     * executes the instruction), and the structure must already show the steal: at least the induced
     * delay (less the tolerance) was published. Each kind is checked after 0, 1 and 2 filler runs
     * ({@link #FILLERS}), so the rounds have different lengths and no periodic schedule aliases with
     * them. Whether a WRMSR is accepted is other rules' business (X86-MSR-ACCESS, X86-DISABLE): here
     * it is only an entry, so its result is not looked at.
     */
    @TckRule(RuleIds.X86_UPDATE_EVERY_ENTRY)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_UPDATE_EVERY_ENTRY_theNextEntryAfterAPreemptionPublishesIt() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(50);
        Duration d = preemption(Duration.ofMillis(2));
        long tol = tolerance();
        Evidence.step("configure: zero and register " + hex(gpa | ENABLE) + ", settle", () -> {
            vm.zeroStructure(gpa);
            cpu.enable(gpa);
        });
        List<Op> kinds = List.of(
                new Op("a short run", c -> c.runBriefly()),
                new Op("CPUID 0x40000001", c -> c.cpuid(0x40000001)),
                new Op("RDMSR", c -> c.guestRdmsr()),
                new Op("WRMSR " + hex(gpa | ENABLE) + " (the registered value again)", c -> c.guestWrmsr(gpa | ENABLE)));
        List<Op> entries = new ArrayList<>();
        List<Integer> fillers = new ArrayList<>();
        for (int f : FILLERS) {
            for (Op kind : kinds) {
                entries.add(kind);
                fillers.add(f);
            }
        }
        entries.add(new Op("WRMSR 0 (disable)", c -> c.guestWrmsr(0)));
        fillers.add(1);
        cpu.settle(gpa, "after registering");
        StringBuilder seq = new StringBuilder(String.format("%-8s %-60s %14s%n", "fillers", "entry after preempt " + ms(d), "steal delta"));
        try {
            for (int i = 0; i < entries.size(); i++) {
                Op entry = entries.get(i);
                int filler = fillers.get(i);
                Snapshot now = Evidence.step(filler + " filler run(s), preempt " + ms(d) + ", then exactly one guest entry: " + entry.name(), () -> {
                    for (int k = 0; k < filler; k++) {
                        cpu.runBriefly();
                    }
                    Snapshot before = cpu.snapshot(gpa, "before the preemption");
                    cpu.preempt(d);
                    entry.action().accept(cpu);
                    Snapshot after = cpu.snapshot(gpa, "after " + filler + " filler run(s), preempt " + ms(d)
                            + " and one entry (" + entry.name() + ")");
                    seq.append(String.format("%-8d %-60s %,14d%n", filler, entry.name(), steal(after) - steal(before)));
                    assertThatRecord(after).hasStealDeltaBetween(before, d.toNanos() - tol, Long.MAX_VALUE,
                            "Linux updates on the very next guest entry after steal accrued; this hypervisor had not published the "
                                    + ms(d) + " preemption after one entry (" + entry.name() + ", after " + filler
                                    + " filler run(s)) (seed 000 allows that; a KVM drop-in does not)");
                    return after;
                });
            }
        } finally {
            Evidence.text("steal published by the first entry after each preemption", seq.toString());
        }
    }
}
