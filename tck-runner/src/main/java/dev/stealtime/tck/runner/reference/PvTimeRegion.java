package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.DeviceTreeRange;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * The reference acting as a whole VMM ({@link VmSpec#vmmPlaced()}), arm64: where it puts the
 * vCPUs' structures and the device tree it gives the guest. As QEMU {@code virt} does: a 64 KiB
 * region of its own at {@code 0x090a0000} ({@link #BASE}), outside guest RAM and described by no node, one structure
 * per vCPU at {@code base + 64 × index}; the tree has a memory node per RAM region of the spec and a
 * PL011 at {@code 0x09000000}. The self-tests subclass it to move the region (to a page-aligned base)
 * or the structures.
 */
public class PvTimeRegion {

    public static final long BASE = 0x090a_0000L;
    public static final long SIZE = 0x1_0000L;
    public static final long UART = 0x0900_0000L;
    public static final long UART_SIZE = 0x1000L;

    protected final VmSpec spec;

    public PvTimeRegion(VmSpec spec) {
        this.spec = spec;
    }

    /** The region's first address. */
    public long base() {
        return BASE;
    }

    /** vCPU {@code index}'s structure. */
    public long ipa(int index) {
        return base() + (long) StolenTime.SIZE * index;
    }

    /** The memory the VMM adds to the guest's for the region (base page-aligned): none when the region lies in RAM already. */
    public List<MemoryRegion> memory() {
        return spec.inRam(base(), SIZE) ? List.of() : List.of(new MemoryRegion(base(), SIZE));
    }

    /** What the guest is told: its RAM (memory nodes) and its devices. */
    public List<DeviceTreeRange> deviceTree() {
        List<DeviceTreeRange> tree = new ArrayList<>();
        for (MemoryRegion r : spec.ram()) {
            tree.add(new DeviceTreeRange(DeviceTreeRange.Kind.MEMORY, String.format("/memory@%x", r.gpa()), r.gpa(), r.size()));
        }
        tree.add(new DeviceTreeRange(DeviceTreeRange.Kind.DEVICE, String.format("/pl011@%x", UART), UART, UART_SIZE));
        return tree;
    }
}
