package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** close() gives everything back: vCPU fds, VM fd, /dev/kvm, mappings, threads. */
public class KvmLifecycleTest extends KvmTestSupport {

    @Test
    public void fiftyOpenCloseCyclesLeakNoFdsMappingsOrThreads() throws IOException {
        cycle(); // load JNA, classes, the JIT's first compilations
        long fds = count(Path.of("/proc/self/fd"));
        assertThat(kvmFds()).as("fds on /dev/kvm, VMs, vCPUs with no VM open").isZero();
        int maps = Files.readAllLines(Path.of("/proc/self/maps")).size();
        for (int i = 0; i < 50; i++) {
            cycle();
        }
        assertThat(kvmFds()).as("fds on /dev/kvm, VMs, vCPUs after closing every VM").isZero();
        // each leaked VM would keep 4 fds (/dev/kvm, VM, 2 vCPUs): 200 over 50 cycles; the JVM may open a jar meanwhile
        assertThat(count(Path.of("/proc/self/fd"))).as("open fds").isLessThanOrEqualTo(fds + 5);
        // each leaked VM would keep 3 RAM mappings + 2 kvm_run mappings: 250 over 50 cycles
        assertThat(Files.readAllLines(Path.of("/proc/self/maps")).size()).as("mappings").isLessThan(maps + 25);
        assertThat(Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                .filter(n -> n.startsWith("kvm-"))).as("kvm threads").isEmpty();
    }

    private void cycle() throws IOException {
        try (Vm v = provider.open(spec(2, true))) {
            assertThat(kvmFds()).as("fds while the VM is open: /dev/kvm, VM, 2 vCPUs").isEqualTo(4);
            X86Vcpu x = (X86Vcpu) v.vcpu(1);
            assertThat(x.guestWrmsr(MSR, GPA | 1).faulted()).isFalse();
            x.run(Duration.ofMillis(1));
            x.idle(Duration.ZERO);
        }
    }

    @Test
    public void closeIsIdempotentAndAClosedVcpuRefusesWork() {
        X86Vcpu v = open(1, true);
        vm.close();
        vm.close();
        assertThatThrownBy(() -> v.run(Duration.ofMillis(1))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> v.guestRdmsr(MSR)).isInstanceOf(IllegalStateException.class);
        vm = null;
    }

    /** Fds whose target is /dev/kvm or a KVM anon inode ("anon_inode:kvm-vm", "anon_inode:kvm-vcpu:0"). */
    private static long kvmFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.map(KvmLifecycleTest::target).filter(t -> t.contains("kvm")).count();
        }
    }

    private static String target(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
            return ""; // closed meanwhile (e.g. the directory stream's own fd)
        }
    }

    private static long count(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }
}
