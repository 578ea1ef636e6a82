package dev.stealtime.tck.spi;

import java.nio.ByteBuffer;
import java.util.List;

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
 *
 * <p><b>After the VM is closed</b> its memory is released ({@link Vm#close()}): the TCK uses neither
 * this object nor a view taken from it again, and a provider whose memory is a mapping refuses
 * {@link #read}, {@link #write} and {@link #liveView} with {@link IllegalStateException} rather
 * than touch a released mapping.
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

    // ---- dirty-page logging (Capability.DIRTY_LOG) -------------------------------------------

    /**
     * Starts dirty-page logging on every RAM region of the VM (KVM: {@code KVM_SET_USER_MEMORY_REGION}
     * again for each slot, with {@code KVM_MEM_LOG_DIRTY_PAGES} in {@code flags}). From this call on the
     * hypervisor records every granule ({@link #dirtyLogGranule()}) of guest RAM that is written
     * <em>by the guest or by the hypervisor itself</em> — a steal-time update included — until
     * {@link #takeDirtyPages()} hands the set out. The set starts empty. Calling it again while logging
     * runs empties the set. Logging stays on until the VM is closed. Called only between calls on the
     * vCPUs (no vCPU is running).
     *
     * <p>Writes the VMM makes itself ({@link #write}, or stores through a {@link #liveView}) may be
     * logged or not: KVM does not log userspace writes, the TCK never relies on either.
     *
     * @throws UnsupportedOperationException without {@link Capability#DIRTY_LOG}
     */
    default void startDirtyLog() {
        throw new UnsupportedOperationException("dirty-page logging is not supported (Capability.DIRTY_LOG)");
    }

    /**
     * The granules dirtied since {@link #startDirtyLog()} or the previous call, and empties the set
     * (KVM: {@code KVM_GET_DIRTY_LOG} on each slot, which returns and clears its bitmap). The answer is
     * the guest-physical address of the first byte of each dirty granule, ascending, each once.
     * Exact where the TCK looks: a granule the hypervisor wrote since the last call is in it (an update
     * that changed nothing may be logged or not), and a granule nobody wrote is not — only the
     * provider's own range {@code [0, 0x10000)} (guest code, stack) may show anything. Called only
     * between calls on the vCPUs.
     *
     * @throws IllegalStateException         when logging was not started
     * @throws UnsupportedOperationException without {@link Capability#DIRTY_LOG}
     */
    default long[] takeDirtyPages() {
        throw new UnsupportedOperationException("dirty-page logging is not supported (Capability.DIRTY_LOG)");
    }

    /**
     * The size of one logged granule in bytes: a power of two, at least 4096, dividing every region's
     * address and size (KVM: the host page size, 4096 on x86 and on 4K-page arm64 hosts). The TCK
     * judges the log at this granularity: a structure dirties the granules its 64 bytes lie in.
     */
    default long dirtyLogGranule() {
        return MemoryRegion.PAGE;
    }

    // ---- memory that moves (Capability.MOVABLE_MEMORY) ---------------------------------------

    /**
     * The VMM moves the RAM region that holds {@code gpa} to new backing memory, at the same
     * guest-physical address (as a VMM does when it remaps guest memory, e.g. on a hot-unplug and
     * replug or when it switches to a new memory file): new backing is allocated, the region's whole
     * contents are copied into it, the memory slot is deleted and re-created over the new backing.
     * Afterwards {@link #read}, {@link #write} and new {@link #liveView}s address the new backing;
     * every steal-time update must land there (the registrations are guest-physical and still valid:
     * nothing is re-registered). The old backing is <b>kept</b>, unused, until the VM is closed, so
     * that {@link #readRetired} can show whether anything still writes to it. Live views obtained
     * before the call alias the old backing. Called only between calls on the vCPUs. Dirty logging,
     * if started, stays on for the re-created slot. KVM: {@code mmap} + copy,
     * {@code KVM_SET_USER_MEMORY_REGION} of the slot with {@code memory_size} 0, then again with the
     * new {@code userspace_addr}; the old mapping is not unmapped until close.
     *
     * @throws IndexOutOfBoundsException     when {@code gpa} is in no RAM region
     * @throws UnsupportedOperationException without {@link Capability#MOVABLE_MEMORY}
     */
    default void replaceBacking(long gpa) {
        throw new UnsupportedOperationException("guest RAM cannot be moved (Capability.MOVABLE_MEMORY)");
    }

    /**
     * Reads {@code length} bytes at {@code gpa} from the backing that {@link #replaceBacking} retired
     * last for the region holding {@code gpa}: what the old memory holds now (nobody should have
     * written it since the move).
     *
     * @throws IndexOutOfBoundsException     when the range is not inside one RAM region
     * @throws IllegalStateException         when that region's backing was never replaced
     * @throws UnsupportedOperationException without {@link Capability#MOVABLE_MEMORY}
     */
    default byte[] readRetired(long gpa, int length) {
        throw new UnsupportedOperationException("guest RAM cannot be moved (Capability.MOVABLE_MEMORY)");
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