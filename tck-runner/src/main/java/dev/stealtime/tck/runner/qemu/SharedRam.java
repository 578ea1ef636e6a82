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
 * Guest RAM as QEMU's {@code memory-backend-file,share=on} files, mapped by the TCK: in the main
 * file, offset = guest-physical address (the q35 machine's RAM below 4 GiB starts at 0); a
 * {@code pc-dimm} at 4 GiB has a file of its own, so KVM's steal-time writes
 * and the TCK's reads touch the same pages ({@link Sharing#LIVE}). Only the spec's regions (the TCK's
 * windows) are handed out; the rest is the guest's and QEMU's.
 */
final class SharedRam implements GuestMemory {

    /** One file behind guest RAM: {@code size} bytes from guest-physical {@code gpa}. */
    record Backing(long gpa, long size, Path file) {
    }

    private record Mapping(long gpa, long size, MappedByteBuffer map) {
    }

    private final VmSpec spec;
    private final List<Mapping> mappings = new ArrayList<>();
    private volatile boolean closed;

    SharedRam(List<Backing> backings, VmSpec spec) throws IOException {
        this.spec = spec;
        for (Backing b : backings) {
            try (FileChannel ch = FileChannel.open(b.file(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                if (ch.size() < b.size()) {
                    throw new IOException("QEMU's RAM file " + b.file() + " holds " + ch.size() + " bytes, expected " + b.size());
                }
                mappings.add(new Mapping(b.gpa(), b.size(), ch.map(FileChannel.MapMode.READ_WRITE, 0, b.size())));
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
        if (!spec.inRam(gpa, length)) {
            throw new IndexOutOfBoundsException(String.format("[0x%x, +%d) is not inside one RAM region of %s", gpa, length, spec.ram()));
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
