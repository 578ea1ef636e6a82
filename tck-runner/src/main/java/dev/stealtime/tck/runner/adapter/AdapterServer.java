package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.spi.X86Vcpu;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The adapter side of the protocol for any in-process {@link HypervisorProvider}: what
 * {@code ./tck serve} runs, the protocol's test double, and a worked example for adapter authors.
 * One {@link #serve} call is one session; it returns after {@code bye} or when the input ends, with
 * every VM it opened closed and its RAM files deleted.
 */
public final class AdapterServer {

    /**
     * Capabilities with no request in the protocol (version 1): never offered through it, and refused
     * from an adapter. VMM_SAVE_RESTORE, VMM_LIVE_MIGRATION, VCPU_HOTPLUG, GUEST_DEVICE_TREE: a VMM's own
     * save and restore, its live migration, its CPU hot-plug and where it places the arm64 structures are tested through the
     * qemu provider.
     */
    public static final java.util.Set<Capability> NOT_IN_PROTOCOL = java.util.EnumSet.of(Capability.VMM_SAVE_RESTORE, Capability.VMM_LIVE_MIGRATION,
            Capability.VCPU_HOTPLUG, Capability.GUEST_DEVICE_TREE);


    /** A fault the server plays on purpose (tests of the TCK's fault handling): after {@code after} requests. */
    public record Fault(Kind kind, int after) {
        public enum Kind {
            /** The process exits at once, without answering. */
            EXIT,
            /** Never answers again. */
            HANG,
            /** Answers with a line of binary garbage instead of the response. */
            GARBAGE
        }

        /** Parses {@code exit@N}, {@code hang@N}, {@code garbage@N}. */
        public static Fault parse(String s) {
            String[] parts = s.split("@", 2);
            try {
                return new Fault(Kind.valueOf(parts[0].toUpperCase(Locale.ROOT)), Integer.parseInt(parts[1]));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("a fault is exit@N, hang@N or garbage@N, not '" + s + "'");
            }
        }
    }


    private final HypervisorProvider provider;
    private final boolean sampled;
    private final Fault fault;
    private final Map<Long, Vm> vms = new LinkedHashMap<>();
    private final Map<Long, Path> ramFiles = new LinkedHashMap<>();
    /** Per VM, the files {@code memory.replace_backing} created. */
    private final Map<Long, List<Path>> movedFiles = new LinkedHashMap<>();
    private long nextBacking = 1;
    private final Map<Long, Sampler> samplers = new LinkedHashMap<>();
    private long nextVm = 1;
    private long nextSession = 1;
    private int requests;
    private Path sharedDir;

    /**
     * @param sampled serve guest RAM through the sampling calls instead of a shared file (what an
     *                adapter whose RAM lives in an emulator does)
     * @param fault   a fault to play, or null
     */
    public AdapterServer(HypervisorProvider provider, boolean sampled, Fault fault) {
        this.provider = provider;
        this.sampled = sampled;
        this.fault = fault;
    }

    /** Serves one session on the two streams. */
    public void serve(InputStream input, OutputStream out) throws IOException {
        InputStream in = new BufferedInputStream(input, 1 << 16);
        try {
            while (true) {
                byte[] line;
                try {
                    line = Wire.readLine(in);
                } catch (Wire.Malformed e) {
                    Wire.write(out, error(null, -32700, e.getMessage()));
                    return;
                }
                if (line == null) {
                    return;
                }
                ObjectNode request;
                try {
                    request = Wire.parseObject(line);
                } catch (Wire.Malformed e) {
                    Wire.write(out, error(null, -32700, e.getMessage()));
                    continue;
                }
                JsonNode id = request.get("id");
                String method = request.path("method").asText("");
                if (fault != null && ++requests > fault.after()) {
                    play(fault.kind(), out);
                }
                JsonNode response;
                try {
                    ObjectNode params = request.get("params") instanceof ObjectNode o ? o : Wire.object();
                    response = Wire.object().put("jsonrpc", "2.0").set("id", id);
                    ((ObjectNode) response).set("result", dispatch(method, params));
                } catch (Wire.Malformed e) {
                    response = error(id, -32602, e.getMessage());
                } catch (UnknownMethod e) {
                    response = error(id, -32601, "unknown method `" + method + "`");
                } catch (UnsupportedOperationException e) {
                    response = error(id, 1, String.valueOf(e.getMessage()));
                } catch (IndexOutOfBoundsException e) {
                    response = error(id, 2, String.valueOf(e.getMessage()));
                } catch (IllegalStateException e) {
                    response = error(id, 3, String.valueOf(e.getMessage()));
                } catch (IllegalArgumentException e) {
                    response = error(id, -32602, String.valueOf(e.getMessage()));
                } catch (RuntimeException e) {
                    response = error(id, 4, e.toString());
                }
                Wire.write(out, response);
                if (method.equals("bye")) {
                    return;
                }
            }
        } finally {
            closeAll();
        }
    }

    private void play(Fault.Kind kind, OutputStream out) throws IOException {
        switch (kind) {
            case EXIT -> {
                System.err.println("tck serve: playing fault EXIT: exiting without an answer");
                Runtime.getRuntime().halt(70);
            }
            case HANG -> {
                System.err.println("tck serve: playing fault HANG: never answering again");
                try {
                    Thread.sleep(Long.MAX_VALUE);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
            case GARBAGE -> {
                System.err.println("tck serve: playing fault GARBAGE: answering with binary noise");
                synchronized (out) {
                    out.write(new byte[]{(byte) 0xff, 0x00, '{', '"', (byte) 0x9c, 0x13, ']', '\n'});
                    out.flush();
                }
            }
        }
    }

    private static ObjectNode error(JsonNode id, int code, String message) {
        ObjectNode e = Wire.object().put("jsonrpc", "2.0");
        e.set("id", id);
        e.putObject("error").put("code", code).put("message", message);
        return e;
    }

    private static final class UnknownMethod extends Exception {
    }

    private JsonNode dispatch(String method, ObjectNode p) throws Wire.Malformed, UnknownMethod {
        ObjectNode r = Wire.object();
        switch (method) {
            case "hello" -> hello(p, r);
            case "open" -> open(p, r);
            case "close" -> close(Wire.integer(p, "vm", Long.MIN_VALUE, Long.MAX_VALUE));
            case "bye" -> closeAll();
            case "memory.read" -> r.put("bytes", Wire.hex(memory(p).read(Wire.u64(p, "gpa"),
                    (int) Wire.integer(p, "length", 0, Wire.MAX_LINE / 2 - 1024))));
            case "memory.write" -> memory(p).write(Wire.u64(p, "gpa"), Wire.hex(p, "bytes"));
            case "memory.dirty_log_start" -> {
                GuestMemory m = memory(p);
                m.startDirtyLog();
                Wire.putU64(r, "granule", m.dirtyLogGranule());
            }
            case "memory.dirty_log_take" -> {
                ArrayNode pages = r.putArray("pages");
                for (long page : memory(p).takeDirtyPages()) {
                    addU64(pages, page);
                }
            }
            case "memory.replace_backing" -> replaceBacking(p, r);
            case "memory.read_retired" -> r.put("bytes", Wire.hex(memory(p).readRetired(Wire.u64(p, "gpa"),
                    (int) Wire.integer(p, "length", 0, Wire.MAX_LINE / 2 - 1024))));
            case "memory.sample_start" -> r.put("session", sampleStart(p));
            case "memory.sample_stop" -> sampleStop(p, r);
            case "vcpu.run" -> vcpu(p, Vcpu.class).run(duration(p));
            case "vcpu.preempt" -> vcpu(p, Vcpu.class).preempt(duration(p));
            case "vcpu.idle" -> vcpu(p, Vcpu.class).idle(duration(p));
            case "vcpu.host_steal" -> Wire.putU64(r, "ns", vcpu(p, Vcpu.class).hostStealMeasureNanos());
            case "x86.guest_wrmsr" -> msr(r, vcpu(p, X86Vcpu.class).guestWrmsr(msr(p), Wire.u64(p, "value")));
            case "x86.guest_rdmsr" -> msr(r, vcpu(p, X86Vcpu.class).guestRdmsr(msr(p)));
            case "x86.host_set_msr" -> r.put("accepted", vcpu(p, X86Vcpu.class).hostSetMsr(msr(p), Wire.u64(p, "value")));
            case "x86.host_get_msr" -> Wire.putU64(r, "value", vcpu(p, X86Vcpu.class).hostGetMsr(msr(p)));
            case "x86.cpuid" -> {
                CpuidResult c = vcpu(p, X86Vcpu.class).cpuid((int) Wire.integer(p, "leaf", 0, 0xffffffffL));
                r.put("eax", Integer.toUnsignedLong(c.eax())).put("ebx", Integer.toUnsignedLong(c.ebx()))
                        .put("ecx", Integer.toUnsignedLong(c.ecx())).put("edx", Integer.toUnsignedLong(c.edx()));
            }
            case "arm64.has_device_attr" -> r.put("errno", vcpu(p, Arm64Vcpu.class).hasDeviceAttr(group(p), Wire.u64(p, "attr")));
            case "arm64.set_device_attr" -> r.put("errno", vcpu(p, Arm64Vcpu.class).setDeviceAttr(group(p), Wire.u64(p, "attr"), Wire.u64(p, "value")));
            case "arm64.get_device_attr" -> {
                Arm64Vcpu.AttrResult a = vcpu(p, Arm64Vcpu.class).getDeviceAttr(group(p), Wire.u64(p, "attr"));
                r.put("errno", a.errno());
                if (a.errno() == 0) {
                    Wire.putU64(r, "value", a.value());
                }
            }
            case "arm64.smccc" -> {
                JsonNode args = Wire.field(p, "args");
                if (!args.isArray()) {
                    throw new Wire.Malformed("\"args\" must be an array");
                }
                long[] a = new long[args.size()];
                for (int i = 0; i < a.length; i++) {
                    a[i] = Wire.u64Value(args.get(i), "args[" + i + "]");
                }
                Wire.putU64(r, "x0", vcpu(p, Arm64Vcpu.class).smccc((int) Wire.integer(p, "function_id", 0, 0xffffffffL), a));
            }
            default -> throw new UnknownMethod();
        }
        return r;
    }

    private void hello(ObjectNode p, ObjectNode r) throws Wire.Malformed {
        long protocol = Wire.integer(p, "protocol", Integer.MIN_VALUE, Integer.MAX_VALUE);
        if (protocol != AdapterSession.PROTOCOL) {
            throw new Wire.Malformed("protocol version " + protocol + " not supported (this adapter speaks " + AdapterSession.PROTOCOL + ")");
        }
        sharedDir = Path.of(Wire.text(p, "shared_dir"));
        if (!sharedDir.isAbsolute() || !Files.isDirectory(sharedDir)) {
            throw new Wire.Malformed("shared_dir " + sharedDir + " is not an absolute path to a directory");
        }
        r.put("protocol", AdapterSession.PROTOCOL);
        r.putObject("provider").put("id", provider.id()).put("description", provider.description()).put("version", provider.version());
        ArrayNode a = r.putArray("architectures");
        provider.architectures().stream().map(Architecture::name).forEach(a::add);
        ArrayNode c = r.putArray("capabilities");
        provider.capabilities().stream().filter(x -> !NOT_IN_PROTOCOL.contains(x)).map(Capability::name).forEach(c::add);
        r.putObject("timing").put("exact", provider.timing().isExact()).put("tolerance_ns", provider.timing().tolerance().toNanos());
        Availability av = provider.availability();
        r.putObject("availability").put("available", av.available()).put("reason", av.reason());
        r.put("memory", sampled ? "sampled" : "shared");
    }

    private void open(ObjectNode p, ObjectNode r) throws Wire.Malformed {
        if (sharedDir == null) {
            throw new IllegalStateException("`hello` first");
        }
        Architecture arch;
        try {
            arch = Architecture.valueOf(Wire.text(p, "architecture"));
        } catch (IllegalArgumentException e) {
            throw new Wire.Malformed("unknown architecture " + p.get("architecture"));
        }
        JsonNode ram = Wire.field(p, "ram");
        if (!ram.isArray()) {
            throw new Wire.Malformed("\"ram\" must be an array");
        }
        List<MemoryRegion> regions = new ArrayList<>();
        for (JsonNode g : ram) {
            regions.add(new MemoryRegion(Wire.u64(g, "gpa"), Wire.u64(g, "size")));
        }
        boolean offered = Wire.bool(p, "steal_time_offered");
        boolean alone = p.has("only_steal_time") && Wire.bool(p, "only_steal_time");
        if (alone && !offered) {
            throw new Wire.Malformed("\"only_steal_time\" is true while \"steal_time_offered\" is false");
        }
        VmSpec spec = new VmSpec(arch, (int) Wire.integer(p, "vcpus", 1, 4096), regions, offered, alone);
        long handle = nextVm++;
        Path file = sharedDir.resolve("vm-" + handle + ".ram");
        Vm vm = sampled ? provider.open(spec) : SharedRam.backedBy(file, () -> provider.open(spec));
        vms.put(handle, vm);
        r.put("vm", handle);
        if (!sampled) {
            ramFiles.put(handle, file);
            if (!(vm.memory() instanceof SharedRam.Backed backed) || !backed.ramFile().equals(Optional.of(file))) {
                close(handle);
                throw new UnsupportedOperationException("provider " + provider.id()
                        + " does not keep guest RAM in a shared file; serve it with --memory sampled");
            }
            r.put("ram_file", file.toString());
            ArrayNode out = r.putArray("regions");
            List<Long> offsets = SharedRam.offsets(regions);
            for (int i = 0; i < regions.size(); i++) {
                ObjectNode o = out.addObject();
                Wire.putU64(o, "gpa", regions.get(i).gpa());
                Wire.putU64(o, "size", regions.get(i).size());
                Wire.putU64(o, "offset", offsets.get(i));
            }
        }
    }

    /**
     * Moves the region holding {@code gpa}: with shared memory the provider puts the new backing into
     * a new file of the shared directory (offset 0), which the answer names, as {@code open} does.
     */
    private void replaceBacking(ObjectNode p, ObjectNode r) throws Wire.Malformed {
        long handle = Wire.integer(p, "vm", Long.MIN_VALUE, Long.MAX_VALUE);
        GuestMemory m = memory(p);
        long gpa = Wire.u64(p, "gpa");
        if (sampled) {
            m.replaceBacking(gpa);
            return;
        }
        Path file = sharedDir.resolve("vm-" + handle + ".ram." + (nextBacking++));
        movedFiles.computeIfAbsent(handle, h -> new ArrayList<>()).add(file);
        SharedRam.backedBy(file, () -> {
            m.replaceBacking(gpa);
            return null;
        });
        if (!Files.isRegularFile(file)) {
            throw new UnsupportedOperationException("provider " + provider.id()
                    + " did not put the new backing into the shared file it was given; serve it with --memory sampled");
        }
        r.put("ram_file", file.toString());
        Wire.putU64(r, "offset", 0);
    }

    private void close(long handle) {
        Sampler s = samplers.remove(handle);
        if (s != null) {
            s.stop();
        }
        Vm vm = vms.remove(handle);
        if (vm == null) {
            throw new IllegalArgumentException("no VM " + handle);
        }
        try {
            vm.close();
        } finally {
            for (Path moved : movedFiles.getOrDefault(handle, List.of())) {
                try {
                    Files.deleteIfExists(moved);
                } catch (IOException e) {
                    System.err.println("tck serve: cannot delete " + moved + ": " + e.getMessage());
                }
            }
            movedFiles.remove(handle);
            Path f = ramFiles.remove(handle);
            if (f != null) {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException e) {
                    System.err.println("tck serve: cannot delete " + f + ": " + e.getMessage());
                }
            }
        }
    }

    private void closeAll() {
        for (Long h : new ArrayList<>(vms.keySet())) {
            try {
                close(h);
            } catch (RuntimeException e) {
                System.err.println("tck serve: closing VM " + h + ": " + e);
            }
        }
    }

    private Vm vm(ObjectNode p) throws Wire.Malformed {
        long h = Wire.integer(p, "vm", Long.MIN_VALUE, Long.MAX_VALUE);
        Vm vm = vms.get(h);
        if (vm == null) {
            throw new IllegalArgumentException("no VM " + h);
        }
        return vm;
    }

    private GuestMemory memory(ObjectNode p) throws Wire.Malformed {
        return vm(p).memory();
    }

    private <T extends Vcpu> T vcpu(ObjectNode p, Class<T> type) throws Wire.Malformed {
        Vm vm = vm(p);
        int i = (int) Wire.integer(p, "vcpu", 0, Integer.MAX_VALUE);
        if (i >= vm.vcpus().size()) {
            throw new IllegalArgumentException("VM has no vCPU " + i);
        }
        Vcpu v = vm.vcpu(i);
        if (!type.isInstance(v)) {
            throw new UnsupportedOperationException("vCPU " + i + " is not a " + type.getSimpleName());
        }
        return type.cast(v);
    }

    private static Duration duration(ObjectNode p) throws Wire.Malformed {
        return Duration.ofNanos(Wire.integer(p, "duration_ns", 0, Long.MAX_VALUE));
    }

    private static int msr(ObjectNode p) throws Wire.Malformed {
        return (int) Wire.integer(p, "msr", 0, 0xffffffffL);
    }

    private static int group(ObjectNode p) throws Wire.Malformed {
        return (int) Wire.integer(p, "group", Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    private static void msr(ObjectNode r, MsrResult m) {
        r.put("faulted", m.faulted());
        Wire.putU64(r, "value", m.value());
    }

    // --- sampling (docs/adapter-protocol.md §6)

    private long sampleStart(ObjectNode p) throws Wire.Malformed {
        Vm vm = vm(p);
        long handle = Wire.integer(p, "vm", Long.MIN_VALUE, Long.MAX_VALUE);
        if (samplers.containsKey(handle)) {
            throw new IllegalStateException("a sampling session is already running on VM " + handle);
        }
        int readers = (int) Wire.integer(p, "readers", 1, 64);
        int max = (int) Wire.integer(p, "max_iterations", 1, 1 << 24);
        JsonNode prog = Wire.field(p, "program");
        if (!prog.isArray() || prog.isEmpty()) {
            throw new Wire.Malformed("\"program\" must be a non-empty array");
        }
        List<GuestMemory.Load> program = new ArrayList<>();
        for (JsonNode l : prog) {
            program.add(new GuestMemory.Load(Wire.u64(l, "gpa"), (int) Wire.integer(l, "width", 4, 8)));
        }
        Sampler s = new Sampler(nextSession++, vm.memory(), readers, program, max);
        samplers.put(handle, s);
        return s.session;
    }

    private void sampleStop(ObjectNode p, ObjectNode r) throws Wire.Malformed {
        long handle = Wire.integer(p, "vm", Long.MIN_VALUE, Long.MAX_VALUE);
        long session = Wire.integer(p, "session", Long.MIN_VALUE, Long.MAX_VALUE);
        Sampler s = samplers.get(handle);
        if (s == null || s.session != session) {
            throw new IllegalArgumentException("no sampling session " + session + " on VM " + handle);
        }
        samplers.remove(handle);
        ArrayNode readers = r.putArray("readers");
        for (GuestMemory.Recorded rec : s.stop()) {
            ObjectNode o = readers.addObject().put("iterations", rec.records());
            ArrayNode a = o.putArray("values");
            for (long x : rec.values()) {
                addU64(a, x);
            }
            ArrayNode c = o.putArray("counts");
            for (long x : rec.counts()) {
                addU64(c, x);
            }
        }
    }

    private static void addU64(ArrayNode a, long x) {
        if (x >= 0) {
            a.add(x);
        } else {
            a.add(new BigInteger(Long.toUnsignedString(x)));
        }
    }
}
