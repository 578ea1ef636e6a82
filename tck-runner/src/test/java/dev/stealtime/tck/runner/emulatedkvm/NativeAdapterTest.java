package dev.stealtime.tck.runner.emulatedkvm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.HostRequirement;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The C adapter's common part and its x86 half, built for this host (x86-64) exactly as prepare.sh
 * builds it for the emulated machine (the common files plus arch-x86_64-*, -Wall -Wextra -Werror),
 * and spoken to over stdio: the handshake names kvm-x86-emulated with its capabilities and says
 * whether /dev/kvm is usable here; the protocol's errors come back as the codes the SPI maps
 * (unknown method, the other architecture's calls, bad params, an open while KVM is unavailable).
 * Needs the host's C compiler and an x86-64 host (skipped, saying so, elsewhere).
 */
public class NativeAdapterTest {

    private static final Path SOURCES = Path.of("src/main/native/kvm");
    private static final ObjectMapper JSON = new ObjectMapper();

    private Path dir;
    private Process adapter;
    private OutputStream in;
    private BufferedReader out;
    private int id;

    @BeforeClass
    public void build() throws Exception {
        HostRequirement.requireOrSkip("test", "the C adapter built for this host", "gcc", "libc6-dev");
        if (!System.getProperty("os.arch").equals("amd64")) {
            throw new org.testng.SkipException("the C adapter's x86 half needs an x86-64 host, this is " + System.getProperty("os.arch"));
        }
        dir = Files.createTempDirectory("tck-native-adapter-");
        List<String> cmd = gccX86Adapter(dir.resolve("tck-kvm"));
        Process cc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(cc.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(cc.exitValue()).as("gcc: %s", log).isZero();
        adapter = new ProcessBuilder(dir.resolve("tck-kvm").toString(), "--stdio")
                .redirectError(dir.resolve("stderr.log").toFile()).start();
        in = adapter.getOutputStream();
        out = new BufferedReader(new InputStreamReader(adapter.getInputStream(), StandardCharsets.UTF_8));
    }

    /** The C adapter's own build script building its x86-64 half into {@code out}, with {@code flags}. */
    static List<String> gccX86Adapter(Path out, String... flags) {
        List<String> cmd = new ArrayList<>(List.of("bash", SOURCES.resolve("build-adapter.sh").toString(), "x86_64",
                SOURCES.toString(), out.toString()));
        cmd.addAll(List.of(flags));
        return cmd;
    }

    @AfterClass(alwaysRun = true)
    public void stop() throws Exception {
        if (adapter != null) {
            adapter.destroy();
            adapter.waitFor(10, TimeUnit.SECONDS);
        }
        if (dir != null) {
            EmulatedMachine.deleteTree(dir);
        }
    }

    private JsonNode call(String method, String params) throws IOException {
        in.write(("{\"jsonrpc\":\"2.0\",\"id\":" + (++id) + ",\"method\":\"" + method + "\",\"params\":" + params + "}\n")
                .getBytes(StandardCharsets.UTF_8));
        in.flush();
        JsonNode r = JSON.readTree(out.readLine());
        assertThat(r.get("id").asInt()).as("response id to %s", method).isEqualTo(id);
        return r;
    }

    @Test
    public void theHandshakeNamesTheX86ProviderAndWhetherKvmIsUsableHere() throws Exception {
        JsonNode h = call("hello", "{\"protocol\":1}").get("result");
        assertThat(h.at("/provider/id").asText()).isEqualTo("kvm-x86-emulated");
        assertThat(h.get("architectures").toString()).isEqualTo("[\"X86_64\"]");
        assertThat(h.get("memory").asText()).isEqualTo("sampled");
        assertThat(h.at("/timing/tolerance_ns").asLong()).isEqualTo(EmulatedKvmProvider.TOLERANCE.toNanos());
        boolean kvmHere = Files.isReadable(Path.of("/dev/kvm")) && Files.isWritable(Path.of("/dev/kvm"));
        assertThat(h.at("/availability/available").asBoolean()).as("available, where /dev/kvm is %s", kvmHere).isEqualTo(kvmHere);
        if (!kvmHere) {
            assertThat(h.at("/availability/reason").asText()).contains("/dev/kvm");
        }
    }

    /**
     * Guest RAM is a file in the TCK's shared directory (protocol §5) when the adapter can reach that
     * directory, as on the host's {@code /dev/kvm}; sampled (§6) when it cannot, as inside an emulated
     * machine, where the path names a directory of the host. Where KVM is usable here, the RAM file is
     * made 0600 inside the directory, holds the regions at the offsets named, and goes with {@code close}.
     */
    @Test(dependsOnMethods = "theHandshakeNamesTheX86ProviderAndWhetherKvmIsUsableHere")
    public void guestRamIsSharedThroughAFileWhenTheSharedDirectoryIsReachable() throws Exception {
        Path shared = Files.createDirectory(dir.resolve("shared"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        assertThat(call("hello", "{\"protocol\":1,\"shared_dir\":\"" + dir.resolve("elsewhere") + "/\"}").at("/result/memory").asText())
                .as("memory, with a shared directory this adapter cannot see").isEqualTo("sampled");
        assertThat(call("hello", "{\"protocol\":1,\"shared_dir\":\"" + shared + "/\"}").at("/result/memory").asText())
                .as("memory, with the shared directory %s reachable", shared).isEqualTo("shared");
        if (!Files.isWritable(Path.of("/dev/kvm"))) {
            return;     // the RAM file is made by open, which needs KVM (the driver comparison runs it on a real /dev/kvm)
        }
        JsonNode open = call("open", "{\"architecture\":\"X86_64\",\"vcpus\":1,\"ram\":[{\"gpa\":0,\"size\":1048576},"
                + "{\"gpa\":4294967296,\"size\":65536}],\"steal_time_offered\":true}").get("result");
        Path file = Path.of(open.get("ram_file").asText());
        assertThat(file.getParent()).isEqualTo(shared);
        assertThat(Files.size(file)).isEqualTo(1048576 + 65536);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(open.get("regions").toString())
                .isEqualTo("[{\"gpa\":0,\"size\":1048576,\"offset\":0},{\"gpa\":4294967296,\"size\":65536,\"offset\":1048576}]");
        call("close", "{\"vm\":" + open.get("vm").asLong() + "}");
        assertThat(file).as("the RAM file after close").doesNotExist();
    }

    @Test(dependsOnMethods = "guestRamIsSharedThroughAFileWhenTheSharedDirectoryIsReachable")
    public void errorsComeBackAsTheCodesTheSpiMaps() throws Exception {
        assertThat(call("no.such", "{}").at("/error/code").asInt()).isEqualTo(-32601);
        JsonNode foreign = call("arm64.smccc", "{\"vm\":1,\"vcpu\":0,\"function_id\":0}").get("error");
        assertThat(foreign.get("code").asInt()).as("the other architecture's call").isEqualTo(1);
        assertThat(foreign.get("message").asText()).contains("kvm-x86-emulated has no arm64 vCPUs");
        assertThat(call("x86.cpuid", "{\"vm\":\"one\",\"vcpu\":0,\"leaf\":0}").at("/error/code").asInt()).isEqualTo(-32602);
        JsonNode open = call("open", "{\"architecture\":\"ARM64\",\"vcpus\":1,\"ram\":[{\"gpa\":0,\"size\":1048576}],\"steal_time_offered\":true}");
        assertThat(open.at("/error/code").asInt()).as("an ARM64 VM from the x86 adapter").isEqualTo(1);
        if (!Files.exists(Path.of("/dev/kvm"))) {
            JsonNode x86 = call("open", "{\"architecture\":\"X86_64\",\"vcpus\":1,\"ram\":[{\"gpa\":0,\"size\":1048576}],\"steal_time_offered\":true}");
            assertThat(x86.at("/error/code").asInt()).as("open while KVM is unavailable: refused in this state").isEqualTo(3);
        }
        assertThat(call("bye", "{}").get("result")).isNotNull();
    }
}
