package dev.stealtime.tck.arm64;

import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.Vm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** An arm64 VM opened by a test: its memory and its vCPUs as {@link PvTimeVcpu}s. Closed by the harness. */
public final class PvTimeVm {

    private final Vm vm;
    private final List<PvTimeVcpu> vcpus = new ArrayList<>();

    PvTimeVm(Vm vm, Duration shortRun) {
        this.vm = vm;
        for (var v : vm.vcpus()) {
            if (!(v instanceof Arm64Vcpu a)) {
                throw new IllegalStateException("an arm64 VM handed out a " + v.getClass().getName() + ", not an Arm64Vcpu");
            }
            vcpus.add(new PvTimeVcpu(a, vm.memory(), shortRun));
        }
    }

    public PvTimeVcpu vcpu(int index) {
        return vcpus.get(index);
    }

    public List<PvTimeVcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    /** The VM itself (to close a migration's source before the test ends). */
    Vm vm() {
        return vm;
    }

    public GuestMemory memory() {
        return vm.memory();
    }
}
