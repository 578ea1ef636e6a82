package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.runner.adapter.SharedRam;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.MemoryRegion;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Guest RAM of a reference VM: one shared file mapping per region, so that the hypervisor's stores
 * and the TCK's live-view loads race on the same memory. The backing file is private (0600) and
 * unlinked as soon as it is mapped. Addresses in no region are "outside guest RAM".
 *
 * <p>The hypervisor side uses {@link #putLong}/{@link #putInt}/{@link #putByte}/{@link #zero}: single
 * naturally aligned little-endian stores with release ordering, the counterpart of the guest's
 * acquire loads. Those are the hypervisor's own writes: with dirty logging on they mark their page
 * dirty ({@link #markDirty}); the VMM's {@link #write} does not (as KVM does not log userspace writes).
 *
 * <p>Memory that moves ({@link #replaceBacking}): the region gets a new mapping holding a copy; the
 * old one is kept until the VM is gone, readable through {@link #readRetired}. Every store above
 * looks the backing up afresh, so updates follow the move.
 */
public class GuestRam implements GuestMemory, SharedRam.Backed {

    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final List<MemoryRegion> regions;
    private final List<MappedByteBuffer> backing = new ArrayList<>();
    /** Per region index, the backing {@link #replaceBacking} retired last. */
    private final java.util.Map<Integer, MappedByteBuffer> retired = new java.util.concurrent.ConcurrentHashMap<>();
    private final Path sharedFile;
    /** Dirty granules (first GPA of each page), or null while dirty logging is off. */
    private volatile java.util.concurrent.ConcurrentSkipListSet<Long> dirty;

    /**
     * Maps each region; under {@code tck serve} ({@link SharedRam#requested()}) all of them from
     * the one shared file the adapter reports, at {@link SharedRam#offsets}.
     */
    public GuestRam(List<MemoryRegion> regions) {
        this.regions = List.copyOf(regions);
        this.sharedFile = SharedRam.requested().orElse(null);
        if (sharedFile == null) {
            for (MemoryRegion r : regions) {
                backing.add(map(r));
            }
        } else {
            SharedRam.create(sharedFile, regions);
            List<Long> offsets = SharedRam.offsets(regions);
            try (FileChannel ch = FileChannel.open(sharedFile, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                for (int i = 0; i < regions.size(); i++) {
                    backing.add(ch.map(FileChannel.MapMode.READ_WRITE, offsets.get(i), regions.get(i).size()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot map guest RAM from " + sharedFile, e);
            }
        }
    }

    @Override
    public Optional<Path> ramFile() {
        return Optional.ofNullable(sharedFile);
    }

    private static MappedByteBuffer map(MemoryRegion region) {
        return map(region.size());
    }

    private static MappedByteBuffer map(long size) {
        try {
            Path file = dev.stealtime.tck.runner.host.Leftovers.create(() -> Files.createTempFile("tck-guest-ram-", ".bin",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))));
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                return ch.map(FileChannel.MapMode.READ_WRITE, 0, size);
            } finally {
                Files.deleteIfExists(file);   // (a shutdown hook may have deleted it already)
                dev.stealtime.tck.runner.host.Leftovers.untrack(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map guest RAM of " + size + " bytes", e);
        }
    }

    /** Index of the region holding {@code [gpa, gpa + length)}. */
    private int regionOf(long gpa, long length) {
        for (int i = 0; i < regions.size(); i++) {
            if (regions.get(i).contains(gpa, length)) {
                return i;
            }
        }
        throw new IndexOutOfBoundsException(String.format("[0x%x, 0x%x) is not inside guest RAM %s", gpa, gpa + length, regions));
    }

    /** True when {@code [gpa, gpa + length)} lies inside one region. */
    public boolean contains(long gpa, long length) {
        return regions.stream().anyMatch(r -> r.contains(gpa, length));
    }

    /** The backing buffer positioned so that index 0 is {@code gpa}. */
    private ByteBuffer at(long gpa, int length) {
        int i = regionOf(gpa, length);
        return backing.get(i).slice((int) (gpa - regions.get(i).gpa()), length).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The memory behind {@code [gpa, gpa + length)} as it is mapped <em>now</em> (a buffer aliasing
     * the current backing, index 0 = {@code gpa}). The reference never keeps one: a hypervisor that
     * cached it would write through a stale mapping once the region moved.
     */
    public ByteBuffer mapping(long gpa, int length) {
        return at(gpa, length);
    }

    @Override
    public byte[] read(long gpa, int length) {
        byte[] out = new byte[length];
        at(gpa, length).get(out);
        return out;
    }

    @Override
    public void write(long gpa, byte[] bytes) {
        at(gpa, bytes.length).put(bytes);
    }

    @Override
    public ByteBuffer liveView(long gpa, int length) {
        return at(gpa, length);
    }

    // ---- dirty-page logging ----

    @Override
    public void startDirtyLog() {
        dirty = new java.util.concurrent.ConcurrentSkipListSet<>();
    }

    @Override
    public long[] takeDirtyPages() {
        java.util.concurrent.ConcurrentSkipListSet<Long> d = dirty;
        if (d == null) {
            throw new IllegalStateException("dirty logging was not started");
        }
        List<Long> taken = new ArrayList<>();
        Long page;
        while ((page = d.pollFirst()) != null) {
            taken.add(page);
        }
        return taken.stream().mapToLong(Long::longValue).toArray();
    }

    /** The hypervisor wrote {@code [gpa, gpa + length)}: with logging on, its pages are dirty. */
    public void markDirty(long gpa, int length) {
        java.util.concurrent.ConcurrentSkipListSet<Long> d = dirty;
        if (d != null && length > 0) {
            for (long p = gpa & ~(MemoryRegion.PAGE - 1); p < gpa + length; p += MemoryRegion.PAGE) {
                d.add(p);
            }
        }
    }

    // ---- memory that moves ----

    @Override
    public synchronized void replaceBacking(long gpa) {
        int i = regionOf(gpa, 1);
        MemoryRegion r = regions.get(i);
        Path file = SharedRam.requested().orElse(null);
        MappedByteBuffer fresh;
        if (file == null) {
            fresh = map(r.size());
        } else {   // under tck serve: the new backing is a shared file of its own, at offset 0
            SharedRam.create(file, List.of(r));
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                fresh = ch.map(FileChannel.MapMode.READ_WRITE, 0, r.size());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot map new guest RAM from " + file, e);
            }
        }
        MappedByteBuffer old = backing.get(i);
        fresh.put(0, old, 0, (int) r.size());
        retired.put(i, old);
        backing.set(i, fresh);
    }

    @Override
    public byte[] readRetired(long gpa, int length) {
        int i = regionOf(gpa, length);
        MappedByteBuffer old = retired.get(i);
        if (old == null) {
            throw new IllegalStateException("the backing of " + regions.get(i) + " was never replaced");
        }
        byte[] out = new byte[length];
        old.get((int) (gpa - regions.get(i).gpa()), out);
        return out;
    }

    public long getLong(long gpa) {
        return (long) LONG.getAcquire(at(gpa, 8), 0);
    }

    public int getInt(long gpa) {
        return (int) INT.getAcquire(at(gpa, 4), 0);
    }

    /** One single-copy-atomic 64-bit little-endian store. */
    public void putLong(long gpa, long value) {
        LONG.setRelease(at(gpa, 8), 0, value);
        markDirty(gpa, 8);
    }

    /** One 32-bit little-endian store. */
    public void putInt(long gpa, int value) {
        INT.setRelease(at(gpa, 4), 0, value);
        markDirty(gpa, 4);
    }

    public void putByte(long gpa, byte value) {
        at(gpa, 1).put(0, value);
        VarHandle.releaseFence();
        markDirty(gpa, 1);
    }

    /** Zeroes {@code length} bytes. */
    public void zero(long gpa, int length) {
        write(gpa, new byte[length]);
        markDirty(gpa, length);
    }
}
