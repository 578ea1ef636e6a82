package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.spi.MemoryRegion;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Guest RAM in a shared file, for {@code tck serve} (docs/adapter-protocol.md §5). While
 * {@link #backedBy} runs a provider's {@code open}, the in-process providers of this TCK
 * (reference, kvm) put the new VM's guest RAM into the requested file, one region after the other
 * at page-aligned offsets, mapped {@code MAP_SHARED}, and implement {@link Backed}. Elsewhere
 * (a plain in-process run) nothing changes.
 */
public final class SharedRam {

    private static final ThreadLocal<Path> REQUESTED = new ThreadLocal<>();

    private SharedRam() {
    }

    /** Guest RAM that may live in a file (its regions at {@link #offsets}). */
    public interface Backed {
        /** The file, or empty when this VM's guest RAM is not in a shared file. */
        Optional<Path> ramFile();
    }

    /** Runs {@code open} with guest RAM requested in {@code file}. */
    public static <T> T backedBy(Path file, Supplier<T> open) {
        Path before = REQUESTED.get();
        REQUESTED.set(file);
        try {
            return open.get();
        } finally {
            REQUESTED.set(before);
        }
    }

    /** The file the VM being opened on this thread should keep its RAM in, if any. */
    public static Optional<Path> requested() {
        return Optional.ofNullable(REQUESTED.get());
    }

    /** File offsets of the regions: packed one after the other (each region is whole pages). */
    public static List<Long> offsets(List<MemoryRegion> regions) {
        List<Long> out = new ArrayList<>();
        long at = 0;
        for (MemoryRegion r : regions) {
            out.add(at);
            at += r.size();
        }
        return out;
    }

    /** Creates {@code file} (0600, must not exist) sized for all the regions. */
    public static void create(Path file, List<MemoryRegion> regions) {
        long total = regions.stream().mapToLong(MemoryRegion::size).sum();
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(0);
                ch.position(total - 1);
                ch.write(java.nio.ByteBuffer.wrap(new byte[1]));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the guest-RAM file " + file, e);
        }
    }
}
