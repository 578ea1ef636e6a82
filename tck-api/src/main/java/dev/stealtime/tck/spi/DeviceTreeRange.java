package dev.stealtime.tck.spi;

/**
 * One address range of the device tree a VMM gave its arm64 guest, as the guest reads it
 * ({@link Arm64Vcpu#deviceTree()}): a {@code reg} entry of a node, or a window the guest allocates
 * device addresses from.
 *
 * @param kind what the range is
 * @param node the node's path ({@code /memory@40000000}, {@code /pl011@9000000}), or
 *             {@code /memreserve} for an entry of the blob's memory reservation block
 * @param base the first guest-physical address
 * @param size its length in bytes
 */
public record DeviceTreeRange(Kind kind, String node, long base, long size) {

    /** What a range is to the guest. */
    public enum Kind {
        /** A {@code reg} entry of a node whose {@code device_type} is {@code "memory"}: RAM the guest may use as it likes. */
        MEMORY,
        /** A child of {@code /reserved-memory}, or an entry of the memory reservation block: memory the guest must leave alone. */
        RESERVED,
        /** A {@code reg} entry of any other node: a device's registers (or its memory, such as flash). */
        DEVICE,
        /** A PCI host bridge's {@code ranges} entry: addresses the guest assigns to BARs. */
        WINDOW
    }

    /** Whether {@code [gpa, gpa + len)} shares a byte with this range. */
    public boolean overlaps(long gpa, long len) {
        return Long.compareUnsigned(gpa, base + size) < 0 && Long.compareUnsigned(base, gpa + len) < 0;
    }

    /** Whether {@code [gpa, gpa + len)} lies wholly inside this range. */
    public boolean contains(long gpa, long len) {
        return Long.compareUnsigned(gpa, base) >= 0 && Long.compareUnsigned(gpa + len, base + size) <= 0;
    }

    @Override
    public String toString() {
        return String.format("%s %s [0x%x, 0x%x)", kind.name().toLowerCase(java.util.Locale.ROOT), node, base, base + size);
    }
}
