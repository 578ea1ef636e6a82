package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.HostRequirement;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;
import org.testng.SkipException;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The first kind of host, on any machine: the emulated x86 machine booted where {@code /dev/kvm}
 * does not exist ({@code scripts/without-dev-kvm}: a private mount namespace whose {@code /dev}
 * lacks it). The provider must choose TCG and say why, and real KVM must answer inside. Skipped,
 * with the reason, where a private mount namespace cannot be made (not root).
 */
public class WithoutDevKvmTest {

    @Test
    public void emulatedX86MachineRunsUnderTcgWithoutDevKvm() throws IOException, InterruptedException {
        HostRequirement.requireOrSkip(Guest.X86_64.providerId, "the kvm-x86-emulated provider without /dev/kvm");
        Path script = Path.of(System.getProperty("tck.repo", "..")).resolve("scripts/without-dev-kvm").toAbsolutePath().normalize();
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(script.toString(), java, "-cp", System.getProperty("java.class.path"),
                WithoutDevKvmTest.class.getName()))
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("the run without /dev/kvm did not end within 5 minutes: " + out);
        }
        if (p.exitValue() == 125) {
            throw new SkipException("no private mount namespace here: " + out.strip());
        }
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("dev/kvm present: false")
                .contains("accelerator: tcg (auto: /dev/kvm: No such file or directory)")
                .contains("CPUID 0x40000000: KVMKVMKVM");
    }

    /** Inside the namespace: boot, one VM, real KVM's signature, shut down. */
    public static void main(String[] args) {
        System.out.println("dev/kvm present: " + Files.exists(Path.of("/dev/kvm")));
        EmulatedKvmProvider provider = new EmulatedKvmProvider(Guest.X86_64);
        try {
            provider.prepare();
            Availability a = provider.availability();
            System.out.println("available: " + a.available() + " " + a.reason());
            System.out.println("accelerator: " + provider.machine().get("accelerator"));
            try (Vm vm = provider.open(GuestLayout.forProvider(provider).spec(Guest.X86_64.architecture, 1))) {
                var r = ((X86Vcpu) vm.vcpu(0)).cpuid(0x40000000);
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(12).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                b.putInt(r.ebx()).putInt(r.ecx()).putInt(r.edx());
                System.out.println("CPUID 0x40000000: " + new String(b.array(), StandardCharsets.US_ASCII).replace("\0", ""));
            }
        } finally {
            provider.shutdown();
        }
        System.exit(0);
    }
}
