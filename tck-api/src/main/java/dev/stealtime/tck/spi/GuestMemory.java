package dev.stealtime.tck.spi;

import java.nio.ByteBuffer;

/**
 * Guest-physical memory as the host sees it. KVM: the userspace mapping behind each memory slot.
 *
 * <p><b>Which ranges are whose.</b> The first 64 KiB of the first RAM region
 * ({@code [0, 0x10000)}) belong to the provider (guest code, vectors, stack): the TCK never reads
 * or writes them. Everything from {@code 0x10000} up is the TCK's: it places structures on page
 * boundaries {@code 0x10000 + n * 0x1000} in low RAM, in the last 64 bytes of each region and at
 * 4 GiB + 0x1000 (with {@link Capability#HIGH_MEMORY}), plants canaries in the pages around them,
 * and compares all of it before and after an out-of-RAM registration. A provider must keep nothing
 * of its own there.
 */
public interface GuestMemory {

    /**
     * Copy {@code length} bytes at {@code gpa} out of guest RAM.
     *
     * @throws IndexOutOfBoundsException when the range is not inside one RAM region
     */
    byte[] read(long gpa, int length);

    /**
     * Copy bytes into guest RAM at {@code gpa}, as the guest would with plain stores (the TCK uses
     * this to zero the structure before registering it, to plant canaries and to seed the x86
     * accumulator).
     *
     * @throws IndexOutOfBoundsException when the range is not inside one RAM region
     */
    void write(long gpa, byte[] bytes);

    /**
     * A live window on guest RAM: a direct buffer that aliases the very memory the hypervisor
     * updates, so another thread can read it while updates happen (races are real, not replayed).
     * Position 0 is {@code gpa}. KVM: a view of the mmap'ed slot memory. Byte order of the returned
     * buffer is irrelevant; the TCK sets its own.
     *
     * @throws IndexOutOfBoundsException when the range is not inside one RAM region
     */
    ByteBuffer liveView(long gpa, int length);
}
