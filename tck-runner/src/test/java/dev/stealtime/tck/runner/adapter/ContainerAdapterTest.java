package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.runner.HostRequirement;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.RuleResult;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.run.ProgressListener;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import dev.stealtime.tck.spi.HypervisorProvider;
import org.testcontainers.DockerClientFactory;
import org.testng.annotations.Test;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The container integration test: builds an adapter image FROM scratch (scripts/build-adapter-image
 * with this JVM's classpath) serving the reference, runs both suites through
 * {@code container:} and asserts the same per-rule outcomes as in-process; the container is gone
 * afterwards and so is its directory. Needs a Docker engine: without one it is skipped, saying so
 * (.ci/run starts one).
 */
public class ContainerAdapterTest {

    static final String IMAGE = "tck-adapter-selftest:latest";

    /** scripts/build-adapter-image, from the module's directory (surefire) or the root (exec:java). */
    static Path buildScript() {
        Path here = Path.of("scripts/build-adapter-image").toAbsolutePath();
        return Files.exists(here) ? here : Path.of("..").toAbsolutePath().normalize().resolve("scripts/build-adapter-image");
    }

    @Test
    public void theReferenceInAContainerGivesTheSameOutcomesAsInProcess() throws Exception {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            docker = false;
        }
        if (!docker) {
            HostRequirement.unavailable("test", "the container adapter",
                    "no Docker engine answers on this machine (package docker.io; .ci/run installs and starts one)");
        }
        String cp = System.getProperty("java.class.path");
        ProcessBuilder pb = new ProcessBuilder(buildScript().toString(), IMAGE, "reference")
                .redirectErrorStream(true);
        pb.environment().put("TCK_CLASSPATH", cp.replace(File.pathSeparator, ":"));
        Process build = pb.start();
        String buildLog = new String(build.getInputStream().readAllBytes());
        assertThat(build.waitFor(10, TimeUnit.MINUTES)).isTrue();
        assertThat(build.exitValue()).as("image build:%n%s", buildLog).isZero();

        Path log = Files.createTempFile("adapter-", ".log");
        try {
            HypervisorProvider container = AdapterSources.resolve("container:" + IMAGE, log, List.of()).orElseThrow();
            RunResult viaContainer = new TckRun(container, DetectionTable.selfTestConfig(), List.of(Suite.X86, Suite.ARM64),
                    ProgressListener.SILENT).execute();
            int sessions = ((AdapterProvider) container).sessions();
            AdapterSources.closeAll();
            RunResult inProcess = new TckRun(new ReferenceProvider(), DetectionTable.selfTestConfig(), List.of(Suite.X86, Suite.ARM64),
                    ProgressListener.SILENT).execute();

            // the rules whose capability the protocol cannot carry are NOT APPLICABLE through it; every other the same
            Map<String, String> expected = outcomes(inProcess);
            ProtocolDetectionTest.NOT_THROUGH_THE_PROTOCOL.forEach(id -> expected.put(id, "NOT_APPLICABLE"));
            assertThat(outcomes(viaContainer)).as("per-rule outcomes through container:%s vs in-process", IMAGE)
                    .isEqualTo(expected);
            assertThat(viaContainer.rules()).hasSizeGreaterThan(40);
            assertThat(sessions).as("adapter sessions (one container each): a fault would have started another").isEqualTo(1);
            assertThat(Files.readString(log)).as("the container's output is captured").contains("tck serve: reference on unix:/tck/adapter.sock");
            List<String> left = DockerClientFactory.instance().client().listContainersCmd().withShowAll(true)
                    .withLabelFilter(Map.of("dev.stealtime.tck", "adapter")).exec().stream().map(c -> c.getId()).toList();
            assertThat(left).as("adapter containers left behind").isEmpty();
        } finally {
            Files.deleteIfExists(log);
        }
    }

    static Map<String, String> outcomes(RunResult r) {
        return r.rules().stream().collect(Collectors.toMap(x -> x.rule().id(), (RuleResult x) -> x.outcome().name(), (a, b) -> a, TreeMap::new));
    }
}
