package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A KVM VM: the VM fd with KVM's in-kernel irqchip (so a guest HLT blocks inside KVM_RUN, as it does
 * for real guests), one memory slot per RAM region, the guest code of {@link GuestCode} at the
 * bottom of RAM, one {@link KvmVcpu} (with its own thread) per vCPU, and one {@link Competitor}
 * per host CPU in use. vCPU {@code i} is pinned to host CPU {@code cpus[i % cpus.size()]}; vCPUs
 * that share a CPU share its competitor (and then also each other's preemption).
 */
final class KvmVm implements Vm {

    private static final AtomicInteger SERIAL = new AtomicInteger();

    /** Where Intel VMX without unrestricted guest keeps its real-mode TSS (3 pages); unused on AMD. */
    private static final long TSS_ADDR = 0xfffbd000L;
    private static final long TSS_SIZE = 3 * 4096;

    private final VmSpec spec;
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    private final Map<Integer, Competitor> competitors = new TreeMap<>();
    private int kvmFd = -1;
    private int vmFd = -1;
    private KvmMemory memory;
    private boolean closed;

    KvmVm(VmSpec spec, List<Integer> cpus) {
        this.spec = spec;
        if (!spec.inRam(0, GuestCode.END)) {
            throw new UnsupportedOperationException(
                    "the kvm provider needs guest RAM at [0, 0x10000) for its guest code: " + spec.ram());
        }
        if (spec.vcpus() > GuestCode.MAX_VCPUS) {
            throw new UnsupportedOperationException("the kvm provider supports at most " + GuestCode.MAX_VCPUS
                    + " vCPUs per VM: " + spec.vcpus());
        }
        int serial = SERIAL.incrementAndGet();
        try {
            kvmFd = Os.check(LibC.INSTANCE.open(Kvm.DEVICE, LibC.O_RDWR | LibC.O_CLOEXEC), Kvm.DEVICE);
            vmFd = Kvm.ioctl(kvmFd, Kvm.CREATE_VM, 0, "KVM_CREATE_VM");
            if (Kvm.ioctl(kvmFd, Kvm.CHECK_EXTENSION, Kvm.CAP_SET_TSS_ADDR, "KVM_CHECK_EXTENSION") > 0
                    && spec.ram().stream().noneMatch(r -> r.gpa() < TSS_ADDR + TSS_SIZE && TSS_ADDR < r.end())) {
                Kvm.ioctl(vmFd, Kvm.SET_TSS_ADDR, TSS_ADDR, "KVM_SET_TSS_ADDR");
            }
            Kvm.ioctl(vmFd, Kvm.CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
            memory = new KvmMemory(vmFd, spec.ram());
            memory.write(0, GuestCode.image());
            long runSize = Kvm.ioctl(kvmFd, Kvm.GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
            Cpuid cpuid = Cpuid.supported(kvmFd).withStealTime(spec.stealTimeOffered());
            for (int i = 0; i < spec.vcpus(); i++) {
                int cpu = cpus.get(i % cpus.size());
                Competitor competitor = competitors.computeIfAbsent(cpu,
                        c -> new Competitor(c, "kvm-vm" + serial + "-competitor-cpu" + c));
                vcpus.add(new KvmVcpu("kvm-vm" + serial + "-vcpu" + i, vmFd, i, competitor, runSize, cpuid,
                        spec.stealTimeOffered()));
            }
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    @Override
    public VmSpec spec() {
        return spec;
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public List<KvmVcpu> vcpus() {
        return Collections.unmodifiableList(vcpus);
    }

    @Override
    public KvmVcpu vcpu(int index) {
        return vcpus.get(index);
    }

    /** Guest RAM regions as registered with KVM. */
    List<MemoryRegion> regions() {
        return memory.regions();
    }

    /**
     * Closes the vCPUs (fds, kvm_run mappings, threads), then the VM fd and /dev/kvm, then unmaps
     * guest RAM. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        for (KvmVcpu v : vcpus) {
            try {
                v.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        competitors.values().forEach(Competitor::close);
        if (vmFd >= 0) {
            LibC.INSTANCE.close(vmFd);
        }
        if (kvmFd >= 0) {
            LibC.INSTANCE.close(kvmFd);
        }
        if (memory != null) {
            memory.unmap();
        }
        if (first != null) {
            throw first;
        }
    }
}
