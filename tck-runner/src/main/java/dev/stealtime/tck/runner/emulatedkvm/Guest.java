package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.host.HostKvm;
import dev.stealtime.tck.spi.Architecture;

import java.util.List;

/**
 * The two emulated machines: what differs between them is data (the emulator and its machine,
 * the console, the Debian architecture), never code; its host packages are the group named by its
 * provider id in {@code host-packages.txt}. Everything else — the C
 * adapter's common part, the image preparation, booting, the protocol channel, the summary — is
 * shared by {@link EmulatedKvmProvider}.
 */
public enum Guest {

    ARM64("kvm-arm64", Architecture.ARM64, "arm64", "qemu-system-aarch64",
            List.of("-M", "virt,virtualization=on,gic-version=3"),
            "max,pauth-impdef=on", "console=ttyAMA0", "virtio-serial-device", false),

    X86_64("kvm-x86-emulated", Architecture.X86_64, "x86_64", "qemu-system-x86_64",
            List.of("-M", "q35"),
            "max", "console=ttyS0 no_timer_check", "virtio-serial-pci", true);

    /** The provider id (also the cache directory's name). */
    final String providerId;
    public final Architecture architecture;
    /** prepare.sh's architecture argument, the adapter's arch-ARCH-* sources. */
    public final String arch;
    final String qemu;
    final List<String> machine;
    /** The CPU model under TCG. */
    final String tcgCpu;
    /**
     * The kernel's console, and what else this machine's kernel needs on its command line. x86:
     * {@code no_timer_check}, since under TCG on a busy host the kernel's check that the 8254 timer
     * reaches the IO-APIC can miss its ticks and panic ("IO-APIC + timer doesn't work!": seen in the
     * self-test that replaces a dead machine, at load 12); virtual machines skip that check.
     */
    final String bootArgs;
    final String virtioSerial;
    /** Whether KVM comes as modules the machine loads (x86), so {@code --kvm-modules} applies. */
    final boolean kvmModules;

    Guest(String providerId, Architecture architecture, String arch, String qemu, List<String> machine, String tcgCpu,
          String bootArgs, String virtioSerial, boolean kvmModules) {
        this.providerId = providerId;
        this.architecture = architecture;
        this.arch = arch;
        this.qemu = qemu;
        this.machine = machine;
        this.tcgCpu = tcgCpu;
        this.bootArgs = bootArgs;
        this.virtioSerial = virtioSerial;
        this.kvmModules = kvmModules;
    }

    /** The host architecture (as the kernel names it) whose KVM could run this guest's CPU directly. */
    String hostArch() {
        return this == ARM64 ? "aarch64" : "x86_64";
    }

    /** {@link #accelerator(HostKvm, String)} for this machine, as {@code tck.accel} asks (property, environment). */
    public Accelerator accelerator() {
        return accelerator(HostKvm.probe(), dev.stealtime.tck.support.TckConfig.fromEnvironment().accel());
    }

    /**
     * How QEMU runs this guest's CPU on {@code host}, as {@code mode} ({@code tck.accel}) asks.
     * {@code auto}: the host's KVM ({@code -accel kvm -cpu host}) only when the host is of this
     * guest's architecture and its KVM can nest ({@link HostKvm#whyNoNesting()}), since the guest
     * runs KVM itself; else TCG, whose emulated CPU offers the virtualisation extensions. A QEMU
     * that then fails to start with KVM is retried once with TCG ({@link Accelerator#fallBack}).
     * {@code kvm} and {@code tcg} force one, without fallback.
     *
     * @throws IllegalArgumentException when {@code kvm} is forced on a host that cannot run it
     */
    Accelerator accelerator(HostKvm host, String mode) {
        Accelerator tcg = new Accelerator("tcg", tcgCpu, false, null);
        String hostNote = "host KVM " + host.describe();
        if (mode.equals("tcg")) {
            return tcg.because("tck.accel=tcg");
        }
        String whyNot = !host.arch().equals(hostArch())
                ? "the host is " + host.arch() + ", the emulated machine " + hostArch()
                : host.whyNoNesting().orElse(null);
        if (mode.equals("kvm")) {
            if (whyNot != null) {
                throw new IllegalArgumentException("tck.accel=kvm is impossible for " + providerId + " here: " + whyNot
                        + "; use --accel auto or tcg");
            }
            return new Accelerator("kvm", "host", false, "tck.accel=kvm; " + hostNote);
        }
        if (whyNot != null) {
            return tcg.because("auto: " + whyNot);
        }
        return new Accelerator("kvm", "host", true, "auto: " + hostNote + " can nest");
    }

    /**
     * {@code -accel NAME -cpu CPU}, and why it was chosen.
     *
     * @param fallsBack whether a QEMU that fails to start with it is retried once with TCG
     * @param why       why this accelerator (for the summary)
     */
    public record Accelerator(String name, String cpu, boolean fallsBack, String why) {

        Accelerator because(String reason) {
            return new Accelerator(name, cpu, fallsBack, reason);
        }

        /** TCG for {@code guest} after a QEMU with this accelerator failed to start, saying so. */
        public Accelerator fallBack(Guest guest, String failure) {
            return new Accelerator("tcg", guest.tcgCpu, false, "QEMU with -accel " + name + " failed (" + failure + "); retried with TCG");
        }

        /** How the summary says it: {@code tcg (auto: the host's KVM is kvm_pvm ...)}. */
        public String description() {
            return name + " (" + why + ")";
        }
    }
}
