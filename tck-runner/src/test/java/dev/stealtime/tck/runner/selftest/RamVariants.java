package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.reference.GuestRam;
import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.spi.MemoryRegion;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Hypervisors whose guest RAM handling differs from the reference — the dirty log and memory that
 * moves — shared by both suites' variant lists ({@code X86FaultyVariants}, {@code Arm64FaultyVariants} and
 * the legal ones): one {@link GuestRam} subclass each, the steal-time code untouched.
 */
public final class RamVariants {

    private RamVariants() {
    }

    /** Parts whose guest RAM is built by {@code ram}. */
    public static ReferenceParts ram(Function<List<MemoryRegion>, GuestRam> ram) {
        return new ReferenceParts() {
            @Override
            public GuestRam guestRam(List<MemoryRegion> regions) {
                return ram.apply(regions);
            }
        };
    }

    /** Defect: the hypervisor's own writes are never logged as dirty. */
    public static ReferenceParts updatesNotLogged() {
        return ram(regions -> new GuestRam(regions) {
            @Override
            public void markDirty(long gpa, int length) {
            }
        });
    }

    /**
     * Defect: every second 8-byte write of the hypervisor is not logged as dirty: on arm64 every
     * second update of stolen_time (its only store), so a round with two updates logs its page anyway.
     */
    public static ReferenceParts everySecondStolenTimeStoreNotLogged() {
        return ram(regions -> new GuestRam(regions) {
            private long stores;

            @Override
            public void markDirty(long gpa, int length) {
                if (length != 8 || ++stores % 2 != 0) {
                    super.markDirty(gpa, length);
                }
            }
        });
    }

    /** Defect: each write also logs the page after it dirty (an off-by-one in the bitmap). */
    public static ReferenceParts logsTheNextPageToo() {
        return ram(regions -> new GuestRam(regions) {
            @Override
            public void markDirty(long gpa, int length) {
                super.markDirty(gpa, length);
                super.markDirty(gpa + MemoryRegion.PAGE, length);
            }
        });
    }

    /** Freedom: the log is kept in 64 KiB granules (a host with 64 KiB pages). */
    public static ReferenceParts granule64k() {
        long g = 64 * 1024;
        return ram(regions -> new GuestRam(regions) {
            @Override
            public long dirtyLogGranule() {
                return g;
            }

            @Override
            public void markDirty(long gpa, int length) {
                long first = gpa & ~(g - 1);
                for (long p = first; p < gpa + length; p += g) {
                    super.markDirty(p, 1);   // the granule's first page stands for the granule
                }
            }
        });
    }

    /**
     * Defect: the hypervisor translates a guest-physical page to host memory once and keeps the
     * translation (a gfn-to-pfn cache never invalidated): after the memory slot moved, its loads and
     * stores still go to the old backing.
     */
    public static ReferenceParts staleMapping() {
        return ram(StaleMappingRam::new);
    }

    private static final class StaleMappingRam extends GuestRam {
        private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
        private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
        private final Map<Long, ByteBuffer> cache = new ConcurrentHashMap<>();

        StaleMappingRam(List<MemoryRegion> regions) {
            super(regions);
        }

        private ByteBuffer page(long gpa) {
            long p = gpa & ~(MemoryRegion.PAGE - 1);
            return cache.computeIfAbsent(p, k -> mapping(k, (int) MemoryRegion.PAGE));
        }

        private static int off(long gpa) {
            return (int) (gpa & (MemoryRegion.PAGE - 1));
        }

        @Override
        public long getLong(long gpa) {
            return (long) LONG.getAcquire(page(gpa), off(gpa));
        }

        @Override
        public int getInt(long gpa) {
            return (int) INT.getAcquire(page(gpa), off(gpa));
        }

        @Override
        public void putLong(long gpa, long value) {
            LONG.setRelease(page(gpa), off(gpa), value);
            markDirty(gpa, 8);
        }

        @Override
        public void putInt(long gpa, int value) {
            INT.setRelease(page(gpa), off(gpa), value);
            markDirty(gpa, 4);
        }

        @Override
        public void putByte(long gpa, byte value) {
            page(gpa).put(off(gpa), value);
            VarHandle.releaseFence();
            markDirty(gpa, 1);
        }
    }
}
