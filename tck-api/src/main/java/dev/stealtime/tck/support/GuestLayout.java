package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The guest-physical layout every suite uses, and the named addresses tests place structures at.
 * <pre>
 *   [B,         B + 1 MiB)     LOW RAM   (the first 64 KiB are left to the provider's guest code)
 *   [B + 1 MiB, B + 2 MiB)     hole      (no memory)
 *   [B + 2 MiB, B + 3 MiB)     MID RAM   (only with MEMORY_HOLES)
 *   [4 GiB,    4 GiB + 64 KiB) HIGH RAM  (only with HIGH_MEMORY)
 *   beyond the last region:    nothing
 * </pre>
 * B is the provider's {@linkplain HypervisorProvider#layoutBase() layout base}, 0 for every provider
 * that builds the VM itself. The static constants and {@link #low(int)} are the layout at base 0;
 * a test that may meet another base asks its {@link TckTest#layout() layout} instead
 * ({@link #slot(int)}, {@link #lowEdge()}, {@link #inHole()}, {@link #lowRegion()}, ...), which
 * at base 0 gives exactly the same addresses.
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

    private final long base;
    private final List<MemoryRegion> regions;

    private GuestLayout(long base, List<MemoryRegion> regions) {
        this.base = base;
        this.regions = regions;
    }

    /**
     * The layout this provider supports: LOW always, MID and HIGH when declared, from its
     * {@linkplain HypervisorProvider#layoutBase() layout base}.
     *
     * @throws IllegalArgumentException when the base is not a multiple of 2 MiB or MID would end above 4 GiB
     */
    public static GuestLayout forProvider(HypervisorProvider p) {
        return of(p, p.layoutBase(), p.capabilities());
    }

    /**
     * {@link #forProvider(HypervisorProvider)} for VMs of {@code architecture}, from the provider's
     * {@linkplain HypervisorProvider#layoutBase(Architecture) layout base for it}.
     */
    public static GuestLayout forProvider(HypervisorProvider p, Architecture architecture) {
        return of(p, p.layoutBase(architecture), p.capabilities(architecture));
    }

    private static GuestLayout of(HypervisorProvider p, long base, Set<Capability> capabilities) {
        if (base < 0 || base % (2 * MIB) != 0 || base + 3 * MIB > 4 * GIB) {
            throw new IllegalArgumentException("provider " + p.id() + ": layout base 0x" + Long.toHexString(base)
                    + " must be a multiple of 2 MiB with base + 3 MiB <= 4 GiB");
        }
        List<MemoryRegion> r = new ArrayList<>();
        r.add(new MemoryRegion(base + LOW.gpa(), LOW.size()));
        if (capabilities.contains(Capability.MEMORY_HOLES)) {
            r.add(new MemoryRegion(base + MID.gpa(), MID.size()));
        }
        if (capabilities.contains(Capability.HIGH_MEMORY)) {
            r.add(HIGH);
        }
        return new GuestLayout(base, List.copyOf(r));
    }

    /** The layout base B: 0 unless the provider declares another. */
    public long base() {
        return base;
    }

    /** LOW RAM of this layout: {@code [B, B + 1 MiB)}. */
    public MemoryRegion lowRegion() {
        return new MemoryRegion(base + LOW.gpa(), LOW.size());
    }

    /** The first byte the TCK uses: {@code B + 0x10000} (below it, the provider's). */
    public long providerReservedEnd() {
        return base + PROVIDER_RESERVED;
    }

    /** Structure slot n in this layout's low RAM: {@code B + 0x10000 + n * 0x1000}. */
    public long slot(int n) {
        return base + low(n);
    }

    /** The last 64 bytes of this layout's low RAM. */
    public long lowEdge() {
        return base + LOW_EDGE;
    }

    /** A 64-byte aligned address in this layout's hole (outside RAM only with MEMORY_HOLES declared). */
    public long inHole() {
        return base + IN_HOLE;
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
