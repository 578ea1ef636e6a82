package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.support.GuestLayout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A remote VM's guest RAM: the mapped RAM file when the adapter shares it, else {@code memory.*}
 * requests (docs/adapter-protocol.md).
 */
final class RemoteMemory implements GuestMemory {
    private final AdapterSession adapter;
    private final RemoteVm vm;
    private final List<ByteBuffer> mapped;

    RemoteMemory(RemoteVm vm, List<ByteBuffer> mapped) {
        this.adapter = vm.adapter;
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
        ObjectNode p = AdapterSession.vmParams(vm.handle).put("length", length);
        Wire.putU64(p, "gpa", gpa);
        return bytes(adapter.call("memory.read", p, 0), length, "memory.read");
    }

    /** The SPI's promise: a closed VM's memory is gone (the mapping may outlive it, the answer may not). */
    private void refuseIfClosed() {
        if (vm.closed) {
            throw new IllegalStateException("the VM is closed: its guest memory is gone (adapter " + adapter.origin() + ")");
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
            throw adapter.fault("answered `" + method + "` with " + e.getMessage());
        }
    }

    @Override
    public void write(long gpa, byte[] bytes) {
        refuseIfClosed();
        if (mapped != null) {
            liveView(gpa, bytes.length).put(bytes);
            return;
        }
        ObjectNode p = AdapterSession.vmParams(vm.handle).put("bytes", Wire.hex(bytes));
        Wire.putU64(p, "gpa", gpa);
        adapter.call("memory.write", p, 0);
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
        ObjectNode p = AdapterSession.vmParams(vm.handle).put("bytes", Wire.hex(a));
        Wire.putU64(p, "gpa", gpa);
        adapter.call("memory.write", p, 0);
        byte[] seen = new byte[a.length];
        liveView(gpa, a.length).get(seen);
        liveView(gpa + 8, b.length).put(b);
        ObjectNode q = AdapterSession.vmParams(vm.handle).put("length", b.length);
        Wire.putU64(q, "gpa", gpa + 8);
        byte[] back;
        try {
            back = Wire.hex(adapter.call("memory.read", q, 0), "bytes");
        } catch (Wire.Malformed e) {
            throw adapter.fault("answered `memory.read` with " + e.getMessage());
        }
        liveView(gpa, 16).put(new byte[16]);
        if (!Arrays.equals(seen, a)) {
            throw adapter.fault(String.format("wrote %s at 0x%x with `memory.write`, but the shared RAM file holds %s there",
                    Wire.hex(a), gpa, Wire.hex(seen)));
        }
        if (!Arrays.equals(back, b)) {
            throw adapter.fault(String.format("`memory.read` of 0x%x returned %s, but the shared RAM file holds %s there",
                    gpa + 8, Wire.hex(back), Wire.hex(b)));
        }
    }

    @Override
    public ByteBuffer liveView(long gpa, int length) {
        refuseIfClosed();
        if (mapped == null) {
            throw new UnsupportedOperationException("adapter " + adapter.origin() + " samples guest RAM; it has no live view");
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

    // ---- dirty logging and memory that moves (docs/adapter-protocol.md §4.7, §4.8)

    private volatile long granule = MemoryRegion.PAGE;
    /** Shared memory: per region index, the mapping a move retired. */
    private final Map<Integer, ByteBuffer> retired = new ConcurrentHashMap<>();

    @Override
    public void startDirtyLog() {
        ObjectNode r = adapter.call("memory.dirty_log_start", AdapterSession.vmParams(vm.handle), 0);
        try {
            long g = Wire.u64(r, "granule");
            if (g < MemoryRegion.PAGE || Long.bitCount(g) != 1) {
                throw new Wire.Malformed("\"granule\" " + g + " is not a power of two of at least 4096");
            }
            granule = g;
        } catch (Wire.Malformed e) {
            throw adapter.fault("answered `memory.dirty_log_start` with " + e.getMessage());
        }
    }

    @Override
    public long dirtyLogGranule() {
        return granule;
    }

    @Override
    public long[] takeDirtyPages() {
        ObjectNode r = adapter.call("memory.dirty_log_take", AdapterSession.vmParams(vm.handle), 0);
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
            throw adapter.fault("answered `memory.dirty_log_take` with " + e.getMessage());
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
        ObjectNode p = AdapterSession.vmParams(vm.handle);
        Wire.putU64(p, "gpa", gpa);
        ObjectNode r = adapter.call("memory.replace_backing", p, 0);
        if (mapped == null) {
            return;
        }
        MemoryRegion region = vm.spec.ram().get(i);
        try {
            Path local = adapter.localRamFile(Wire.text(r, "ram_file"));
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
            throw adapter.fault("answered `memory.replace_backing` with " + e.getMessage());
        } catch (IOException e) {
            throw adapter.fault("reported a new RAM file the TCK cannot map: " + e);
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
        ObjectNode p = AdapterSession.vmParams(vm.handle).put("length", length);
        Wire.putU64(p, "gpa", gpa);
        return bytes(adapter.call("memory.read_retired", p, 0), length, "memory.read_retired");
    }

    @Override
    public Sampling startSampling(int readers, List<Load> program, int maxIterations) {
        if (mapped != null) {
            throw new UnsupportedOperationException("guest RAM is shared: use liveView");
        }
        ObjectNode p = AdapterSession.vmParams(vm.handle).put("readers", readers).put("max_iterations", maxIterations);
        ArrayNode prog = p.putArray("program");
        for (Load l : program) {
            ObjectNode o = prog.addObject();
            Wire.putU64(o, "gpa", l.gpa());
            o.put("width", l.width());
        }
        ObjectNode r = adapter.call("memory.sample_start", p, 0);
        long session;
        try {
            session = Wire.integer(r, "session", Long.MIN_VALUE, Long.MAX_VALUE);
        } catch (Wire.Malformed e) {
            throw adapter.fault("answered `memory.sample_start` with " + e.getMessage());
        }
        return () -> stopSampling(session, readers, program, maxIterations);
    }

    private List<Recorded> stopSampling(long session, int readers, List<Load> program, int maxIterations) {
        ObjectNode r = adapter.call("memory.sample_stop", AdapterSession.vmParams(vm.handle).put("session", session), 0);
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
                    Arrays.fill(c, 1);
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
            throw adapter.fault("answered `memory.sample_stop` with " + e.getMessage());
        }
    }
}
