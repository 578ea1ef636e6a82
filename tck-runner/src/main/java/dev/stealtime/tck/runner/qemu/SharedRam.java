package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Guest memory as files QEMU maps shared, mapped by the TCK too, so KVM's steal-time writes and the
 * TCK's reads touch the same pages ({@link Sharing#LIVE}). x86: QEMU's {@code memory-backend-file,share=on}
 * files, in the main one offset = guest-physical address (the q35 machine's RAM below 4 GiB starts at
 * 0), a {@code pc-dimm} at 4 GiB in a file of its own. arm64: the VMM's PV-time region, which
 * {@code native/qemu/share.c} maps from a file over QEMU's memory; the TCK's window of RAM is not
 * shared there (reads and writes of it throw). Only the spec's regions (the TCK's windows) and the
 * VMM's own regions are handed out; the rest is the guest's and QEMU's.
 */
final class SharedRam implements GuestMemory {

    /**
     * One file behind guest memory: {@code size} bytes from guest-physical {@code gpa}, at
     * {@code offset} in {@code file}; {@code vmmRegion}: memory the VMM reserved for itself (the
     * arm64 PV-time region), readable and writable although it is not in the spec's RAM.
     */
    record Backing(long gpa, long size, Path file, long offset, boolean vmmRegion) {
        Backing(long gpa, long size, Path file) {
            this(gpa, size, file, 0, false);
        }
    }

    private record Mapping(long gpa, long size, MappedByteBuffer map, boolean vmmRegion) {
    }

    private final VmSpec spec;
    private final List<Mapping> mappings = new ArrayList<>();
    private volatile boolean closed;

    SharedRam(List<Backing> backings, VmSpec spec) throws IOException {
        this.spec = spec;
        for (Backing b : backings) {
            try (FileChannel ch = FileChannel.open(b.file(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                if (ch.size() < b.offset() + b.size()) {
                    throw new IOException("QEMU's RAM file " + b.file() + " holds " + ch.size() + " bytes, expected " + (b.offset() + b.size()));
                }
                mappings.add(new Mapping(b.gpa(), b.size(), ch.map(FileChannel.MapMode.READ_WRITE, b.offset(), b.size()), b.vmmRegion()));
            }
        }
    }

    @Override
    public byte[] read(long gpa, int length) {
        Mapping m = mapping(gpa, length);
        byte[] b = new byte[length];
        m.map().get(Math.toIntExact(gpa - m.gpa()), b);
        return b;
    }

    @Override
    public void write(long gpa, byte[] bytes) {
        Mapping m = mapping(gpa, bytes.length);
        m.map().put(Math.toIntExact(gpa - m.gpa()), bytes);
    }

    @Override
    public ByteBuffer liveView(long gpa, int length) {
        Mapping m = mapping(gpa, length);
        return m.map().slice(Math.toIntExact(gpa - m.gpa()), length);
    }

    private Mapping mapping(long gpa, int length) {
        if (closed) {
            throw new IllegalStateException("the VM is closed: its RAM files are unmapped");
        }
        for (Mapping m : mappings) {
            if (m.vmmRegion() && gpa >= m.gpa() && gpa + length <= m.gpa() + m.size()) {
                return m;
            }
        }
        if (!spec.inRam(gpa, length)) {
            throw new IndexOutOfBoundsException(String.format("[0x%x, +%d) is not inside one RAM region of %s, nor the VMM's own region",
                    gpa, length, spec.ram()));
        }
        for (Mapping m : mappings) {
            if (gpa >= m.gpa() && gpa + length <= m.gpa() + m.size()) {
                return m;
            }
        }
        throw new IndexOutOfBoundsException(String.format("[0x%x, +%d) is in %s but in no file QEMU's RAM is mapped from", gpa, length, spec.ram()));
    }

    void close() {
        closed = true;
    }
}
