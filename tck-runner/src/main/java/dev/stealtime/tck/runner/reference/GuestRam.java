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
 * <p>The hypervisor side uses {@link #putLong}/{@link #putInt}: single naturally aligned
 * little-endian stores with release ordering, the counterpart of the guest's acquire loads.
 */
public class GuestRam implements GuestMemory, SharedRam.Backed {

    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final List<MemoryRegion> regions;
    private final List<MappedByteBuffer> backing = new ArrayList<>();
    private final Path sharedFile;

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
        try {
            Path file = dev.stealtime.tck.runner.Leftovers.create(() -> Files.createTempFile("tck-guest-ram-", ".bin",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))));
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                return ch.map(FileChannel.MapMode.READ_WRITE, 0, region.size());
            } finally {
                Files.deleteIfExists(file);   // (a shutdown hook may have deleted it already)
                dev.stealtime.tck.runner.Leftovers.untrack(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map guest RAM " + region, e);
        }
    }

    /** True when {@code [gpa, gpa + length)} lies inside one region. */
    public boolean contains(long gpa, long length) {
        return regions.stream().anyMatch(r -> r.contains(gpa, length));
    }

    /** The backing buffer positioned so that index 0 is {@code gpa}. */
    private ByteBuffer at(long gpa, int length) {
        for (int i = 0; i < regions.size(); i++) {
            MemoryRegion r = regions.get(i);
            if (r.contains(gpa, length)) {
                return backing.get(i).slice((int) (gpa - r.gpa()), length).order(ByteOrder.LITTLE_ENDIAN);
            }
        }
        throw new IndexOutOfBoundsException(String.format("[0x%x, 0x%x) is not inside guest RAM %s", gpa, gpa + length, regions));
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

    public long getLong(long gpa) {
        return (long) LONG.getAcquire(at(gpa, 8), 0);
    }

    public int getInt(long gpa) {
        return (int) INT.getAcquire(at(gpa, 4), 0);
    }

    /** One single-copy-atomic 64-bit little-endian store. */
    public void putLong(long gpa, long value) {
        LONG.setRelease(at(gpa, 8), 0, value);
    }

    /** One 32-bit little-endian store. */
    public void putInt(long gpa, int value) {
        INT.setRelease(at(gpa, 4), 0, value);
    }

    public void putByte(long gpa, byte value) {
        at(gpa, 1).put(0, value);
        VarHandle.releaseFence();
    }

    /** Zeroes {@code length} bytes. */
    public void zero(long gpa, int length) {
        write(gpa, new byte[length]);
    }
}
