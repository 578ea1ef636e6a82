package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.spi.Architecture;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The two emulated machines: what differs between them is data (the emulator and its machine,
 * the console, the Debian architecture, the host packages), never code. Everything else — the C
 * adapter's common part, the image preparation, booting, the protocol channel, the summary — is
 * shared by {@link EmulatedKvmProvider}.
 */
enum Guest {

    ARM64("kvm-arm64", Architecture.ARM64, "arm64", "qemu-system-aarch64",
            List.of("-M", "virt,virtualization=on,gic-version=3"),
            "max,pauth-impdef=on", "ttyAMA0", "virtio-serial-device", false,
            List.of(new HostTools.Need("qemu-system-aarch64", "qemu-system-arm", List.of(Path.of("qemu-system-aarch64"))),
                    new HostTools.Need("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu", List.of(Path.of("aarch64-linux-gnu-gcc"))),
                    new HostTools.Need("arm64 <linux/kvm.h>", "linux-libc-dev-arm64-cross",
                            List.of(Path.of("/usr/aarch64-linux-gnu/include/linux/kvm.h"))),
                    new HostTools.Need("arm64 static C library", "libc6-dev-arm64-cross",
                            List.of(Path.of("/usr/aarch64-linux-gnu/lib/libc.a"))))),

    X86_64("kvm-x86-emulated", Architecture.X86_64, "x86_64", "qemu-system-x86_64",
            List.of("-M", "q35"),
            "max", "ttyS0", "virtio-serial-pci", true,
            List.of(new HostTools.Need("qemu-system-x86_64", "qemu-system-x86", List.of(Path.of("qemu-system-x86_64"))),
                    new HostTools.Need("gcc", "gcc", List.of(Path.of("gcc"))),
                    new HostTools.Need("<linux/kvm.h>", "linux-libc-dev", List.of(Path.of("/usr/include/linux/kvm.h"))),
                    new HostTools.Need("static C library", "libc6-dev",
                            List.of(Path.of("/usr/lib/x86_64-linux-gnu/libc.a")))));

    /** The provider id (also the cache directory's name). */
    final String providerId;
    final Architecture architecture;
    /** prepare.sh's architecture argument, the adapter's arch-ARCH-* sources. */
    final String arch;
    final String qemu;
    final List<String> machine;
    /** The CPU model under TCG. */
    final String tcgCpu;
    final String console;
    final String virtioSerial;
    /** Whether KVM comes as modules the machine loads (x86), so {@code --kvm-modules} applies. */
    final boolean kvmModules;
    private final List<HostTools.Need> needs;

    Guest(String providerId, Architecture architecture, String arch, String qemu, List<String> machine, String tcgCpu,
          String console, String virtioSerial, boolean kvmModules, List<HostTools.Need> needs) {
        this.providerId = providerId;
        this.architecture = architecture;
        this.arch = arch;
        this.qemu = qemu;
        this.machine = machine;
        this.tcgCpu = tcgCpu;
        this.console = console;
        this.virtioSerial = virtioSerial;
        this.kvmModules = kvmModules;
        List<HostTools.Need> all = new ArrayList<>(needs);
        all.addAll(HostTools.COMMON);
        this.needs = List.copyOf(all);
    }

    List<HostTools.Need> needs() {
        return needs;
    }

    /**
     * How QEMU runs this guest's CPU here: with the host's {@code /dev/kvm} (nested virtualisation:
     * the guest's own KVM runs on the host's) when the host is of the same architecture and its
     * {@code /dev/kvm} opens, else emulated (TCG, which offers the virtualisation extensions itself).
     */
    Accelerator accelerator() {
        boolean sameArch = switch (this) {
            case ARM64 -> System.getProperty("os.arch").equals("aarch64");
            case X86_64 -> System.getProperty("os.arch").equals("amd64");
        };
        Path kvm = Path.of("/dev/kvm");
        if (sameArch && Files.isReadable(kvm) && Files.isWritable(kvm)) {
            return new Accelerator("kvm", "host", "kvm (the host's /dev/kvm, nested virtualisation)");
        }
        return new Accelerator("tcg", tcgCpu, "tcg (emulated CPU: the host has no usable /dev/kvm for " + architecture + ")");
    }

    /** {@code -accel NAME -cpu CPU}, and how the summary says it. */
    record Accelerator(String name, String cpu, String description) {
    }
}
