package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.util.ArrayList;
import java.util.List;

/** A reference VM: guest RAM plus one vCPU of the spec's architecture per index. */
public class ReferenceVm implements Vm {

    private final VmSpec spec;
    private final ReferenceParts parts;
    /** Guest RAM: the spec's, and the region a VMM adds for its structures ({@link PvTimeRegion#memory()}). */
    private final List<MemoryRegion> regions;
    private final GuestRam ram;
    private final List<Vcpu> vcpus = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean closed;

    public ReferenceVm(VmSpec spec, ReferenceParts parts) {
        this.spec = spec;
        this.parts = parts;
        PvTimeRegion region = spec.vmmPlaced() && spec.architecture() == Architecture.ARM64 ? parts.pvTimeRegion(spec) : null;
        List<MemoryRegion> memory = new ArrayList<>(spec.ram());
        if (region != null) {
            memory.addAll(region.memory());
        }
        this.regions = List.copyOf(memory);
        this.ram = parts.guestRam(regions);
        for (int i = 0; i < spec.vcpus(); i++) {
            vcpus.add(newVcpu(i, region));
        }
    }

    private Vcpu newVcpu(int i, PvTimeRegion region) {
        boolean offered = spec.stealTimeOffered();
        if (spec.architecture() == Architecture.X86_64) {
            return parts.x86Vcpu(i, parts.stealTimeMsr(ram, offered).alone(spec.onlyStealTime()), offered);
        }
        StolenTime st = parts.stolenTime(ram);
        Arm64ReferenceVcpu v = parts.arm64Vcpu(i, st, parts.pvTimeAttribute(ram, offered, st), parts.pvTimeHypercalls(offered, st));
        if (region != null) {
            v.placeAsVmm(region);
        }
        return v;
    }

    /** As a VMM hot-plugs a vCPU: the next index, built as the others ({@link ReferenceParts#hotplugged}). */
    @Override
    public synchronized Vcpu hotplugVcpu() {
        checkOpen();
        Vcpu v = parts.hotplugged(vcpus.size(), ram, newVcpu(vcpus.size(), null));
        vcpus.add(v);
        return v;
    }

    @Override
    public VmSpec spec() {
        return spec;
    }

    @Override
    public GuestMemory memory() {
        checkOpen();
        return ram;
    }

    @Override
    public List<? extends Vcpu> vcpus() {
        checkOpen();
        return List.copyOf(vcpus);
    }

    /**
     * As a VMM saves a VM and restores it: a new VM of the same spec gets a copy of every RAM
     * region, then each vCPU's steal-time registration ({@link ReferenceParts#restore}). This VM is
     * left as it is, for the caller to close.
     */
    @Override
    public Vm saveAndRestore() {
        return moved(parts::restore);
    }

    /**
     * As a VMM migrates a VM live: the same as {@link #saveAndRestore()} here (the source stands
     * still between the TCK's calls, so its last pass copies what the first did), the registrations
     * through {@link ReferenceParts#migrate}.
     */
    @Override
    public Vm liveMigrate() {
        return moved(parts::migrate);
    }

    private Vm moved(java.util.function.BiConsumer<Vcpu, Vcpu> carry) {
        checkOpen();
        ReferenceVm restored = new ReferenceVm(spec, parts);
        for (MemoryRegion r : regions) {
            restored.ram.write(r.gpa(), ram.read(r.gpa(), Math.toIntExact(r.size())));
        }
        for (int i = 0; i < vcpus.size(); i++) {
            carry.accept(vcpus.get(i), restored.vcpus.get(i));
        }
        return restored;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("VM is closed");
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}
