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
    /** Backings {@link #replaceBacking} retired, kept mapped until {@link #unmap()}; per slot id, the last one. */
    private final List<Slot> retired = new ArrayList<>();
    private final int vmFd;
    /** {@code KVM_MEM_LOG_DIRTY_PAGES} once {@link #startDirtyLog()} ran. */
    private volatile int flags;
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
        this.vmFd = vmFd;
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
                setSlot(slot, region.size());
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

    /** {@code KVM_SET_USER_MEMORY_REGION} for {@code slot} with the current flags ({@code size} 0 deletes it). */
    private void setSlot(Slot slot, long size) {
        Memory r = new Memory(Kvm.MEMREGION_SIZE);
        r.setInt(0, slot.id());                         // slot
        r.setInt(4, size == 0 ? 0 : flags);             // flags
        r.setLong(8, slot.region().gpa());              // guest_phys_addr
        r.setLong(16, size);                            // memory_size
        r.setLong(24, Pointer.nativeValue(slot.host())); // userspace_addr
        Kvm.ioctl(vmFd, Kvm.SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION " + slot.region() + (size == 0 ? " (delete)" : ""));
    }

    // ---- dirty logging: KVM_MEM_LOG_DIRTY_PAGES and KVM_GET_DIRTY_LOG ----

    @Override
    public synchronized void startDirtyLog() {
        flags = Kvm.MEM_LOG_DIRTY_PAGES;
        for (Slot s : slots) {
            setSlot(s, s.region().size());
        }
        takeDirtyPages();   // empty the bitmaps
    }

    /** One bit per host page; KVM's x86 host pages are 4 KiB. */
    @Override
    public long dirtyLogGranule() {
        return MemoryRegion.PAGE;
    }

    @Override
    public synchronized long[] takeDirtyPages() {
        if (flags == 0) {
            throw new IllegalStateException("dirty logging was not started");
        }
        List<Long> out = new ArrayList<>();
        for (Slot s : slots) {
            long pages = s.region().size() / MemoryRegion.PAGE;
            Memory bitmap = new Memory(Math.max(8, (pages + 63) / 64 * 8));
            bitmap.clear();
            Memory log = new Memory(16);                          // struct kvm_dirty_log
            log.setInt(0, s.id());                                // slot
            log.setInt(4, 0);                                     // padding1
            log.setLong(8, Pointer.nativeValue(bitmap));          // dirty_bitmap
            Kvm.ioctl(vmFd, Kvm.GET_DIRTY_LOG, log, "KVM_GET_DIRTY_LOG slot " + s.id());
            for (long w = 0; w < (pages + 63) / 64; w++) {
                long bits = bitmap.getLong(w * 8);
                while (bits != 0) {
                    int b = Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    out.add(s.region().gpa() + (w * 64 + b) * MemoryRegion.PAGE);
                }
            }
        }
        return out.stream().mapToLong(Long::longValue).sorted().toArray();
    }

    // ---- memory that moves ----

    /**
     * New backing for the slot holding {@code gpa}: mapped (under {@code tck serve} from the file
     * {@link SharedRam#requested()} names, at offset 0), filled with a copy, then the slot deleted and
     * re-created over it; the old mapping stays until {@link #unmap()}.
     */
    @Override
    public synchronized void replaceBacking(long gpa) {
        Slot old = slotFor(gpa, 1);
        long size = old.region().size();
        Path file = SharedRam.requested().orElse(null);
        int fd = -1;
        Pointer host;
        try {
            if (file != null) {
                SharedRam.create(file, List.of(old.region()));
                fd = LibC.INSTANCE.open(file.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
                if (fd < 0) {
                    throw new KvmException("open " + file, Native.getLastError());
                }
            }
            host = fd < 0
                    ? LibC.INSTANCE.mmap(null, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_ANONYMOUS, -1, 0)
                    : LibC.INSTANCE.mmap(null, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
            if (Os.isMapFailed(host)) {
                throw new KvmException("mmap " + size + " bytes for the new backing of " + old.region(), Native.getLastError());
            }
        } finally {
            if (fd >= 0) {
                LibC.INSTANCE.close(fd);
            }
        }
        host.write(0, old.host().getByteArray(0, (int) size), 0, (int) size);
        Slot fresh = new Slot(old.id(), old.region(), host);
        setSlot(old, 0);
        slots.set(slots.indexOf(old), fresh);
        retired.add(old);
        setSlot(fresh, size);
    }

    @Override
    public synchronized byte[] readRetired(long gpa, int length) {
        Slot now = slotFor(gpa, length);
        for (int i = retired.size() - 1; i >= 0; i--) {
            Slot r = retired.get(i);
            if (r.id() == now.id()) {
                return r.host().getByteArray(gpa - r.region().gpa(), length);
            }
        }
        throw new IllegalStateException("the backing of " + now.region() + " was never replaced");
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
        for (Slot s : retired) {
            LibC.INSTANCE.munmap(s.host(), s.region().size());
        }
        retired.clear();
    }
}
