package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.runner.result.TckJars;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The TCK's side of one adapter session (docs/adapter-protocol.md): a {@link HypervisorProvider}
 * whose every call is a request over an {@link AdapterLink}. {@link #open} performs the
 * {@code hello} handshake. Guest RAM is mapped from the file the adapter reports, so
 * {@link GuestMemory#liveView} aliases the pages the hypervisor updates; an adapter that samples
 * instead is driven through {@link GuestMemory#startSampling}.
 *
 * <p>Anything the adapter does wrong (dies, misses a deadline, sends a malformed, mismatched or
 * ill-typed message) throws an {@link AdapterFault} naming the call, the problem and the tail of
 * the adapter's log, and ends the session: the link is closed and every later call faults at once.
 * An error response the protocol defines becomes the SPI exception it stands for.
 */
public final class AdapterSession implements HypervisorProvider, AutoCloseable {

    /** The protocol version this TCK speaks. */
    public static final int PROTOCOL = 1;

    private static final Object END = new Object();

    private final AdapterLink link;
    private final Duration timeout;
    private final BlockingQueue<Object> incoming = new LinkedBlockingQueue<>();
    /** The first lines the adapter wrote to the protocol stream (for the reason when it dies early). */
    private final List<String> printed = new CopyOnWriteArrayList<>();
    private long nextId = 1;
    private volatile String ended;

    private String id;
    private String description;
    private String version;
    private Set<Architecture> architectures;
    private Set<Capability> capabilities;
    private TimingPrecision timing;
    private Availability availability;
    private boolean sampled;

    private final Thread reader;

    private AdapterSession(AdapterLink link, Duration timeout) {
        this.link = link;
        this.timeout = timeout;
        this.reader = new Thread(this::pump, "tck-adapter-reader");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Opens a session on a connected link: sends {@code hello} and checks the answer.
     *
     * @param timeout how long a call may take beyond the workload it asks for
     * @throws AdapterFault when the adapter does not answer the handshake properly (the link is closed then)
     */
    public static AdapterSession open(AdapterLink link, Duration timeout) {
        AdapterSession s = new AdapterSession(link, timeout);
        s.hello();
        return s;
    }

    /** Reads lines until the stream ends; hands each (or the problem) to the caller. */
    private void pump() {
        try {
            InputStream in = new BufferedInputStream(link.input(), 1 << 16);
            byte[] line;
            while ((line = Wire.readLine(in)) != null) {
                if (printed.size() < 3) {
                    String text = new String(line, StandardCharsets.UTF_8).strip();
                    printed.add(text.length() > 120 ? text.substring(0, 120) + "…" : text);
                }
                incoming.add(line);
            }
            incoming.add(END);
        } catch (Wire.Malformed e) {
            incoming.add(e);
        } catch (IOException e) {
            incoming.add(END);
        }
    }

    private void hello() {
        ObjectNode p = Wire.object().put("protocol", PROTOCOL).put("tck", String.valueOf(tckVersion()))
                .put("shared_dir", link.sharedDirForAdapter());
        JsonNode r = call("hello", p, 0);
        try {
            long protocol = Wire.integer(r, "protocol", Integer.MIN_VALUE, Integer.MAX_VALUE);
            if (protocol != PROTOCOL) {
                throw fault("speaks protocol version " + protocol + "; this TCK speaks version " + PROTOCOL);
            }
            JsonNode provider = Wire.field(r, "provider");
            id = Wire.text(provider, "id");
            if (!id.matches("[A-Za-z0-9._:+-]{1,64}")) {
                throw new Wire.Malformed("provider id must be 1-64 of [A-Za-z0-9._:+-]: \"" + id + "\"");
            }
            description = Wire.text(provider, "description");
            version = Wire.text(provider, "version");
            architectures = names(r, "architectures", Architecture.class);
            capabilities = names(r, "capabilities", Capability.class);
            for (Capability c : AdapterServer.NOT_IN_PROTOCOL) {
                if (capabilities.contains(c)) {
                    throw new Wire.Malformed("capability " + c + " has no request in the adapter protocol (version 1): "
                            + "a VMM's own save and restore is tested through the qemu provider");
                }
            }
            JsonNode t = Wire.field(r, "timing");
            boolean exact = Wire.bool(t, "exact");
            long tol = Wire.integer(t, "tolerance_ns", 0, Long.MAX_VALUE);
            if (exact && tol != 0) {
                throw new Wire.Malformed("exact timing has no tolerance, but tolerance_ns is " + tol);
            }
            timing = exact ? TimingPrecision.exact() : TimingPrecision.measured(Duration.ofNanos(tol));
            JsonNode a = Wire.field(r, "availability");
            availability = Wire.bool(a, "available") ? Availability.yes() : Availability.no(Wire.text(a, "reason"));
            String memory = Wire.text(r, "memory");
            if (!memory.equals("shared") && !memory.equals("sampled")) {
                throw new Wire.Malformed("\"memory\" must be \"shared\" or \"sampled\", not \"" + memory + "\"");
            }
            sampled = memory.equals("sampled");
        } catch (Wire.Malformed e) {
            throw fault("answered `hello` wrongly: " + e.getMessage());
        }
    }

    private static <E extends Enum<E>> Set<E> names(JsonNode r, String field, Class<E> type) throws Wire.Malformed {
        JsonNode arr = Wire.field(r, field);
        if (!arr.isArray()) {
            throw new Wire.Malformed("\"" + field + "\" must be an array, not " + Wire.brief(arr));
        }
        Set<E> out = EnumSet.noneOf(type);
        for (JsonNode n : arr) {
            try {
                out.add(Enum.valueOf(type, n.asText("")));
            } catch (IllegalArgumentException e) {
                throw new Wire.Malformed("unknown " + type.getSimpleName() + " " + Wire.brief(n) + " in \"" + field + "\"");
            }
        }
        return Collections.unmodifiableSet(out);
    }

    /** The TCK's version, as {@code conformance.md} states it (not "dev"). */
    static String tckVersion() {
        return TckJars.version();
    }

    /** The link's origin, e.g. {@code exec:./my-adapter}. */
    public String origin() {
        return link.origin();
    }

    /** Why the session ended, or null while it is alive. */
    public String ended() {
        return ended;
    }

    /**
     * One request and its response. The deadline is the session's timeout plus the workload the
     * call asks for.
     *
     * @return the result object
     */
    synchronized ObjectNode call(String method, ObjectNode params, long workloadNanos) {
        if (ended != null) {
            throw new AdapterFault(link.origin() + ": the adapter session ended earlier (" + ended + "); `" + method + "` not sent");
        }
        long requestId = nextId++;
        ObjectNode request = Wire.object().put("jsonrpc", "2.0").put("id", requestId).put("method", method);
        request.set("params", params);
        try {
            Wire.write(link.output(), request);
        } catch (IOException e) {
            throw fault(link.exited().isPresent() ? "ended before `" + method + "` could be sent"
                    : "could not be sent `" + method + "`: " + e.getMessage());
        }
        long budget = timeout.toNanos() + Math.max(0, workloadNanos);
        Object msg;
        try {
            msg = incoming.poll(budget, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw fault("was abandoned: the TCK was interrupted waiting for `" + method + "`");
        }
        if (msg == null) {
            throw fault(String.format("did not answer `%s` within %.1f s", method, budget / 1e9));
        }
        if (msg == END) {
            throw fault((link.exited().isPresent() ? "ended" : "closed the connection (or exited)") + " while `" + method + "` was pending");
        }
        if (msg instanceof Wire.Malformed m) {
            throw fault("sent a malformed line answering `" + method + "`: " + m.getMessage());
        }
        try {
            ObjectNode response = Wire.parseObject((byte[]) msg);
            if (!"2.0".equals(response.path("jsonrpc").asText(null))) {
                throw new Wire.Malformed("\"jsonrpc\" must be \"2.0\" in " + Wire.brief(response));
            }
            JsonNode rid = response.get("id");
            if (rid == null || !rid.isIntegralNumber() || !rid.canConvertToLong() || rid.longValue() != requestId) {
                throw new Wire.Malformed("a response with id " + (rid == null ? "none" : Wire.brief(rid))
                        + " where the response to request " + requestId + " was due (out of order or unsolicited)");
            }
            JsonNode error = response.get("error");
            JsonNode result = response.get("result");
            if ((error == null) == (result == null)) {
                throw new Wire.Malformed("a response needs exactly one of \"result\" and \"error\": " + Wire.brief(response));
            }
            if (error != null) {
                throw error(method, error);
            }
            if (!result.isObject()) {
                throw new Wire.Malformed("\"result\" must be an object, not " + Wire.brief(result));
            }
            return (ObjectNode) result;
        } catch (Wire.Malformed e) {
            throw fault("answered `" + method + "` with " + e.getMessage());
        }
    }

    /** An error response: the SPI exception it stands for. */
    private RuntimeException error(String method, JsonNode error) throws Wire.Malformed {
        long code = Wire.integer(error, "code", Integer.MIN_VALUE, Integer.MAX_VALUE);
        String message = Wire.text(error, "message");
        String where = " (adapter " + link.origin() + ", `" + method + "`)";
        return switch ((int) code) {
            case 1 -> new UnsupportedOperationException(message + where);
            case 2 -> new IndexOutOfBoundsException(message + where);
            case 3 -> new IllegalStateException(message + where);
            case -32602 -> new IllegalArgumentException(message + where);
            default -> new AdapterFault(link.origin() + ": the adapter failed `" + method + "` (error " + code + "): " + message
                    + logTail());
        };
    }

    /**
     * Ends the session for a fault of the adapter and describes it; an adapter process that has
     * ended is described by its exit status and what it printed on the protocol stream.
     */
    AdapterFault fault(String what) {
        String how = link.exited().map(status -> " (the adapter " + status + (lastWords().isEmpty()
                ? ", having printed nothing on its protocol stream)"
                : ", having printed: " + String.join(" | ", lastWords()) + ")")).orElse("");
        if (ended == null) {
            ended = what + how;
        }
        link.close();
        return new AdapterFault("adapter " + link.origin() + " " + what + how + logTail());
    }

    /** What an adapter that has ended printed on the protocol stream (read to its end first, briefly). */
    private List<String> lastWords() {
        try {
            reader.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return printed;
    }

    private String logTail() {
        String tail = link.logTail();
        return tail.isBlank() ? "" : "\n--- last lines of the adapter's stderr ---\n" + tail;
    }

    /** Says goodbye (best effort) and closes the link. */
    @Override
    public void close() {
        if (ended == null) {
            try {
                call("bye", Wire.object(), 0);
            } catch (RuntimeException e) {
                // the session ends either way
            }
            ended = "closed by the TCK";
        }
        link.close();
    }

    // --- HypervisorProvider

    @Override
    public String id() {
        return id;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public String version() {
        return version;
    }

    @Override
    public Set<Architecture> architectures() {
        return architectures;
    }

    @Override
    public Set<Capability> capabilities() {
        return capabilities;
    }

    @Override
    public TimingPrecision timing() {
        return timing;
    }

    @Override
    public Availability availability() {
        return availability;
    }

    /** Whether guest RAM is sampled by the adapter rather than shared through a file. */
    public boolean sampled() {
        return sampled;
    }

    @Override
    public Vm open(VmSpec spec) {
        ObjectNode p = Wire.object().put("architecture", spec.architecture().name()).put("vcpus", spec.vcpus())
                .put("steal_time_offered", spec.stealTimeOffered());
        if (spec.onlyStealTime()) {
            p.put("only_steal_time", true);     // absent means false: adapters written before it stay valid
        }
        ArrayNode ram = p.putArray("ram");
        for (MemoryRegion r : spec.ram()) {
            ObjectNode o = ram.addObject();
            Wire.putU64(o, "gpa", r.gpa());
            Wire.putU64(o, "size", r.size());
        }
        ObjectNode r = call("open", p, 0);
        long vm;
        try {
            vm = Wire.integer(r, "vm", Long.MIN_VALUE, Long.MAX_VALUE);
        } catch (Wire.Malformed e) {
            throw fault("answered `open` with " + e.getMessage());
        }
        RemoteVm v = new RemoteVm(this, vm, spec);
        try {
            v.memory = new RemoteMemory(v, sampled ? null : mapRam(spec, r));
            if (!sampled) {
                v.memory.checkBothPaths();
            }
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
        return v;
    }

    /** Maps each region of the RAM file the adapter reported. */
    private List<ByteBuffer> mapRam(VmSpec spec, JsonNode r) {
        try {
            String file = Wire.text(r, "ram_file");
            Path local = localRamFile(file);
            JsonNode regions = Wire.field(r, "regions");
            if (!regions.isArray() || regions.size() != spec.ram().size()) {
                throw new Wire.Malformed("\"regions\" must list the " + spec.ram().size() + " regions asked for, not " + Wire.brief(regions));
            }
            List<ByteBuffer> out = new ArrayList<>();
            try (FileChannel ch = FileChannel.open(local, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                for (int i = 0; i < regions.size(); i++) {
                    MemoryRegion want = spec.ram().get(i);
                    JsonNode g = regions.get(i);
                    long gpa = Wire.u64(g, "gpa");
                    long size = Wire.u64(g, "size");
                    long offset = Wire.u64(g, "offset");
                    if (gpa != want.gpa() || size != want.size()) {
                        throw new Wire.Malformed(String.format("region %d is [0x%x, +0x%x), not %s as asked", i, gpa, size, want));
                    }
                    if (offset < 0 || offset % MemoryRegion.PAGE != 0 || offset + size > ch.size() || offset + size < 0) {
                        throw new Wire.Malformed(String.format("region %d at file offset 0x%x (+0x%x) is not inside %s (%d bytes) or not page aligned",
                                i, offset, size, file, ch.size()));
                    }
                    MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_WRITE, offset, size);
                    out.add(m);
                }
            }
            return out;
        } catch (Wire.Malformed e) {
            throw fault("answered `open` with " + e.getMessage());
        } catch (IOException e) {
            throw fault("reported a RAM file the TCK cannot map: " + e);
        }
    }

    /** Where the TCK finds a RAM file the adapter named ("ram_file"): inside the shared directory, or a fault. */
    Path localRamFile(String file) throws Wire.Malformed {
        String dir = link.sharedDirForAdapter();
        String prefix = dir.endsWith("/") ? dir : dir + "/";
        if (!file.startsWith(prefix) || file.contains("/../") || file.substring(prefix.length()).isEmpty()) {
            throw new Wire.Malformed("\"ram_file\" " + file + " is not inside the shared directory " + dir);
        }
        Path local = link.sharedDir().resolve(file.substring(prefix.length())).normalize();
        if (!local.startsWith(link.sharedDir())) {
            throw new Wire.Malformed("\"ram_file\" " + file + " escapes the shared directory");
        }
        return local;
    }

    // --- the remote objects (RemoteVm, RemoteMemory, RemoteVcpu, RemoteX86, RemoteArm64)

    static ObjectNode vmParams(long vm) {
        return Wire.object().put("vm", vm);
    }
}
