package dev.stealtime.tck.runner.kvm;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.stealtime.tck.runner.adapter.SharedRam;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.MemoryRegion;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Guest RAM: one anonymous shared mapping per {@link MemoryRegion}, each registered as a KVM memory
 * slot. Holes between regions have no slot and no mapping. The host reads and writes the very
 * pages the guest and KVM see.
 *
 * <p>After {@link #unmap()} every buffer handed out by {@link #liveView} is dangling: reading it
 * would crash the JVM. The TCK must not use a live view after closing the VM.
 */
final class KvmMemory implements GuestMemory, SharedRam.Backed {

    /** One slot: guest range and its host mapping. */
    private record Slot(int id, MemoryRegion region, Pointer host) {
    }

    private final List<Slot> slots = new ArrayList<>();
    private volatile boolean unmapped;
    private final Path sharedFile;
    private final List<MemoryRegion> regions;

    /**
     * Maps each region and registers it with the VM; on failure unmaps what it mapped. Under
     * {@code tck serve} ({@link SharedRam#requested()}) the regions are mapped {@code MAP_SHARED}
     * from the one shared file the adapter reports, so the TCK maps the very pages KVM updates.
     */
    KvmMemory(int vmFd, List<MemoryRegion> regions) {
        this.regions = List.copyOf(regions);
        this.sharedFile = SharedRam.requested().orElse(null);
        int fd = -1;
        try {
            if (sharedFile != null) {
                SharedRam.create(sharedFile, regions);
                fd = LibC.INSTANCE.open(sharedFile.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
                if (fd < 0) {
                    throw new KvmException("open " + sharedFile, Native.getLastError());
                }
            }
            List<Long> offsets = SharedRam.offsets(regions);
            for (MemoryRegion region : regions) {
                Pointer host = fd < 0
                        ? LibC.INSTANCE.mmap(null, region.size(), LibC.PROT_READ | LibC.PROT_WRITE,
                        LibC.MAP_SHARED | LibC.MAP_ANONYMOUS, -1, 0)
                        : LibC.INSTANCE.mmap(null, region.size(), LibC.PROT_READ | LibC.PROT_WRITE,
                        LibC.MAP_SHARED, fd, offsets.get(slots.size()));
                if (Os.isMapFailed(host)) {
                    throw new KvmException("mmap " + region.size() + " bytes for guest RAM " + region,
                            Native.getLastError());
                }
                Slot slot = new Slot(slots.size(), region, host);
                slots.add(slot);
                Memory r = new Memory(Kvm.MEMREGION_SIZE);
                r.setInt(0, slot.id());                    // slot
                r.setInt(4, 0);                            // flags
                r.setLong(8, region.gpa());                // guest_phys_addr
                r.setLong(16, region.size());              // memory_size
                r.setLong(24, Pointer.nativeValue(host));  // userspace_addr
                Kvm.ioctl(vmFd, Kvm.SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION " + region);
            }
        } catch (RuntimeException e) {
            unmap();
            throw e;
        } finally {
            if (fd >= 0) {
                LibC.INSTANCE.close(fd);
            }
        }
    }

    @Override
    public Optional<Path> ramFile() {
        return Optional.ofNullable(sharedFile);
    }

    @Override
    public byte[] read(long gpa, int length) {
        Slot s = slotFor(gpa, length);
        return s.host().getByteArray(gpa - s.region().gpa(), length);
    }

    @Override
    public void write(long gpa, byte[] bytes) {
        Slot s = slotFor(gpa, bytes.length);
        s.host().write(gpa - s.region().gpa(), bytes, 0, bytes.length);
    }

    @Override
    public ByteBuffer liveView(long gpa, int length) {
        Slot s = slotFor(gpa, length);
        return s.host().getByteBuffer(gpa - s.region().gpa(), length);
    }

    private Slot slotFor(long gpa, long length) {
        if (unmapped) {
            throw new IllegalStateException("the VM is closed; its guest RAM is gone");
        }
        if (length < 0) {
            throw new IndexOutOfBoundsException("negative length " + length);
        }
        for (Slot s : slots) {
            if (s.region().contains(gpa, length)) {
                return s;
            }
        }
        throw new IndexOutOfBoundsException(String.format(
                "[0x%x, 0x%x) is not inside one guest RAM region of %s", gpa, gpa + length, regions()));
    }

    List<MemoryRegion> regions() {
        return slots.stream().map(Slot::region).toList();
    }

    /** Unmaps every region (after the VM fd is closed). Idempotent. */
    void unmap() {
        unmapped = true;
        for (Slot s : slots) {
            LibC.INSTANCE.munmap(s.host(), s.region().size());
        }
        slots.clear();
    }
}
