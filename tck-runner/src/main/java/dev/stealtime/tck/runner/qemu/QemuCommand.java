package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The QEMU command line for the test guest: q35 with qboot (ready in about 0.6 s under KVM, where
 * SeaBIOS took 7.5-11.7 s on a kvm_pvm host), {@code -accel kvm}, guest RAM as a shared file in the
 * VM's private directory, the guest's serial port on stdio, QMP on a Unix socket beside the RAM file,
 * nothing else (no network, no display, no TCP). RAM the TCK asks for at 4 GiB (HIGH) is a
 * {@code pc-dimm} there, backed by a shared file of its own.
 *
 * @param qemu  the QEMU binary ({@code TCK_QEMU}, else {@code qemu-system-x86_64} on PATH)
 * @param bios  qboot ({@code /usr/share/qemu/qboot.rom}, Debian's qemu-system-data)
 * @param guest the test guest (ELF with a PVH note)
 * @param cpu   the {@code -cpu} model: {@code TCK_QEMU_CPU}, else {@code host,arch-capabilities=off}
 *              (plain {@code host} makes QEMU 7.2 stop at once on a kvm_pvm host: "failed to set MSR 0x10a")
 */
record QemuCommand(Path qemu, Path bios, Path guest, String cpu) {

    /** Guest RAM: the image at 1 MiB, the TCK's windows from 2 MiB, plenty left. */
    static final long RAM_BYTES = 64L << 20;
    static final String DEFAULT_CPU = "host,arch-capabilities=off";

    /** Guest RAM at or above 4 GiB: one {@code pc-dimm} each, in QEMU's device memory (which starts at 4 GiB here). */
    static final long FOUR_GIB = 1L << 32;

    /** The files behind guest RAM: {@code ram} from 0, and {@code dimmN} for each region at or above 4 GiB. */
    List<SharedRam.Backing> backings(Path dir, VmSpec spec) {
        List<SharedRam.Backing> b = new ArrayList<>();
        b.add(new SharedRam.Backing(0, RAM_BYTES, dir.resolve("ram")));
        int n = 0;
        for (MemoryRegion r : spec.ram()) {
            if (r.gpa() >= FOUR_GIB) {
                b.add(new SharedRam.Backing(r.gpa(), r.size(), dir.resolve("dimm" + n++)));
            }
        }
        return b;
    }

    List<String> args(Path dir, VmSpec spec) {
        String cpuModel = cpu;
        if (!spec.stealTimeOffered()) {
            cpuModel += ",kvm-steal-time=off,kvm-pv-enforce-cpuid=on";
        }
        List<SharedRam.Backing> files = backings(dir, spec);
        long mib = RAM_BYTES >> 20;
        long dimmBytes = files.stream().skip(1).mapToLong(SharedRam.Backing::size).sum();
        String memory = files.size() == 1 ? mib + "M"
                : mib + "M,slots=" + (files.size() - 1) + ",maxmem=" + ((RAM_BYTES + dimmBytes + (1 << 20) - 1) >> 20) + "M";
        List<String> args = new ArrayList<>(List.of(qemu.toString(),
                "-M", "q35,memory-backend=ram",
                "-bios", bios.toString(),
                "-accel", "kvm",
                "-cpu", cpuModel,
                "-smp", Integer.toString(spec.vcpus()),
                "-m", memory,
                "-object", "memory-backend-file,id=ram,size=" + mib + "M,mem-path=" + files.get(0).file() + ",share=on"));
        for (int i = 1; i < files.size(); i++) {
            SharedRam.Backing f = files.get(i);
            args.addAll(List.of(
                    "-object", "memory-backend-file,id=dimm" + i + ",size=" + f.size() + ",mem-path=" + f.file() + ",share=on",
                    "-device", "pc-dimm,id=pcdimm" + i + ",memdev=dimm" + i + ",addr=0x" + Long.toHexString(f.gpa())));
        }
        args.addAll(List.of(
                "-display", "none",
                "-nodefaults",
                "-no-user-config",
                "-serial", "stdio",
                "-no-reboot",
                "-qmp", "unix:" + dir.resolve("qmp") + ",server=on,wait=off",
                "-kernel", guest.toString()));
        return args;
    }

    /** Where VM directories go: {@code /dev/shm} (RAM-backed) when writable, else the temp directory. */
    static Path scratchParent() {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }
}
