package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * close() gives everything back, in the adapter process that holds it: VM and vCPU fds, RAM
 * mappings and RAM files, vCPU threads.
 */
public class KvmLifecycleTest extends KvmTestSupport {

    @Test
    public void fiftyOpenCloseCyclesLeakNoFdsMappingsFilesOrThreads() throws IOException {
        cycle(); // build or find the adapter, start it, load classes, the JIT's first compilations
        long pid = adapterPid();
        Path proc = Path.of("/proc/" + pid);
        long kvm = kvmFds(proc);
        assertThat(kvm).as("fds on /dev/kvm, VMs, vCPUs in the adapter with no VM open: /dev/kvm itself").isEqualTo(1);
        long fds = count(proc.resolve("fd"));
        long threads = count(proc.resolve("task"));
        int maps = Files.readAllLines(proc.resolve("maps")).size();
        Path shared = sharedDir(proc);
        for (int i = 0; i < 50; i++) {
            cycle();
        }
        assertThat(adapterPid()).as("the adapter process (one session throughout)").isEqualTo(pid);
        assertThat(kvmFds(proc)).as("fds on /dev/kvm, VMs, vCPUs after closing every VM").isEqualTo(kvm);
        // each leaked VM would keep 3 fds (VM, 2 vCPUs): 150 over 50 cycles
        assertThat(count(proc.resolve("fd"))).as("the adapter's open fds").isLessThanOrEqualTo(fds + 2);
        // each leaked VM would keep 3 RAM mappings + 2 kvm_run mappings: 250 over 50 cycles
        assertThat(Files.readAllLines(proc.resolve("maps")).size()).as("the adapter's mappings").isLessThan(maps + 25);
        assertThat(count(proc.resolve("task"))).as("the adapter's threads (each leaked vCPU keeps one)").isLessThanOrEqualTo(threads);
        try (Stream<Path> s = Files.list(shared)) {
            assertThat(s.map(p -> p.getFileName().toString())).as("RAM files left in %s", shared).isEmpty();
        }
    }

    private void cycle() {
        try (Vm v = provider.open(spec(2, true))) {
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
        assertThatThrownBy(() -> v.run(Duration.ofMillis(1))).isInstanceOf(RuntimeException.class);
        assertThatThrownBy(() -> v.guestRdmsr(MSR)).isInstanceOf(RuntimeException.class);
        vm = null;
    }

    /** The running adapter: this JVM's child process tck-kvm-HASH. */
    private static long adapterPid() {
        return ProcessHandle.current().children()
                .filter(p -> p.info().command().orElse("").contains("tck-kvm"))
                .findFirst().orElseThrow(() -> new AssertionError("no tck-kvm adapter process under this JVM")).pid();
    }

    /** The session's shared directory, as the TCK told the adapter (its environment's TCK_SHARED_DIR). */
    private static Path sharedDir(Path proc) throws IOException {
        for (String e : new String(Files.readAllBytes(proc.resolve("environ")), StandardCharsets.UTF_8).split("\0")) {
            if (e.startsWith("TCK_SHARED_DIR=")) {
                return Path.of(e.substring("TCK_SHARED_DIR=".length()));
            }
        }
        throw new AssertionError("the adapter has no TCK_SHARED_DIR");
    }

    /** Fds whose target is /dev/kvm or a KVM anon inode ("anon_inode:kvm-vm", "anon_inode:kvm-vcpu:0"). */
    private static long kvmFds(Path proc) throws IOException {
        try (Stream<Path> s = Files.list(proc.resolve("fd"))) {
            return s.map(KvmLifecycleTest::target).filter(t -> t.contains("kvm")).count();
        }
    }

    private static String target(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
            return ""; // closed meanwhile
        }
    }

    private static long count(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }
}
