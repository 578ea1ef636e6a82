package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Guest RAM as QEMU's {@code memory-backend-file,share=on} file, mapped by the TCK: file offset =
 * guest-physical address (the q35 machine's RAM below 4 GiB starts at 0), so KVM's steal-time writes
 * and the TCK's reads touch the same pages ({@link Sharing#LIVE}). Only the spec's regions (the TCK's
 * windows) are handed out; the rest is the guest's and QEMU's.
 */
final class SharedRam implements GuestMemory {

    private final VmSpec spec;
    private final MappedByteBuffer map;
    private volatile boolean closed;

    SharedRam(Path file, long size, VmSpec spec) throws IOException {
        this.spec = spec;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (ch.size() < size) {
                throw new IOException("QEMU's RAM file " + file + " holds " + ch.size() + " bytes, expected " + size);
            }
            map = ch.map(FileChannel.MapMode.READ_WRITE, 0, size);
        }
    }

    @Override
    public byte[] read(long gpa, int length) {
        int at = offset(gpa, length);
        byte[] b = new byte[length];
        map.get(at, b);
        return b;
    }

    @Override
    public void write(long gpa, byte[] bytes) {
        map.put(offset(gpa, bytes.length), bytes);
    }

    @Override
    public ByteBuffer liveView(long gpa, int length) {
        return map.slice(offset(gpa, length), length);
    }

    private int offset(long gpa, int length) {
        if (closed) {
            throw new IllegalStateException("the VM is closed: its RAM file is unmapped");
        }
        if (!spec.inRam(gpa, length)) {
            throw new IndexOutOfBoundsException(String.format("[0x%x, +%d) is not inside one RAM region of %s", gpa, length, spec.ram()));
        }
        return Math.toIntExact(gpa);
    }

    void close() {
        closed = true;
    }
}
