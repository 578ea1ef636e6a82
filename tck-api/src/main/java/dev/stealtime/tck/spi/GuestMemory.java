package dev.stealtime.tck.spi;

import java.nio.ByteBuffer;
import java.util.List;

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
     * Only when {@link #sharing()} is {@link Sharing#LIVE}.
     *
     * @throws IndexOutOfBoundsException     when the range is not inside one RAM region
     * @throws UnsupportedOperationException when guest RAM is {@link Sharing#SAMPLED}
     */
    ByteBuffer liveView(long gpa, int length);

    /** How the TCK can watch guest RAM while the hypervisor updates it. */
    enum Sharing {
        /** {@link #liveView} aliases guest RAM: the TCK's own reader threads race the hypervisor. */
        LIVE,
        /**
         * Guest RAM cannot be mapped by the TCK (e.g. it lives inside an emulator): the provider runs
         * reader threads next to the memory with {@link #startSampling} and hands back the raw values
         * they loaded; the TCK grades them exactly as it grades its own readers' loads.
         */
        SAMPLED
    }

    /** {@link Sharing#LIVE} unless the provider says otherwise. */
    default Sharing sharing() {
        return Sharing.LIVE;
    }

    /**
     * Starts {@code readers} threads that each repeat {@code program} until {@link Sampling#stop()}:
     * each {@link Load} is one single, naturally aligned, little-endian load of 4 or 8 bytes with
     * acquire ordering (no later load is performed before it), never cached or combined, and the
     * values of one pass (an <em>iteration</em>) are recorded in program order. Returns once every
     * reader has started. Meanwhile the TCK keeps calling the VM's other methods (run, preempt,
     * write...) from its own thread: they must work concurrently with the readers. The program may
     * load words the TCK writes itself (a generation counter), which is how it relates samples to
     * its own actions; treat every load alike and never judge values. Only for
     * {@link Sharing#SAMPLED} memory.
     *
     * @param maxIterations a reader keeps at most this many records (see {@link Recorded})
     * @throws IndexOutOfBoundsException     when a load is not inside one RAM region
     * @throws IllegalArgumentException      when a load is misaligned or its width is not 4 or 8
     * @throws UnsupportedOperationException when guest RAM is {@link Sharing#LIVE}
     */
    default Sampling startSampling(int readers, List<Load> program, int maxIterations) {
        throw new UnsupportedOperationException("guest RAM is shared: use liveView");
    }

    /** One load of a sampling program: {@code width} (4 or 8) bytes at {@code gpa}, aligned to the width. */
    record Load(long gpa, int width) {
        public Load {
            if (width != 4 && width != 8) {
                throw new IllegalArgumentException("a load is 4 or 8 bytes wide: " + width);
            }
            if (gpa % width != 0) {
                throw new IllegalArgumentException("a load must be naturally aligned: 0x" + Long.toHexString(gpa) + " width " + width);
            }
        }
    }

    /** A running sampling session. */
    interface Sampling {
        /**
         * Stops the readers after the iteration each has in progress and returns, per reader in
         * reader order, what it loaded.
         */
        List<Recorded> stop();
    }

    /**
     * What one reader loaded: {@code values} holds the records one after the other, each in program
     * order ({@code values.length} is a multiple of the program's length); {@code counts[j]} says
     * how many times in a row the reader performed an iteration with exactly record j's values
     * (lossless run-length encoding). Nothing dropped from the middle, reordered or filtered.
     */
    record Recorded(long[] values, long[] counts) {
        public Recorded {
            if (counts == null) {
                throw new IllegalArgumentException("counts: one per record (all 1 when not run-length encoded)");
            }
        }

        public int records() {
            return counts.length;
        }
    }
}