package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.time.Duration;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.steal;

/**
 * Rule area "Update schedule": when updates land. Seed 000 leaves the interval between updates to
 * the hypervisor, so every other x86 rule waits for an update within the update bound (see
 * {@link X86TckTest}); Linux KVM updates on every guest entry after the vCPU was scheduled in
 * ({@code record_steal_time} on {@code KVM_REQ_STEAL_UPDATE}, set at vCPU load), and this linux-abi
 * rule checks that a KVM drop-in does too.
 */
public class UpdateScheduleTests extends X86TckTest {

    /**
     * After each preemption exactly one guest entry (a short run) follows, and the structure must
     * already show the steal: at least the induced delay (less the tolerance) was published.
     */
    @Test(groups = Level.LINUX_ABI_GROUP)
    @TckRule("X86-UPDATE-EVERY-ENTRY")
    public void X86_UPDATE_EVERY_ENTRY_theNextEntryAfterAPreemptionPublishesIt() {
        Vm vm = openVm();
        X86Vcpu cpu = x86(vm, 0);
        long gpa = GuestLayout.low(50);
        Duration d = preemption(Duration.ofMillis(2));
        long tol = tolerance();
        step("configure: zero and register " + hex(gpa | ENABLE) + ", settle", () -> {
            zeroStructure(vm, gpa);
            enable(cpu, gpa);
        });
        Snapshot previous = settle(vm, cpu, gpa, "after registering");
        StringBuilder seq = new StringBuilder(String.format("%-28s %14s%n", "after", "steal delta"));
        try {
            for (int i = 1; i <= 6; i++) {
                int round = i;
                Snapshot before = previous;
                Snapshot now = step("round " + round + ": preempt " + ms(d) + ", then exactly one guest entry", () -> {
                    cpu.preempt(d);
                    cpu.run(shortRun());
                    return record(vm, cpu, gpa, "after preempt " + ms(d) + " and one entry (#" + round + ")");
                });
                seq.append(String.format("%-28s %,14d%n", "preempt + 1 entry #" + round, steal(now) - steal(before)));
                assertThatRecord(now).hasStealDeltaBetween(before, d.toNanos() - tol, Long.MAX_VALUE,
                        "Linux updates on the very next guest entry after steal accrued; this hypervisor had not published the "
                                + ms(d) + " preemption after one entry (seed 000 allows that; a KVM drop-in does not)");
                previous = now;
            }
        } finally {
            Evidence.text("steal published by the first entry after each preemption", seq.toString());
        }
    }
}
