package dev.stealtime.tck.runner.adapter;

import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Device;
import com.github.dockerjava.api.model.Volume;
import dev.stealtime.tck.runner.exit.UsageException;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.IsRunningStartupCheckStrategy;
import org.testcontainers.utility.DockerImageName;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * {@code container:IMAGE[:TAG]}: the adapter ships as a container image, started with
 * Testcontainers, one container per session. The contract with the image (docs/vendors.md,
 * "A container image"):
 * <ul>
 *   <li>its default command is the adapter; it listens on the Unix socket {@value #SOCKET}
 *       ({@code $TCK_SOCKET}) and keeps guest-RAM files in {@value #RAM_DIR} (the {@code shared_dir}
 *       of {@code hello}; {@code $TCK_SHARED_DIR});</li>
 *   <li>{@value #MOUNT} is a private (0700) directory of the TCK's machine, bind-mounted;</li>
 *   <li>no network ({@code --network none}), not privileged, and devices only those asked for
 *       ({@code --device /dev/kvm});</li>
 *   <li>the image is never pulled: it must be present in the local engine.</li>
 * </ul>
 * Its stdout and stderr go to the run's adapter log, their tail into every fault. The container is
 * removed when the session ends, when the run ends, and from a shutdown hook on interrupt.
 */
public final class ContainerAdapter {

    public static final String MOUNT = "/tck";
    public static final String SOCKET = MOUNT + "/adapter.sock";
    public static final String RAM_DIR = MOUNT + "/ram";
    /** How long the adapter has to create its socket. */
    static final Duration STARTUP = Duration.ofSeconds(60);

    private ContainerAdapter() {
    }

    /**
     * Checks the engine and the image, and returns the link factory.
     *
     * @throws UsageException when Docker is absent or not answering, or the image is not present
     */
    static Supplier<AdapterLink> links(String image, Path logFile, List<String> devices) {
        if (image.isEmpty()) {
            throw new UsageException("container: needs an image, e.g. container:acme/tck-adapter:1.0");
        }
        boolean available;
        try {
            available = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            available = false;
        }
        if (!available) {
            throw new UsageException("container:" + image + ": no Docker engine answers here (start dockerd, or set DOCKER_HOST)");
        }
        DockerImageName name = DockerImageName.parse(image);
        try {
            DockerClientFactory.instance().client().inspectImageCmd(name.asCanonicalNameString()).exec();
        } catch (RuntimeException e) {
            throw new UsageException("container:" + image + ": the image is not in the local engine (this TCK never pulls): " + firstLine(e.getMessage()));
        }
        for (String d : devices) {
            if (!Files.exists(Path.of(d))) {
                throw new UsageException("--device " + d + ": no such device here");
            }
        }
        return () -> start(name, logFile, devices);
    }

    private static AdapterLink start(DockerImageName image, Path logFile, List<String> devices) {
        Path dir = LinkFiles.sharedDir();
        Path ram = dir.resolve("ram");
        LinkFiles.Tail tail = new LinkFiles.Tail(logFile, "[container " + image.asCanonicalNameString() + "] ");
        GenericContainer<?> c = new GenericContainer<>(image);
        try {
            Files.createDirectory(ram, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            c.withImagePullPolicy(n -> false)
                    .withNetworkMode("none")
                    .withPrivilegedMode(false)
                    .withEnv("TCK_SOCKET", SOCKET)
                    .withEnv("TCK_SHARED_DIR", RAM_DIR)
                    .withLogConsumer(frame -> {
                        String s = frame.getUtf8String();
                        for (String line : s.split("\n")) {
                            if (!line.isBlank()) {
                                tail.add(line);
                            }
                        }
                    })
                    .withStartupCheckStrategy(new IsRunningStartupCheckStrategy())
                    .withLabel("dev.stealtime.tck", "adapter")
                    // the bind set on the create command itself: Testcontainers' withFileSystemBind first
                    // probes file mounting with a helper image, which would be pulled
                    .withCreateContainerCmdModifier(cmd -> {
                        cmd.getHostConfig().withBinds(new Bind(dir.toString(), new Volume(MOUNT), AccessMode.rw));
                        if (!devices.isEmpty()) {
                            cmd.getHostConfig().withDevices(devices.stream().map(d -> new Device("rwm", d, d)).toList());
                        }
                    });
            AutoCloseable pending = () -> {      // an interrupt while starting removes it too
                try {
                    c.stop();
                } finally {
                    LinkFiles.deleteTree(dir);
                }
            };
            AdapterSources.register(pending);
            try {
                c.start();
            } finally {
                AdapterSources.unregister(pending);
            }
            Path socket = dir.resolve("adapter.sock");
            long deadline = System.nanoTime() + STARTUP.toNanos();
            while (!Files.exists(socket)) {
                if (!c.isRunning()) {
                    throw new IllegalStateException("the container exited before creating " + SOCKET);
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the adapter did not create " + SOCKET + " within " + STARTUP.toSeconds() + " s");
                }
                Thread.sleep(20);
            }
            String origin = "container:" + image.asCanonicalNameString() + (devices.isEmpty() ? "" : " " + devices);
            while (true) {
                try {
                    return new UnixLink(socket, origin, ram, RAM_DIR, tail::text, () -> {
                        try {
                            c.stop();                        // stops and removes the container
                        } finally {
                            LinkFiles.deleteTree(dir);
                        }
                    });
                } catch (UncheckedIOException refused) {
                    // the socket file exists from bind(); connections are refused until listen()
                    if (!c.isRunning() || System.nanoTime() > deadline) {
                        throw refused;
                    }
                    Thread.sleep(20);
                }
            }
        } catch (Exception e) {
            try {
                c.stop();
            } catch (RuntimeException ignored) {
                // it may never have started
            }
            LinkFiles.deleteTree(dir);
            StringBuilder why = new StringBuilder(firstLine(String.valueOf(e.getMessage())));
            for (Throwable t = e.getCause(); t != null && t != t.getCause(); t = t.getCause()) {
                why.append(" <- ").append(firstLine(String.valueOf(t.getMessage())));
            }
            throw new AdapterFault("adapter container:" + image.asCanonicalNameString() + " did not start: " + why
                    + (tail.text().isBlank() ? "" : "\n--- its output ---\n" + tail.text()), e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
