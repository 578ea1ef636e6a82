package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * QEMU's arguments for the test guest (without the binary): q35 with qboot (ready in about 0.6 s
 * under KVM, where SeaBIOS took 7.5-11.7 s on a kvm_pvm host), {@code -accel kvm}, guest RAM as
 * shared files, the guest's serial port on stdio, the monitor as the launcher wires it, nothing else
 * (no network, no display, no TCP). RAM the TCK asks for at 4 GiB (HIGH) is a {@code pc-dimm}
 * there, backed by a shared file of its own.
 *
 * @param bios  qboot: {@code /usr/share/qemu/qboot.rom} (Debian's qemu-system-data) on this host,
 *              {@code qboot.rom} in the emulated machine's {@code -L} directory
 * @param cpu   the {@code -cpu} model: {@code TCK_QEMU_CPU}, else {@code host,arch-capabilities=off}
 *              (plain {@code host} makes QEMU 7.2 stop at once on a kvm_pvm host: "failed to set MSR 0x10a")
 */
record QemuCommand(String bios, String cpu) {

    /** Guest RAM: the image at 1 MiB, the TCK's windows from 2 MiB, plenty left. */
    static final long RAM_BYTES = 64L << 20;
    static final String DEFAULT_CPU = "host,arch-capabilities=off";

    /** Guest RAM at or above 4 GiB: one {@code pc-dimm} each, in QEMU's device memory (which starts at 4 GiB here). */
    static final long FOUR_GIB = 1L << 32;

    /** arm64 {@code virt}: RAM from 1 GiB ({@code VIRT_MEM}), 128 MiB of it. */
    static final long ARM64_RAM_BASE = 0x4000_0000L;
    static final long ARM64_RAM_BYTES = 128L << 20;
    /**
     * arm64: the TCK's windows start 16 MiB into RAM, inside the test guest's free RAM (from the 2 MiB
     * boundary after its image, 0x40400000, to the device tree, which QEMU puts 64 MiB in).
     */
    static final long ARM64_LAYOUT_BASE = ARM64_RAM_BASE + (16L << 20);
    /**
     * arm64 {@code virt}: the PV-time region ({@code VIRT_PVTIME}), vCPU n's structure at
     * {@code + 64 × n} (QEMU {@code kvm_arm_pvtime_init} with the cpu index); QEMU allocates the host
     * pages that {@code max_cpus × 64} bytes need, one page up to 64 vCPUs.
     */
    static final long ARM64_PVTIME = 0x090a_0000L;
    static final long ARM64_PVTIME_BYTES = 0x1000;

    /** The RAM regions of {@code spec} that are {@code pc-dimm}s of their own (at or above 4 GiB), in order. */
    static List<MemoryRegion> dimms(VmSpec spec) {
        return spec.ram().stream().filter(r -> r.gpa() >= FOUR_GIB).toList();
    }

    /**
     * The arguments.
     *
     * @param guest   the test guest, as QEMU names it
     * @param ram     the file behind RAM from 0 ({@link #RAM_BYTES}), then one per {@link #dimms}, as QEMU names them
     * @param monitor the arguments that give QEMU its QMP monitor
     */
    List<String> args(VmSpec spec, String guest, List<String> ram, List<String> monitor) {
        List<MemoryRegion> dimms = dimms(spec);
        if (ram.size() != dimms.size() + 1) {
            throw new IllegalArgumentException("expected " + (dimms.size() + 1) + " RAM files, got " + ram);
        }
        String cpuModel = cpu;
        if (!spec.stealTimeOffered()) {
            cpuModel += ",kvm-steal-time=off,kvm-pv-enforce-cpuid=on";
        }
        long mib = RAM_BYTES >> 20;
        long dimmBytes = dimms.stream().mapToLong(MemoryRegion::size).sum();
        String memory = dimms.isEmpty() ? mib + "M"
                : mib + "M,slots=" + dimms.size() + ",maxmem=" + ((RAM_BYTES + dimmBytes + (1 << 20) - 1) >> 20) + "M";
        List<String> args = new ArrayList<>(List.of(
                "-M", "q35,memory-backend=ram",
                "-bios", bios,
                "-accel", "kvm",
                "-cpu", cpuModel,
                "-smp", spec.vcpus() + ",maxcpus=" + (spec.vcpus() + 1),     // room for one hot-plugged vCPU
                "-m", memory,
                "-object", "memory-backend-file,id=ram,size=" + mib + "M,mem-path=" + ram.get(0) + ",share=on"));
        for (int i = 0; i < dimms.size(); i++) {
            MemoryRegion r = dimms.get(i);
            args.addAll(List.of(
                    "-object", "memory-backend-file,id=dimm" + i + ",size=" + r.size() + ",mem-path=" + ram.get(i + 1) + ",share=on",
                    "-device", "pc-dimm,id=pcdimm" + i + ",memdev=dimm" + i + ",addr=0x" + Long.toHexString(r.gpa())));
        }
        return withGuest(args, guest, monitor);
    }

    /** {@code args}, then what every test guest's QEMU has: no devices of QEMU's choosing, the serial port on stdio, the guest, the monitor. */
    private static List<String> withGuest(List<String> args, String guest, List<String> monitor) {
        args.addAll(List.of(
                "-display", "none",
                "-nodefaults",
                "-no-user-config",
                "-serial", "stdio",
                "-no-reboot",
                "-kernel", guest));
        args.addAll(monitor);
        return args;
    }

    /**
     * arm64: QEMU {@code virt} with GICv3 (the test guest's timer wakes WFI through it), the host's
     * CPU, {@link #ARM64_RAM_BYTES} of anonymous RAM; the TCK sees its window and the PV-time region
     * through {@code native/qemu/share.c}, not through a memory backend (the guest runs from RAM, and
     * a shared file inside the emulated machine is Device memory to KVM/arm64: not executable).
     * Without steal time offered: {@code kvm-steal-time=off}.
     */
    List<String> arm64Args(VmSpec spec, String guest, List<String> monitor) {
        return withGuest(new ArrayList<>(List.of(
                "-M", "virt,gic-version=3",
                "-accel", "kvm",
                "-cpu", spec.stealTimeOffered() ? "host" : "host,kvm-steal-time=off",
                "-smp", Integer.toString(spec.vcpus()),
                "-m", (ARM64_RAM_BYTES >> 20) + "M")), guest, monitor);
    }

    /** Where VM directories go: {@code /dev/shm} (RAM-backed) when writable, else the temp directory. */
    static Path scratchParent() {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }
}
