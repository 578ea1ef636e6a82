package dev.stealtime.tck.arm64;

import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.time.Duration;

import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatStolenTime;
import static dev.stealtime.tck.rules.Level.REQUIRED_GROUP;
import static dev.stealtime.tck.support.GuestLayout.low;

/**
 * "There is a structure per VCPU of the guest", and it reports "how much time this VCPU thread was
 * involuntarily not running". The structures sit back to back, so a write meant for one vCPU that
 * lands in its neighbour's bytes shows too.
 */
public class PerVcpuIsolationTests extends Arm64TckTest {

    private static final long FIRST = low(4);

    private PvTimeVm threeVcpusBackToBack() {
        PvTimeVm vm = openPvTimeVm(3);
        Evidence.step(String.format("three vCPUs, structures back to back at 0x%x, 0x%x, 0x%x (or where the VMM placed them)",
                FIRST, FIRST + 64, FIRST + 128), () -> {
            for (PvTimeVcpu v : vm.vcpus()) {
                v.enable(FIRST + 64L * v.index());
            }
            for (PvTimeVcpu v : vm.vcpus()) {
                v.settle();
            }
        });
        return vm;
    }

    @TckRule(RuleIds.ARM_PER_VCPU)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_PER_VCPU_preemptingOneVcpuChangesNoOtherVcpusStructure() {
        PvTimeVm vm = threeVcpusBackToBack();
        Snapshot[] before = new Snapshot[3];
        long[] host = new long[3];
        for (PvTimeVcpu v : vm.vcpus()) {
            before[v.index()] = v.snapshot("settled");
            host[v.index()] = v.hostSteal();
        }
        Duration d = measurable(3);
        Evidence.step("preempt vCPU 1 for " + d.toMillis() + " ms, then every vCPU runs", () -> {
            vm.vcpu(1).preempt(d);
            for (PvTimeVcpu v : vm.vcpus()) {
                v.settle();
            }
        });
        assertThatStolenTime(vm.vcpu(1).snapshot("after its preemption")).comparedTo(before[1]).stolenTimeGrew("vCPU 1 was preempted");
        for (int i : new int[]{0, 2}) {
            PvTimeVcpu v = vm.vcpu(i);
            long ownHost = v.hostSteal() - host[i];
            Snapshot after = v.snapshot("after vCPU 1 was preempted and every vCPU ran");
            assertThatStolenTime(after).comparedTo(before[i]).stolenTimeGrewAtMost(ownHost + tolerance(),
                    "only vCPU " + i + "'s own involuntary wait (" + ownHost + " ns) may show, not vCPU 1's");
            if (exact()) {
                // the 16 meaningful bytes; what a hypervisor writes in bytes 16..63 of its own
                // structure is ARM-RESERVED-UNTOUCHED (advisory)
                assertThatStolenTime(after).bytesUnchangedOutside(PvTime.STOLEN_TIME + 8, PvTime.SIZE, before[i]);
            }
        }
    }

    @TckRule(RuleIds.ARM_PER_VCPU)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_PER_VCPU_pvTimeStOnOneVcpuResetsNoOtherVcpusStructure() {
        PvTimeVm vm = threeVcpusBackToBack();
        // vCPU 2 keeps its stolen time, vCPU 0 calls: a guest may need vCPU 0 running to hand requests to
        // the others (the TCK's test guest does), and vCPU 1's structure lies between them (what a
        // structure's neighbour may see is ARM-WRITES-IN-BOUNDS)
        PvTimeVcpu v2 = vm.vcpu(2);
        v2.preempt(measurable(2));
        v2.settle();
        Snapshot before = v2.snapshot("vCPU 2 has accumulated stolen time");
        Evidence.step("vCPU 0 calls PV_TIME_ST (vCPU 2 does not run meanwhile)", () -> vm.vcpu(0).stolenTimeIpa());
        assertThatStolenTime(v2.snapshot("after the other vCPUs called PV_TIME_ST")).isUnchangedFrom(before);
    }
}
