package dev.stealtime.tck.spi;

import java.nio.ByteBuffer;

/**
 * Guest-physical memory as the host sees it. KVM: the userspace mapping behind each memory slot.
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
