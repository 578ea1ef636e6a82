package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.GuestMemory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Judging a dirty-page log ({@link GuestMemory#takeDirtyPages()}), shared by both suites: the
 * granules a structure of {@code size} bytes at {@code gpa} lies in, and the two rules — an update
 * marks them dirty, and the hypervisor dirties nothing else of the TCK's RAM on its own account.
 * Granules below {@link GuestLayout#PROVIDER_RESERVED} are the provider's (guest code and stack the
 * guest itself writes) and are not judged.
 */
public final class DirtyLog {

    private final long granule;
    private final long[] structure;

    private DirtyLog(long granule, long[] structure) {
        this.granule = granule;
        this.structure = structure;
    }

    /** The log of {@code memory} as it applies to the structure at {@code gpa}. */
    public static DirtyLog forStructure(GuestMemory memory, long gpa, int size) {
        long g = memory.dirtyLogGranule();
        assertThat(g >= 4096 && Long.bitCount(g) == 1).as("dirtyLogGranule() must be a power of two of at least 4096, was %d", g).isTrue();
        List<Long> s = new ArrayList<>();
        for (long p = gpa & ~(g - 1); p < gpa + size; p += g) {
            s.add(p);
        }
        return new DirtyLog(g, s.stream().mapToLong(Long::longValue).toArray());
    }

    public long granule() {
        return granule;
    }

    private boolean inStructure(long page) {
        return Arrays.stream(structure).anyMatch(p -> p == page);
    }

    private static String hex(long[] pages) {
        return pages.length == 0 ? "none" : Arrays.stream(pages).mapToObj(p -> String.format("0x%x", p)).collect(Collectors.joining(", "));
    }

    /** The dirty set, for the report. */
    public String describe(long[] dirty) {
        return "dirty granules (" + granule + " bytes each): " + hex(dirty);
    }

    /** Every granule of the structure is in {@code dirty}: {@code what} (an update) marked them. */
    public void assertMarked(long[] dirty, String what) {
        for (long p : structure) {
            assertThat(dirty).as("%s wrote the structure in the page at 0x%x, but KVM_GET_DIRTY_LOG does not report that page dirty "
                    + "(a live migration would ship a stale structure); %s", what, p, describe(dirty)).contains(p);
        }
    }

    /** No granule of the TCK's RAM other than the structure's is in {@code dirty}. */
    public void assertOnlyStructure(long[] dirty, String what) {
        long[] stray = Arrays.stream(dirty).filter(p -> p + granule > GuestLayout.PROVIDER_RESERVED && !inStructure(p)).toArray();
        assertThat(stray).as("%s dirtied guest RAM outside the structure's page(s) %s: the hypervisor marked or wrote %s on its own account; %s",
                what, hex(structure), hex(stray), describe(dirty)).isEmpty();
    }
}
