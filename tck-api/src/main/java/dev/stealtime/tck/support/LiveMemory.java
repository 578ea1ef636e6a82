package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.support.race.SampledLoads;

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
    private final GuestMemory memory;
    private final long gpa;

    /**
     * A window on {@code length} bytes at {@code gpa}. When the provider samples guest RAM
     * ({@link GuestMemory.Sharing#SAMPLED}) there is no view: loads in a race's probe read the
     * provider's recorded samples ({@link dev.stealtime.tck.support.race.Race}), elsewhere they go
     * through {@link GuestMemory#read}, and stores through {@link GuestMemory#write}.
     */
    public LiveMemory(GuestMemory memory, long gpa, int length) {
        this.memory = memory;
        this.gpa = gpa;
        if (memory.sharing() == GuestMemory.Sharing.SAMPLED) {
            this.view = null;
            return;
        }
        this.view = memory.liveView(gpa, length).order(ByteOrder.LITTLE_ENDIAN);
        if (!view.isDirect()) {
            throw new IllegalStateException("GuestMemory.liveView must return a direct buffer aliasing guest RAM");
        }
    }

    private long sampled(int offset, int width) {
        if (SampledLoads.active()) {
            return SampledLoads.load(gpa + offset, width);
        }
        ByteBuffer b = ByteBuffer.wrap(memory.read(gpa + offset, width)).order(ByteOrder.LITTLE_ENDIAN);
        return width == 8 ? b.getLong() : Integer.toUnsignedLong(b.getInt());
    }

    /** The guest memory this window is on. */
    public GuestMemory memory() {
        return memory;
    }

    public long gpa() {
        return gpa;
    }

    /** One 64-bit little-endian load with acquire semantics. */
    public long u64(int offset) {
        return view != null ? (long) LONG.getAcquire(view, offset) : sampled(offset, 8);
    }

    /** One 32-bit little-endian load with acquire semantics. */
    public int u32(int offset) {
        return view != null ? (int) INT.getAcquire(view, offset) : (int) sampled(offset, 4);
    }

    /**
     * One single-copy-atomic 64-bit little-endian store with release semantics ({@code offset} 8-byte
     * aligned). Only call it while the vCPU is not running, so it never overlaps the hypervisor's updates.
     */
    public void storeU64(int offset, long value) {
        if (view != null) {
            LONG.setRelease(view, offset, value);
        } else {
            memory.write(gpa + offset, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
        }
    }

    /** One 32-bit little-endian store with release semantics ({@code offset} 4-byte aligned); as {@link #storeU64}. */
    public void storeU32(int offset, int value) {
        if (view != null) {
            INT.setRelease(view, offset, value);
        } else {
            memory.write(gpa + offset, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
        }
    }

    /** A snapshot copy of {@code length} bytes from {@code offset}. */
    public byte[] bytes(int offset, int length) {
        if (view == null) {
            return memory.read(gpa + offset, length);
        }
        byte[] out = new byte[length];
        view.duplicate().position(offset).get(out, 0, length);
        return out;
    }
}
