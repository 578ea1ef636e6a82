package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.GuestMemory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The host-side writer's counterpart of {@link LiveMemory}: naturally aligned little-endian stores
 * with release ordering into a live view. A race uses it to seed an accumulator in guest memory
 * while reader threads are sampling the same bytes: {@link GuestMemory#write} copies bytes and may
 * tear, so a seed written with it could be mistaken for a torn update by the hypervisor. Only call
 * it while the vCPU is not running, so the seed and the hypervisor's updates never overlap.
 */
public final class LiveStore {

    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final ByteBuffer view;
    private final long gpa;

    public LiveStore(GuestMemory memory, long gpa, int length) {
        this.view = memory.liveView(gpa, length).order(ByteOrder.LITTLE_ENDIAN);
        this.gpa = gpa;
        if (!view.isDirect()) {
            throw new IllegalStateException("GuestMemory.liveView must return a direct buffer aliasing guest RAM");
        }
    }

    public long gpa() {
        return gpa;
    }

    /** One single-copy-atomic 64-bit little-endian store with release semantics ({@code offset} 8-byte aligned). */
    public void u64(int offset, long value) {
        LONG.setRelease(view, offset, value);
    }
}
