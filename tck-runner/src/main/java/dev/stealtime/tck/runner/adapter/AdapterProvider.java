package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.time.Duration;
import java.util.Set;
import java.util.function.Supplier;

/**
 * An adapter as the runner sees it (what {@code --provider exec:…}, {@code unix:…} and
 * {@code container:…} resolve to): a {@link HypervisorProvider} that speaks through one
 * {@link AdapterSession} at a time and, after the adapter faulted, opens a fresh session for the
 * next VM, so a run survives a dead, hung or garbling adapter. The first session's handshake is the
 * provider's identity; a later session that reports another identity is a fault.
 */
public final class AdapterProvider implements HypervisorProvider, AutoCloseable {

    private final Supplier<AdapterLink> links;
    private final Duration timeout;
    private final AdapterSession first;
    private AdapterSession current;
    private int sessions = 1;
    private boolean closed;

    /**
     * Connects the first session now.
     *
     * @param links   opens a new link (starts the adapter, or connects to it) each time it is called
     * @param timeout how long any call may take beyond the workload it asks for
     * @throws AdapterFault when the adapter cannot be reached or fails the handshake
     */
    public AdapterProvider(Supplier<AdapterLink> links, Duration timeout) {
        this.links = links;
        this.timeout = timeout;
        this.first = AdapterSession.open(links.get(), timeout);
        this.current = first;
    }

    /** The session to use now: the current one, or a fresh one if it ended. */
    private synchronized AdapterSession session() {
        if (closed) {
            throw new IllegalStateException("the adapter provider is closed");
        }
        if (current.ended() != null) {
            current.close();
            AdapterSession fresh = AdapterSession.open(links.get(), timeout);
            sessions++;
            current = fresh;
            if (!fresh.id().equals(first.id()) || !fresh.architectures().equals(first.architectures())
                    || !fresh.capabilities().equals(first.capabilities()) || !fresh.timing().equals(first.timing())) {
                fresh.close();
                throw new AdapterFault("adapter " + fresh.origin() + " restarted as a different provider: "
                        + fresh.id() + " " + fresh.architectures() + " " + fresh.capabilities() + " " + fresh.timing()
                        + " where the first session was " + first.id() + " " + first.architectures() + " "
                        + first.capabilities() + " " + first.timing());
            }
        }
        return current;
    }

    /** How many sessions (adapter starts or connections) this provider has opened. */
    public synchronized int sessions() {
        return sessions;
    }

    /** How the adapter shares guest RAM, as its {@code hello} said: "shared" (a file) or "sampled". */
    public String memoryMode() {
        return first.sampled() ? "sampled" : "shared";
    }

    /** Where the adapter comes from. */
    public String origin() {
        return first.origin();
    }

    @Override
    public String id() {
        return first.id();
    }

    @Override
    public String description() {
        return first.description() + " (adapter " + first.origin() + ")";
    }

    @Override
    public String version() {
        return first.version();
    }

    @Override
    public Set<Architecture> architectures() {
        return first.architectures();
    }

    @Override
    public Set<Capability> capabilities() {
        return first.capabilities();
    }

    @Override
    public TimingPrecision timing() {
        return first.timing();
    }

    @Override
    public Availability availability() {
        return first.availability();
    }

    @Override
    public Vm open(VmSpec spec) {
        return session().open(spec);
    }

    /** Ends the current session (the adapter is stopped, its files removed). Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        current.close();
    }
}
