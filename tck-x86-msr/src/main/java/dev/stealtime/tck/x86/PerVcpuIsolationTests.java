package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.time.Duration;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.KvmStealTime.ms;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static org.assertj.core.api.Assertions.assertThat;

/** Rule area "Per-vCPU isolation": one structure per vCPU, each showing only its own vCPU's steal. */
public class PerVcpuIsolationTests extends X86TckTest {

    static final int VCPUS = 3;

    /** Every test here needs several vCPUs: NOT APPLICABLE before anything starts otherwise. */
    @BeforeMethod(alwaysRun = true)
    public void needsSeveralVcpus() {
        require(Capability.MULTI_VCPU);
    }

    private long slot(int vcpu) {
        return layout().slot(40 + 2 * vcpu);
    }

    private static long rdmsr(StealTimeVcpu cpu) {
        MsrResult r = cpu.guestRdmsr();
        assertThat(r.faulted()).as("guest RDMSR(MSR_KVM_STEAL_TIME) on vCPU %d", cpu.index()).isFalse();
        return r.value();
    }

    /**
     * Registering one vCPU leaves the others' MSRs as they were; driving one vCPU (preempt, run)
     * shows the steal in its own structure and adds none to the others' (their steal grows by no
     * more than their own host measure); disabling one leaves the others'
     * MSRs and updates as they were.
     */
    @TckRule(RuleIds.X86_PER_VCPU)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_PER_VCPU_eachStructureReflectsOnlyItsOwnVcpu() {
        StealTimeVm vm = openStealTimeVm(VCPUS);
        StealTimeVcpu[] cpus = new StealTimeVcpu[VCPUS];
        for (int i = 0; i < VCPUS; i++) {
            cpus[i] = vm.vcpu(i);
            vm.zeroStructure(slot(i));
        }
        Duration[] induced = new Duration[VCPUS];
        for (int i = 0; i < VCPUS; i++) {
            induced[i] = preemption(Duration.ofMillis(3L * (i + 1)));
        }

        Evidence.step("configure: each vCPU registers its own structure; the others' MSRs do not change", () -> {
            for (int i = 0; i < VCPUS; i++) {
                long[] before = new long[VCPUS];
                for (int j = 0; j < VCPUS; j++) {
                    before[j] = rdmsr(cpus[j]);
                }
                cpus[i].enable(slot(i));
                for (int j = 0; j < VCPUS; j++) {
                    if (j != i) {
                        assertThat(rdmsr(cpus[j])).as("vCPU %d's MSR after vCPU %d registered %s", j, i, hex(slot(i) | ENABLE))
                                .isEqualTo(before[j]);
                    }
                }
            }
            for (int i = 0; i < VCPUS; i++) {
                cpus[i].settle(slot(i), "vCPU " + i + " registered and ran");
            }
        });

        StringBuilder table = new StringBuilder("driven   induced    steal delta per vCPU\n");
        for (int i = 0; i < VCPUS; i++) {
            int driven = i;
            Evidence.step("run: only vCPU " + driven + " is preempted " + ms(induced[driven]) + " and runs", () -> {
                Snapshot[] before = new Snapshot[VCPUS];
                long[] host = new long[VCPUS];
                for (int j = 0; j < VCPUS; j++) {
                    host[j] = cpus[j].hostSteal();
                    before[j] = cpus[j].snapshot(slot(j), "before vCPU " + driven + " was driven");
                }
                cpus[driven].preempt(induced[driven]);
                Snapshot own = cpus[driven].runUntilStealAbove(slot(driven), before[driven],
                        "after only vCPU " + driven + " was preempted and ran");
                StringBuilder row = new StringBuilder(String.format("vCPU %d   %-9s ", driven, ms(induced[driven])));
                for (int j = 0; j < VCPUS; j++) {
                    Snapshot after = j == driven ? own : cpus[j].snapshot(slot(j), "after only vCPU " + driven + " was preempted and ran");
                    row.append(String.format(" %,d", StealTimeRecordAssert.steal(after) - StealTimeRecordAssert.steal(before[j])));
                    if (j == driven) {
                        assertThatRecord(after).hasStealAbove(before[j], "vCPU " + driven + "'s own preemption must show in its own structure");
                    } else {
                        // the hypervisor may update any structure at any time (seed 000), but vCPU j's steal
                        // may grow only by vCPU j's own run delay
                        long hostDelta = cpus[j].hostSteal() - host[j];
                        assertThatRecord(after).hasVersionNotBelow(before[j]).hasStealDeltaBetween(before[j], 0, hostDelta + tolerance(),
                                String.format("vCPU %d did not run (its host measure grew %,d ns); only vCPU %d was preempted and ran",
                                        j, hostDelta, driven));
                    }
                }
                table.append(row).append('\n');
            });
        }

        Evidence.step("disable vCPU 1: the others keep their MSRs and keep being updated", () -> {
            long[] msrs = new long[VCPUS];
            for (int j = 0; j < VCPUS; j++) {
                msrs[j] = rdmsr(cpus[j]);
            }
            cpus[1].writeValid(slot(1));
            Snapshot[] before = new Snapshot[VCPUS];
            for (int j = 0; j < VCPUS; j++) {
                if (j != 1) {
                    assertThat(rdmsr(cpus[j])).as("vCPU %d's MSR after vCPU 1 disabled", j).isEqualTo(msrs[j]);
                }
                before[j] = cpus[j].snapshot(slot(j), "after vCPU 1 disabled");
            }
            for (int j = 0; j < VCPUS; j++) {
                if (j == 1) {   // (that vCPU 1's own structure stays still is the rule X86-DISABLE)
                    cpus[j].preemptThenRun(induced[j]);
                } else {
                    cpus[j].preempt(induced[j]);
                    Snapshot after = cpus[j].runUntilStealAbove(slot(j), before[j], "after vCPU " + j + " was preempted and ran");
                    assertThatRecord(after).hasStealAbove(before[j], "vCPU " + j + " is still registered after vCPU 1 disabled");
                }
            }
        });
        Evidence.text("steal deltas when one vCPU at a time is driven", table.toString());
    }
}
