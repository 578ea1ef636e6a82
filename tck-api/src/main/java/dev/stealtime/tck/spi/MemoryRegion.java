package dev.stealtime.tck.spi;

/**
 * One contiguous range of guest RAM. KVM: one {@code KVM_SET_USER_MEMORY_REGION} slot.
 *
 * @param gpa  first guest-physical address, page aligned (4 KiB)
 * @param size length in bytes, a multiple of 4 KiB
 */
public record MemoryRegion(long gpa, long size) {
    public static final long PAGE = 4096;

    public MemoryRegion {
        if (size <= 0 || size % PAGE != 0) {
            throw new IllegalArgumentException("region size must be a positive multiple of 4 KiB: " + size);
        }
        if (gpa < 0 || gpa % PAGE != 0) {
            throw new IllegalArgumentException("region gpa must be 4 KiB aligned: 0x" + Long.toHexString(gpa));
        }
    }

    /** One past the last byte. */
    public long end() {
        return gpa + size;
    }

    /** True when {@code [address, address + length)} lies wholly inside this region. */
    public boolean contains(long address, long length) {
        return address >= gpa && length >= 0 && address + length <= end() && address + length >= address;
    }

    @Override
    public String toString() {
        return String.format("[0x%x, 0x%x)", gpa, end());
    }
}
