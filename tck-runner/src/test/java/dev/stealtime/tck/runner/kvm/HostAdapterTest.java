package dev.stealtime.tck.runner.kvm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.HostRequirement;
import dev.stealtime.tck.runner.host.PrivateFiles;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;
import org.testng.SkipException;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The kvm provider's adapter, built for this host (runs on any x86-64 machine with gcc; /dev/kvm is
 * not needed to build it or to shake hands with it), and the provider's answers where this host
 * has no /dev/kvm.
 */
public class HostAdapterTest {

    private Path cache;

    @BeforeClass
    public void cache() throws Exception {
        cache = PrivateFiles.tempDir("tck-kvm-host-");
    }

    @AfterClass(alwaysRun = true)
    public void remove() {
        PrivateFiles.deleteTree(cache);
    }

    @Test
    public void theAdapterIsBuiltOnceAndIsTheKvmProvider() throws Exception {
        HostRequirement.requireOrSkip("kvm", "the C adapter built for this host", "gcc", "libc6-dev");
        if (!System.getProperty("os.arch").equals("amd64")) {
            throw new SkipException("the kvm provider's adapter is the x86-64 half; this host is " + System.getProperty("os.arch"));
        }
        Path built = HostAdapter.build(cache, KvmProvider.FLAGS);
        assertThat(built).isExecutable().hasParent(cache);
        assertThat(built.getFileName().toString()).matches("tck-kvm-[0-9a-f]{16}");
        FileTime first = Files.getLastModifiedTime(built);
        assertThat(HostAdapter.build(cache, KvmProvider.FLAGS)).as("the second build: the cached adapter").isEqualTo(built);
        assertThat(Files.getLastModifiedTime(built)).isEqualTo(first);
        assertThat(HostAdapter.build(cache, List.of("-DTOLERANCE_NS=1ull"))).as("other flags, another adapter").isNotEqualTo(built);
        try (var s = Files.list(cache)) {
            assertThat(s.map(p -> p.getFileName().toString())).as("the cache after three builds: no source copies left")
                    .allMatch(n -> n.startsWith("tck-kvm-")).hasSize(2);
        }

        Path shared = PrivateFiles.tempDir("tck-kvm-shared-");
        Process p = new ProcessBuilder(built.toString(), "--stdio").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            OutputStream in = p.getOutputStream();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            in.write(("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hello\",\"params\":{\"protocol\":1,\"shared_dir\":\"" + shared + "/\"}}\n")
                    .getBytes(StandardCharsets.UTF_8));
            in.flush();
            JsonNode h = new ObjectMapper().readTree(out.readLine()).get("result");
            assertThat(h.at("/provider/id").asText()).isEqualTo("kvm");
            assertThat(h.at("/timing/tolerance_ns").asLong()).isEqualTo(KvmProvider.TOLERANCE.toNanos());
            assertThat(h.get("memory").asText()).as("guest RAM, with the shared directory reachable").isEqualTo("shared");
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
            PrivateFiles.deleteTree(shared);
        }
    }

    @Test
    public void withoutDevKvmTheProviderIsUnavailableAndSaysWhyWithoutBuilding() {
        if (Files.exists(Path.of(KvmProvider.DEVICE))) {
            throw new SkipException(KvmProvider.DEVICE + " exists here: KvmProviderTest and the other kvm tests drive it");
        }
        KvmProvider provider = new KvmProvider();
        Availability a = provider.availability();
        assertThat(a.available()).isFalse();
        assertThat(a.reason()).isEqualTo("/dev/kvm: No such file or directory");
        assertThat(provider.version()).endsWith("(KVM unavailable: /dev/kvm: No such file or directory)");
        VmSpec spec = new VmSpec(Architecture.X86_64, 1, List.of(new MemoryRegion(0, 1 << 20)), true);
        assertThatThrownBy(() -> provider.open(spec)).isInstanceOf(IllegalStateException.class)
                .hasMessage("kvm provider unavailable: /dev/kvm: No such file or directory");
    }
}
