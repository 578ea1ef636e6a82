package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.runner.result.TckJars;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
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
    private final List<String> printed = new java.util.concurrent.CopyOnWriteArrayList<>();
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
            java.io.InputStream in = new java.io.BufferedInputStream(link.input(), 1 << 16);
            byte[] line;
            while ((line = Wire.readLine(in)) != null) {
                if (printed.size() < 3) {
                    String text = new String(line, java.nio.charset.StandardCharsets.UTF_8).strip();
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
    private AdapterFault fault(String what) {
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
        RemoteVm v = new RemoteVm(vm, spec);
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
    private Path localRamFile(String file) throws Wire.Malformed {
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

    // --- the remote objects

    private ObjectNode vmParams(long vm) {
        return Wire.object().put("vm", vm);
    }

    final class RemoteVm implements Vm {
        final long handle;
        final VmSpec spec;
        final List<Vcpu> vcpus;
        RemoteMemory memory;
        private volatile boolean closed;

        RemoteVm(long handle, VmSpec spec) {
            this.handle = handle;
            this.spec = spec;
            List<Vcpu> list = new ArrayList<>();
            for (int i = 0; i < spec.vcpus(); i++) {
                list.add(spec.architecture() == Architecture.X86_64 ? new RemoteX86(this, i) : new RemoteArm64(this, i));
            }
            this.vcpus = List.copyOf(list);
        }

        @Override
        public VmSpec spec() {
            return spec;
        }

        @Override
        public GuestMemory memory() {
            return memory;
        }

        @Override
        public List<? extends Vcpu> vcpus() {
            return vcpus;
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            if (ended == null) {          // a dead adapter's VMs are gone with it
                call("close", vmParams(handle), 0);
            }
        }
    }

    final class RemoteMemory implements GuestMemory {
        private final RemoteVm vm;
        private final List<ByteBuffer> mapped;

        RemoteMemory(RemoteVm vm, List<ByteBuffer> mapped) {
            this.vm = vm;
            this.mapped = mapped;
        }

        /**
         * With shared memory, guest RAM is the mapped file: reads and writes go straight to it (the
         * very pages the hypervisor uses, so it is what {@code memory.read}/{@code memory.write}
         * would do, without a round trip each).
         */
        @Override
        public byte[] read(long gpa, int length) {
            refuseIfClosed();
            if (mapped != null) {
                byte[] out = new byte[length];
                liveView(gpa, length).get(out);
                return out;
            }
            ObjectNode p = vmParams(vm.handle).put("length", length);
            Wire.putU64(p, "gpa", gpa);
            return bytes(call("memory.read", p, 0), length, "memory.read");
        }

        /** The SPI's promise: a closed VM's memory is gone (the mapping may outlive it, the answer may not). */
        private void refuseIfClosed() {
            if (vm.closed) {
                throw new IllegalStateException("the VM is closed: its guest memory is gone (adapter " + link.origin() + ")");
            }
        }

        /** The {@code bytes} of an answer to {@code method}, which must be {@code length} long. */
        private byte[] bytes(ObjectNode r, int length, String method) {
            try {
                byte[] b = Wire.hex(r, "bytes");
                if (b.length != length) {
                    throw new Wire.Malformed(b.length + " bytes where " + length + " were asked for");
                }
                return b;
            } catch (Wire.Malformed e) {
                throw fault("answered `" + method + "` with " + e.getMessage());
            }
        }

        @Override
        public void write(long gpa, byte[] bytes) {
            refuseIfClosed();
            if (mapped != null) {
                liveView(gpa, bytes.length).put(bytes);
                return;
            }
            ObjectNode p = vmParams(vm.handle).put("bytes", Wire.hex(bytes));
            Wire.putU64(p, "gpa", gpa);
            call("memory.write", p, 0);
        }

        /**
         * With shared memory the TCK uses the mapping, so {@code memory.read} and {@code memory.write}
         * would go unchecked: here, at open, a pattern written with {@code memory.write} must show in
         * the mapping and one stored in the mapping must come back from {@code memory.read}; then
         * the 16 bytes are zero again (as fresh RAM). Two paths that disagree are a protocol fault.
         */
        void checkBothPaths() {
            MemoryRegion first = vm.spec.ram().get(0);
            long gpa = Math.max(first.gpa(), GuestLayout.PROVIDER_RESERVED);
            if (!first.contains(gpa, 16)) {
                return;
            }
            byte[] a = {(byte) 0x5a, 0x01, (byte) 0xa5, 0x02, 0x5a, 0x03, (byte) 0xa5, 0x04};
            byte[] b = {0x11, (byte) 0xee, 0x22, (byte) 0xdd, 0x33, (byte) 0xcc, 0x44, (byte) 0xbb};
            ObjectNode p = vmParams(vm.handle).put("bytes", Wire.hex(a));
            Wire.putU64(p, "gpa", gpa);
            call("memory.write", p, 0);
            byte[] seen = new byte[a.length];
            liveView(gpa, a.length).get(seen);
            liveView(gpa + 8, b.length).put(b);
            ObjectNode q = vmParams(vm.handle).put("length", b.length);
            Wire.putU64(q, "gpa", gpa + 8);
            byte[] back;
            try {
                back = Wire.hex(call("memory.read", q, 0), "bytes");
            } catch (Wire.Malformed e) {
                throw fault("answered `memory.read` with " + e.getMessage());
            }
            liveView(gpa, 16).put(new byte[16]);
            if (!java.util.Arrays.equals(seen, a)) {
                throw fault(String.format("wrote %s at 0x%x with `memory.write`, but the shared RAM file holds %s there",
                        Wire.hex(a), gpa, Wire.hex(seen)));
            }
            if (!java.util.Arrays.equals(back, b)) {
                throw fault(String.format("`memory.read` of 0x%x returned %s, but the shared RAM file holds %s there",
                        gpa + 8, Wire.hex(back), Wire.hex(b)));
            }
        }

        @Override
        public ByteBuffer liveView(long gpa, int length) {
            refuseIfClosed();
            if (mapped == null) {
                throw new UnsupportedOperationException("adapter " + link.origin() + " samples guest RAM; it has no live view");
            }
            for (int i = 0; i < vm.spec.ram().size(); i++) {
                MemoryRegion r = vm.spec.ram().get(i);
                if (r.contains(gpa, length)) {
                    return mapped.get(i).duplicate().position((int) (gpa - r.gpa())).limit((int) (gpa - r.gpa()) + length)
                            .slice().order(ByteOrder.LITTLE_ENDIAN);
                }
            }
            throw new IndexOutOfBoundsException(String.format("[0x%x, 0x%x) is not inside guest RAM %s", gpa, gpa + length, vm.spec.ram()));
        }

        @Override
        public Sharing sharing() {
            return mapped == null ? Sharing.SAMPLED : Sharing.LIVE;
        }

        // ---- dirty logging and memory that moves (docs/adapter-protocol.md §4.8, §4.9)

        private volatile long granule = MemoryRegion.PAGE;
        /** Shared memory: per region index, the mapping a move retired. */
        private final java.util.Map<Integer, ByteBuffer> retired = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public void startDirtyLog() {
            ObjectNode r = call("memory.dirty_log_start", vmParams(vm.handle), 0);
            try {
                long g = Wire.u64(r, "granule");
                if (g < MemoryRegion.PAGE || Long.bitCount(g) != 1) {
                    throw new Wire.Malformed("\"granule\" " + g + " is not a power of two of at least 4096");
                }
                granule = g;
            } catch (Wire.Malformed e) {
                throw fault("answered `memory.dirty_log_start` with " + e.getMessage());
            }
        }

        @Override
        public long dirtyLogGranule() {
            return granule;
        }

        @Override
        public long[] takeDirtyPages() {
            ObjectNode r = call("memory.dirty_log_take", vmParams(vm.handle), 0);
            try {
                JsonNode pages = Wire.field(r, "pages");
                if (!pages.isArray()) {
                    throw new Wire.Malformed("\"pages\" must be an array");
                }
                long[] out = new long[pages.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = Wire.u64Value(pages.get(i), "pages[" + i + "]");
                    if (out[i] % granule != 0 || (i > 0 && Long.compareUnsigned(out[i], out[i - 1]) <= 0)) {
                        throw new Wire.Malformed("\"pages\" must be ascending, distinct and aligned to the granule " + granule + ": " + Wire.brief(pages));
                    }
                }
                return out;
            } catch (Wire.Malformed e) {
                throw fault("answered `memory.dirty_log_take` with " + e.getMessage());
            }
        }

        private int regionIndex(long gpa, long length) {
            for (int i = 0; i < vm.spec.ram().size(); i++) {
                if (vm.spec.ram().get(i).contains(gpa, length)) {
                    return i;
                }
            }
            throw new IndexOutOfBoundsException(String.format("[0x%x, 0x%x) is not inside guest RAM %s", gpa, gpa + length, vm.spec.ram()));
        }

        @Override
        public synchronized void replaceBacking(long gpa) {
            int i = regionIndex(gpa, 1);
            ObjectNode p = vmParams(vm.handle);
            Wire.putU64(p, "gpa", gpa);
            ObjectNode r = call("memory.replace_backing", p, 0);
            if (mapped == null) {
                return;
            }
            MemoryRegion region = vm.spec.ram().get(i);
            try {
                Path local = localRamFile(Wire.text(r, "ram_file"));
                long offset = Wire.u64(r, "offset");
                try (FileChannel ch = FileChannel.open(local, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    if (offset % MemoryRegion.PAGE != 0 || offset + region.size() > ch.size() || offset < 0) {
                        throw new Wire.Malformed(String.format("the new backing at file offset 0x%x (+0x%x) is not inside %s or not page aligned",
                                offset, region.size(), local));
                    }
                    ByteBuffer fresh = ch.map(FileChannel.MapMode.READ_WRITE, offset, region.size());
                    retired.put(i, mapped.get(i));
                    mapped.set(i, fresh);
                }
            } catch (Wire.Malformed e) {
                throw fault("answered `memory.replace_backing` with " + e.getMessage());
            } catch (IOException e) {
                throw fault("reported a new RAM file the TCK cannot map: " + e);
            }
        }

        @Override
        public byte[] readRetired(long gpa, int length) {
            int i = regionIndex(gpa, length);
            if (mapped != null) {
                ByteBuffer old = retired.get(i);
                if (old == null) {
                    throw new IllegalStateException("the backing of " + vm.spec.ram().get(i) + " was never replaced");
                }
                byte[] out = new byte[length];
                old.get((int) (gpa - vm.spec.ram().get(i).gpa()), out);
                return out;
            }
            ObjectNode p = vmParams(vm.handle).put("length", length);
            Wire.putU64(p, "gpa", gpa);
            return bytes(call("memory.read_retired", p, 0), length, "memory.read_retired");
        }

        @Override
        public Sampling startSampling(int readers, List<Load> program, int maxIterations) {
            if (mapped != null) {
                throw new UnsupportedOperationException("guest RAM is shared: use liveView");
            }
            ObjectNode p = vmParams(vm.handle).put("readers", readers).put("max_iterations", maxIterations);
            ArrayNode prog = p.putArray("program");
            for (Load l : program) {
                ObjectNode o = prog.addObject();
                Wire.putU64(o, "gpa", l.gpa());
                o.put("width", l.width());
            }
            ObjectNode r = call("memory.sample_start", p, 0);
            long session;
            try {
                session = Wire.integer(r, "session", Long.MIN_VALUE, Long.MAX_VALUE);
            } catch (Wire.Malformed e) {
                throw fault("answered `memory.sample_start` with " + e.getMessage());
            }
            return () -> stopSampling(session, readers, program, maxIterations);
        }

        private List<Recorded> stopSampling(long session, int readers, List<Load> program, int maxIterations) {
            ObjectNode r = call("memory.sample_stop", vmParams(vm.handle).put("session", session), 0);
            try {
                JsonNode list = Wire.field(r, "readers");
                if (!list.isArray() || list.size() != readers) {
                    throw new Wire.Malformed("\"readers\" must list " + readers + " readers, not " + Wire.brief(list));
                }
                List<Recorded> out = new ArrayList<>();
                for (int i = 0; i < readers; i++) {
                    JsonNode rd = list.get(i);
                    int records = (int) Wire.integer(rd, "iterations", 0, maxIterations);
                    JsonNode values = Wire.field(rd, "values");
                    if (!values.isArray() || values.size() != (long) records * program.size()) {
                        throw new Wire.Malformed("reader " + i + " reports " + records + " iterations of " + program.size()
                                + " loads but " + (values.isArray() ? values.size() : Wire.brief(values)) + " values");
                    }
                    long[] v = new long[values.size()];
                    for (int j = 0; j < v.length; j++) {
                        v[j] = Wire.u64Value(values.get(j), "values[" + j + "]");
                        if (program.get(j % program.size()).width() == 4 && (v[j] >>> 32) != 0) {
                            throw new Wire.Malformed("reader " + i + " value " + j + " is a 4-byte load but holds " + Long.toUnsignedString(v[j]));
                        }
                    }
                    long[] c = new long[records];
                    JsonNode counts = rd.get("counts");
                    if (counts == null || counts.isNull()) {
                        java.util.Arrays.fill(c, 1);
                    } else {
                        if (!counts.isArray() || counts.size() != records) {
                            throw new Wire.Malformed("reader " + i + " has " + records + " iterations but \"counts\" is " + Wire.brief(counts));
                        }
                        for (int j = 0; j < records; j++) {
                            c[j] = Wire.u64Value(counts.get(j), "counts[" + j + "]");
                            if (c[j] <= 0) {
                                throw new Wire.Malformed("reader " + i + " counts[" + j + "] must be positive, not " + Long.toUnsignedString(c[j]));
                            }
                        }
                    }
                    out.add(new Recorded(v, c));
                }
                return out;
            } catch (Wire.Malformed e) {
                throw fault("answered `memory.sample_stop` with " + e.getMessage());
            }
        }
    }

    abstract class RemoteVcpu implements Vcpu {
        final RemoteVm vm;
        final int index;

        RemoteVcpu(RemoteVm vm, int index) {
            this.vm = vm;
            this.index = index;
        }

        ObjectNode params() {
            return vmParams(vm.handle).put("vcpu", index);
        }

        @Override
        public int index() {
            return index;
        }

        private void workload(String method, Duration d) {
            call(method, params().put("duration_ns", d.toNanos()), d.toNanos());
        }

        @Override
        public void run(Duration d) {
            workload("vcpu.run", d);
        }

        @Override
        public void preempt(Duration d) {
            workload("vcpu.preempt", d);
        }

        @Override
        public void idle(Duration d) {
            workload("vcpu.idle", d);
        }

        @Override
        public long hostStealMeasureNanos() {
            return u64(call("vcpu.host_steal", params(), 0), "vcpu.host_steal", "ns");
        }

        long u64(ObjectNode r, String method, String field) {
            try {
                return Wire.u64(r, field);
            } catch (Wire.Malformed e) {
                throw fault("answered `" + method + "` with " + e.getMessage());
            }
        }

        long integer(ObjectNode r, String method, String field, long min, long max) {
            try {
                return Wire.integer(r, field, min, max);
            } catch (Wire.Malformed e) {
                throw fault("answered `" + method + "` with " + e.getMessage());
            }
        }

        boolean bool(ObjectNode r, String method, String field) {
            try {
                return Wire.bool(r, field);
            } catch (Wire.Malformed e) {
                throw fault("answered `" + method + "` with " + e.getMessage());
            }
        }
    }

    final class RemoteX86 extends RemoteVcpu implements X86Vcpu {
        RemoteX86(RemoteVm vm, int index) {
            super(vm, index);
        }

        private MsrResult msr(String method, ObjectNode p) {
            ObjectNode r = call(method, p, 0);
            return bool(r, method, "faulted") ? MsrResult.gp() : MsrResult.ok(u64(r, method, "value"));
        }

        @Override
        public MsrResult guestWrmsr(int msr, long value) {
            ObjectNode p = params().put("msr", Integer.toUnsignedLong(msr));
            Wire.putU64(p, "value", value);
            MsrResult r = msr("x86.guest_wrmsr", p);
            return r.faulted() ? r : MsrResult.ok();
        }

        @Override
        public MsrResult guestRdmsr(int msr) {
            return msr("x86.guest_rdmsr", params().put("msr", Integer.toUnsignedLong(msr)));
        }

        @Override
        public boolean hostSetMsr(int msr, long value) {
            ObjectNode p = params().put("msr", Integer.toUnsignedLong(msr));
            Wire.putU64(p, "value", value);
            return bool(call("x86.host_set_msr", p, 0), "x86.host_set_msr", "accepted");
        }

        @Override
        public long hostGetMsr(int msr) {
            return u64(call("x86.host_get_msr", params().put("msr", Integer.toUnsignedLong(msr)), 0), "x86.host_get_msr", "value");
        }

        @Override
        public CpuidResult cpuid(int leaf) {
            String m = "x86.cpuid";
            ObjectNode r = call(m, params().put("leaf", Integer.toUnsignedLong(leaf)), 0);
            return new CpuidResult((int) integer(r, m, "eax", 0, 0xffffffffL), (int) integer(r, m, "ebx", 0, 0xffffffffL),
                    (int) integer(r, m, "ecx", 0, 0xffffffffL), (int) integer(r, m, "edx", 0, 0xffffffffL));
        }
    }

    final class RemoteArm64 extends RemoteVcpu implements Arm64Vcpu {
        RemoteArm64(RemoteVm vm, int index) {
            super(vm, index);
        }

        private ObjectNode attr(int group, long attr) {
            ObjectNode p = params().put("group", group);
            Wire.putU64(p, "attr", attr);
            return p;
        }

        private int errno(ObjectNode r, String m) {
            return (int) integer(r, m, "errno", -4095, 0);
        }

        @Override
        public int hasDeviceAttr(int group, long attr) {
            return errno(call("arm64.has_device_attr", attr(group, attr), 0), "arm64.has_device_attr");
        }

        @Override
        public int setDeviceAttr(int group, long attr, long value) {
            ObjectNode p = attr(group, attr);
            Wire.putU64(p, "value", value);
            return errno(call("arm64.set_device_attr", p, 0), "arm64.set_device_attr");
        }

        @Override
        public AttrResult getDeviceAttr(int group, long attr) {
            String m = "arm64.get_device_attr";
            ObjectNode r = call(m, attr(group, attr), 0);
            int errno = errno(r, m);
            return new AttrResult(errno, errno == 0 ? u64(r, m, "value") : 0);
        }

        @Override
        public long smccc(int functionId, long... args) {
            ObjectNode p = params().put("function_id", Integer.toUnsignedLong(functionId));
            ArrayNode a = p.putArray("args");
            for (long x : args) {
                if (x >= 0) {
                    a.add(x);
                } else {
                    a.add(new java.math.BigInteger(Long.toUnsignedString(x)));
                }
            }
            return u64(call("arm64.smccc", p, 0), "arm64.smccc", "x0");
        }
    }
}
