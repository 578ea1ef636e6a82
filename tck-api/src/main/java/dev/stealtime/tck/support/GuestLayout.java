package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * The guest-physical layout every suite uses, and the named addresses tests place structures at.
 * <pre>
 *   [0,        1 MiB)          LOW RAM   (the first 64 KiB are left to the provider's guest code)
 *   [1 MiB,    2 MiB)          hole      (no memory)
 *   [2 MiB,    3 MiB)          MID RAM   (only with MEMORY_HOLES)
 *   [4 GiB,    4 GiB + 64 KiB) HIGH RAM  (only with HIGH_MEMORY)
 *   beyond the last region:    nothing
 * </pre>
 */
public final class GuestLayout {

    public static final long MIB = 1L << 20;
    public static final long GIB = 1L << 30;

    /** Below this, guest RAM belongs to the provider (guest code, vectors); the TCK never uses it. */
    public static final long PROVIDER_RESERVED = 0x10000;

    public static final MemoryRegion LOW = new MemoryRegion(0, MIB);
    public static final MemoryRegion MID = new MemoryRegion(2 * MIB, MIB);
    public static final MemoryRegion HIGH = new MemoryRegion(4 * GIB, 64 * 1024);

    /** A structure slot in low RAM: {@code 0x10000 + n * 0x1000}. Slots are one page apart. */
    public static long low(int n) {
        return PROVIDER_RESERVED + n * 0x1000L;
    }

    /**
     * Where a race on the structure at {@code structureGpa} keeps its generation word when the
     * provider samples guest RAM: 8 bytes in the other half of the structure's page, which no test
     * of a race uses.
     */
    public static long raceScratch(long structureGpa) {
        long page = structureGpa & ~0xfffL;
        return (structureGpa & 0xfff) < 0x800 ? page + 0xc00 : page + 0x400;
    }

    /** The last 64 bytes of low RAM. */
    public static final long LOW_EDGE = LOW.end() - 64;
    /** A 64-byte aligned address in the hole between LOW and MID. */
    public static final long IN_HOLE = LOW.end() + 0x4000;
    /** A 64-byte aligned address above 4 GiB (in HIGH RAM when the provider has HIGH_MEMORY). */
    public static final long HIGH_SLOT = HIGH.gpa() + 0x1000;
    /** Far beyond every region. */
    public static final long BEYOND_RAM = 64 * GIB;

    private final List<MemoryRegion> regions;

    private GuestLayout(List<MemoryRegion> regions) {
        this.regions = regions;
    }

    /** The layout this provider supports: LOW always, MID and HIGH when declared. */
    public static GuestLayout forProvider(HypervisorProvider p) {
        List<MemoryRegion> r = new ArrayList<>();
        r.add(LOW);
        if (p.capabilities().contains(Capability.MEMORY_HOLES)) {
            r.add(MID);
        }
        if (p.capabilities().contains(Capability.HIGH_MEMORY)) {
            r.add(HIGH);
        }
        return new GuestLayout(List.copyOf(r));
    }

    public List<MemoryRegion> regions() {
        return regions;
    }

    public boolean hasHigh() {
        return regions.contains(HIGH);
    }

    public VmSpec spec(Architecture arch, int vcpus) {
        return new VmSpec(arch, vcpus, regions, true);
    }
}
