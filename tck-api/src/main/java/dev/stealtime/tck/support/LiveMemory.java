package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.GuestMemory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A guest's-eye window on a live view: naturally aligned little-endian loads with acquire
 * ordering, as a guest's {@code READ_ONCE} + {@code rmb()} would do. Loads of 8 bytes are single
 * loads (a torn value can only come from the writer). It also has the one store a race needs:
 * seeding an accumulator while readers sample the same bytes ({@link GuestMemory#write} copies
 * bytes and may itself tear).
 */
public final class LiveMemory {

    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final ByteBuffer view;
    private final long gpa;

    public LiveMemory(GuestMemory memory, long gpa, int length) {
        this.view = memory.liveView(gpa, length).order(ByteOrder.LITTLE_ENDIAN);
        this.gpa = gpa;
        if (!view.isDirect()) {
            throw new IllegalStateException("GuestMemory.liveView must return a direct buffer aliasing guest RAM");
        }
    }

    public long gpa() {
        return gpa;
    }

    /** One 64-bit little-endian load with acquire semantics. */
    public long u64(int offset) {
        return (long) LONG.getAcquire(view, offset);
    }

    /** One 32-bit little-endian load with acquire semantics. */
    public int u32(int offset) {
        return (int) INT.getAcquire(view, offset);
    }

    /**
     * One single-copy-atomic 64-bit little-endian store with release semantics ({@code offset} 8-byte
     * aligned). Only call it while the vCPU is not running, so it never overlaps the hypervisor's updates.
     */
    public void storeU64(int offset, long value) {
        LONG.setRelease(view, offset, value);
    }

    /** A snapshot copy of {@code length} bytes from {@code offset}. */
    public byte[] bytes(int offset, int length) {
        byte[] out = new byte[length];
        view.duplicate().position(offset).get(out, 0, length);
        return out;
    }
}
