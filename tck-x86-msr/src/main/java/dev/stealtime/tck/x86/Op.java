package dev.stealtime.tck.x86;

import dev.stealtime.tck.support.Timing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static dev.stealtime.tck.x86.KvmStealTime.ms;

/** One thing the vCPU does; each ends with the guest having been entered (a completed update). */
public record Op(String name, Consumer<StealTimeVcpu> action) {

    void on(StealTimeVcpu cpu) {
        action.accept(cpu);
    }

    /**
     * A mixed workload of {@code rounds} rounds of: preempt then run, run, idle (a halt while the
     * host CPU is contended), CPUID and RDMSR (each enters the guest).
     */
    static List<Op> mixedWorkload(Timing timing, int rounds) {
        Duration p = timing.measurable(Duration.ofMillis(2));
        Duration idle = timing.measurable(Duration.ofMillis(2));
        List<Op> ops = new ArrayList<>();
        for (int i = 1; i <= rounds; i++) {
            ops.add(new Op("preempt " + ms(p) + " + run #" + i, c -> c.preemptThenRun(p)));
            ops.add(new Op("run #" + i, StealTimeVcpu::runBriefly));
            ops.add(new Op("idle " + ms(idle) + " #" + i, c -> c.idle(idle)));
            ops.add(new Op("CPUID #" + i, c -> c.cpuid(KvmStealTime.CPUID_KVM_FEATURES)));
            ops.add(new Op("RDMSR #" + i, StealTimeVcpu::guestRdmsr));
        }
        return ops;
    }
}
