package dev.stealtime.tck.x86;

import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.Timing;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.SIZE;

/** An x86 VM opened by a test: its memory and its vCPUs as {@link StealTimeVcpu}s. Closed by the harness. */
public final class StealTimeVm {

    private final Vm vm;
    private final List<StealTimeVcpu> vcpus = new ArrayList<>();

    StealTimeVm(Vm vm, Supplier<Timing> timing) {
        this.vm = vm;
        for (var v : vm.vcpus()) {
            if (!(v instanceof X86Vcpu x)) {
                throw new IllegalStateException("an x86-64 VM handed out a " + v.getClass().getName() + ", not an X86Vcpu");
            }
            vcpus.add(new StealTimeVcpu(x, vm, timing));
        }
    }

    /** {@code vm}, opened by the caller (a tool outside the suite, e.g. a benchmark), seen through its steal-time interface. */
    public static StealTimeVm of(Vm vm, Timing timing) {
        return new StealTimeVm(vm, () -> timing);
    }

    public StealTimeVcpu vcpu(int index) {
        return vcpus.get(index);
    }

    public List<StealTimeVcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    /** The VM itself (to close a migration's source before the test ends). */
    Vm vm() {
        return vm;
    }

    public GuestMemory memory() {
        return vm.memory();
    }

    public VmSpec spec() {
        return vm.spec();
    }

    /** The guest zeroes the 64 bytes at {@code gpa} before registering them, as the document requires. */
    public void zeroStructure(long gpa) {
        memory().write(gpa, new byte[SIZE]);
    }

    /**
     * Before a write of {@code value} that registers a structure in RAM (bit 0 set, its 64 bytes in
     * guest RAM), the guest zeroes them, as it must before every registration. Nothing otherwise.
     */
    public void zeroIfRegistering(long value) {
        long gpa = value & ~0x3FL;
        if ((value & ENABLE) != 0 && spec().inRam(gpa, SIZE)) {
            zeroStructure(gpa);
        }
    }
}
