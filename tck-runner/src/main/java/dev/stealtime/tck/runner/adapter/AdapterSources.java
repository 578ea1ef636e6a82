package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.runner.host.OutDir;
import dev.stealtime.tck.spi.HypervisorProvider;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The provider sources that are adapters (docs/adapter-protocol.md §2), the runner's one hook into
 * provider resolution: {@code exec:COMMAND ARGS…}, {@code unix:PATH}, {@code container:IMAGE[:TAG]}.
 * Every adapter provider made here is closed by {@link #closeAll()} (the CLI calls it when a
 * command ends) or, at the latest, by a shutdown hook, so no adapter outlives the TCK.
 */
public final class AdapterSources {

    /** Where a run keeps every line its adapters wrote to stderr (in the output directory). */
    public static final String LOG = OutDir.ADAPTER_LOG;
    /** How long a call may take beyond its workload; {@code -Dtck.adapter-timeout=SECONDS} or {@code TCK_ADAPTER_TIMEOUT}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private static final List<AutoCloseable> OPEN = new ArrayList<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(AdapterSources::closeAll, "tck-adapter-cleanup"));
    }

    private AdapterSources() {
    }

    /** True when {@code id} names an adapter rather than an in-process provider. */
    public static boolean isAdapter(String id) {
        return id.startsWith("exec:") || id.startsWith("unix:") || id.startsWith("container:");
    }

    /**
     * The adapter provider {@code id} names, connected, or empty when {@code id} is an in-process
     * provider's id.
     *
     * @param logFile where the adapter's stderr is appended (may be null)
     * @throws UsageException when the adapter cannot be started or reached, or fails the handshake
     */
    public static Optional<HypervisorProvider> resolve(String id, Path logFile) {
        return resolve(id, logFile, List.of());
    }

    /**
     * As {@link #resolve(String, Path)}, with the host devices a {@code container:} adapter gets
     * (e.g. {@code /dev/kvm}); other adapters ignore them.
     */
    public static Optional<HypervisorProvider> resolve(String id, Path logFile, List<String> devices) {
        if (!isAdapter(id)) {
            return Optional.empty();
        }
        String rest = id.substring(id.indexOf(':') + 1).trim();
        Supplier<AdapterLink> links;
        if (id.startsWith("exec:")) {
            List<String> command;
            try {
                command = ExecLink.split(rest);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            links = () -> ExecLink.start(command, logFile);
        } else if (id.startsWith("unix:")) {
            if (rest.isEmpty()) {
                throw new UsageException("unix: needs the adapter's socket path, e.g. unix:/run/my-adapter.sock");
            }
            Path socket = Path.of(rest);
            links = () -> UnixLink.connect(socket);
        } else {
            links = ContainerAdapter.links(rest, logFile, devices);
        }
        return Optional.of(open(id, links));
    }

    private static HypervisorProvider open(String id, Supplier<AdapterLink> links) {
        try {
            AdapterProvider p = new AdapterProvider(() -> {
                try {
                    return links.get();
                } catch (UncheckedIOException e) {
                    throw new AdapterFault(e.getMessage(), e);
                }
            }, timeout());
            synchronized (OPEN) {
                OPEN.add(p);
            }
            return p;
        } catch (AdapterFault e) {
            throw new UsageException("provider " + id + ": " + e.getMessage());
        }
    }

    /** An adapter call's margin: {@code tck.adapter-timeout} or {@code TCK_ADAPTER_TIMEOUT} seconds, else 30 s (protocol §7). */
    public static Duration timeout() {
        String s = System.getProperty("tck.adapter-timeout", System.getenv().getOrDefault("TCK_ADAPTER_TIMEOUT", ""));
        if (s.isBlank()) {
            return DEFAULT_TIMEOUT;
        }
        try {
            return Duration.ofMillis((long) (Double.parseDouble(s) * 1000));
        } catch (NumberFormatException e) {
            throw new UsageException("tck.adapter-timeout must be a number of seconds, not '" + s + "'");
        }
    }

    /** Also closed by {@link #closeAll()} (e.g. a container's cleanup). */
    static void register(AutoCloseable c) {
        synchronized (OPEN) {
            OPEN.add(c);
        }
    }

    static void unregister(AutoCloseable c) {
        synchronized (OPEN) {
            OPEN.remove(c);
        }
    }

    /** Closes every adapter opened so far (stops processes and containers, deletes files). */
    public static void closeAll() {
        List<AutoCloseable> all;
        synchronized (OPEN) {
            all = new ArrayList<>(OPEN);
            OPEN.clear();
        }
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                all.get(i).close();
            } catch (Exception e) {
                System.err.println("tck: closing an adapter: " + e);
            }
        }
    }
}
