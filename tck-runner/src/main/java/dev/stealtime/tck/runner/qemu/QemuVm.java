package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One QEMU running the test guest, on this host or inside an emulated machine ({@link QemuProcess}):
 * started in {@link #start}, stopped in {@link #close}. One request is in the guest at a time, so
 * every call holds this VM's lock.
 */
final class QemuVm implements Vm {

    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(10);
    /** How long a stalled guest's vCPU threads are watched for the failure message ({@link #stall}). */
    private static final Duration STALL_SAMPLE = Duration.ofMillis(500);
    /** How often a preemption or idle is asked when the competitor misses its moment. */
    static final int HOLD_ATTEMPTS = 3;
    /** Misses of every VM of this JVM, said when it ends ({@link QemuProvider}). */
    static final java.util.concurrent.atomic.AtomicInteger MISSES = new java.util.concurrent.atomic.AtomicInteger();
    /** Reads the guest's answer while the caller waits for the competitor's (daemon threads). */
    private static final java.util.concurrent.ExecutorService ANSWERS = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "qemu guest answer");
        t.setDaemon(true);
        return t;
    });
    /** In {@code query-hotpluggable-cpus}: a slot with no CPU in it (no qom-path): its props and its type. */
    private static final Pattern FREE_CPU_SLOT = Pattern.compile("\\{\"props\": \\{([^}]*)\\}, \"vcpus-count\": \\d+, \"type\": \"([^\"]+)\"\\}");
    /** The answer to a QMP {@code qom-get} of an integer property. */
    private static final Pattern QOM_INTEGER = Pattern.compile("\"return\":\\s*(\\d+)");
    private static final Pattern HELLO = Pattern.compile("^ok tck-guest version=1 arch=(\\S+) vcpus=(\\d+) .* free=0x([0-9a-f]+)-0x([0-9a-f]+)( .*)?$");

    private final VmSpec spec;
    /** Holds of this VM that missed their moment and were asked again. */
    private int misses;
    private final QemuProcess qemu;
    private final QemuLauncher launcher;
    private final Duration shortestIdle;
    private final GuestConsole console;
    private final List<QemuVcpu> vcpus = new java.util.concurrent.CopyOnWriteArrayList<>();
    private SharedRam memory;
    private volatile boolean closed;

    private QemuVm(VmSpec spec, QemuProcess qemu, QemuLauncher launcher) {
        this.spec = spec;
        this.qemu = qemu;
        this.launcher = launcher;
        this.shortestIdle = launcher.shortestIdle();
        this.console = new GuestConsole(qemu.fromGuest(), qemu.toGuest(), qemu.name());
    }

    /** Starts QEMU with the test guest for {@code spec}; on any failure nothing is left running. */
    static QemuVm start(QemuLauncher launcher, VmSpec spec) throws IOException {
        QemuProcess qemu = launcher.launch(spec);
        QemuVm vm = new QemuVm(spec, qemu, launcher);
        try {
            vm.console.awaitReady(BOOT_TIMEOUT);
            vm.hello();
            vm.attach(qemu.vcpuThreads(BOOT_TIMEOUT));
            return vm;
        } catch (IOException | RuntimeException e) {
            throw vm.failedToStart(e);
        }
    }

    private IOException failedToStart(Exception e) {
        String err = qemu.stderrTail();
        close();
        return new IOException(e.getMessage() + (err.isEmpty() ? "" : " (QEMU said: " + err + ")"), e);
    }

    /** Asks the guest {@code hello} and checks its vCPUs and that the TCK's windows lie in its free RAM. */
    private void hello() throws IOException {
        String hello = console.ask("hello", ANSWER_TIMEOUT);
        String arch = spec.architecture() == Architecture.ARM64 ? "arm64" : "x86_64";
        Matcher m = HELLO.matcher(hello);
        if (!m.matches() || !m.group(1).equals(arch)) {
            throw new IOException("test guest: expected 'ok tck-guest version=1 arch=" + arch + " vcpus=N ... free=A-B ...', seen '" + hello + "'");
        }
        if (spec.architecture() == Architecture.ARM64 && !hello.contains(" gic=v3")) {
            throw new IOException("test guest: its WFI is woken through a GICv3, and it found none (hello: " + hello + ")");
        }
        int seen = Integer.parseInt(m.group(2));
        if (seen != spec.vcpus()) {
            throw new IOException("test guest: expected " + spec.vcpus() + " vCPUs (-smp), the guest brought up " + seen);
        }
        long freeStart = Long.parseUnsignedLong(m.group(3), 16);
        long freeEnd = Long.parseUnsignedLong(m.group(4), 16);
        for (MemoryRegion r : spec.ram()) {
            if (r.gpa() >= QemuCommand.FOUR_GIB) {
                continue;             // a pc-dimm of its own, which the guest never touches
            }
            if (r.gpa() < freeStart || r.end() > freeEnd) {
                throw new IOException(String.format("the TCK's window %s is not inside the guest's free RAM [0x%x, 0x%x) (hello: %s)",
                        r, freeStart, freeEnd, hello));
            }
        }
    }

    /** Pins vCPU i's thread to CPU i mod the CPUs there, and maps guest RAM. */
    private void attach(Map<Integer, Integer> threads) throws IOException {
        int cpus = qemu.cpus();
        for (int i = 0; i < spec.vcpus(); i++) {
            Integer tid = threads.get(i);
            if (tid == null) {
                throw new IOException("QMP query-cpus-fast: expected cpu-index " + i + ", seen " + threads);
            }
            int cpu = i % cpus;
            qemu.competitor().pin(tid, cpu);
            vcpus.add(spec.architecture() == Architecture.ARM64 ? new QemuArm64Vcpu(this, i, tid, cpu) : new QemuX86Vcpu(this, i, tid, cpu));
        }
        memory = new SharedRam(qemu.backings(), spec);
    }

    /**
     * QEMU's own save and restore, as a user's snapshot does: QMP {@code migrate} to a file (the
     * guest stops in its request loop), this QEMU stops, a new one starts with {@code -incoming defer}
     * and loads the file ({@code migrate-incoming}), then runs on; the guest continues where it was
     * and answers {@code hello}.
     */
    @Override
    public Vm saveAndRestore() {
        String file;
        synchronized (this) {
            checkOpen();
            try {
                file = launcher.snapshotPath();
                qemu.qmp(migrate("exec:cat > " + file), ANSWER_TIMEOUT);
                awaitMigration(qemu, "saving the VM (QMP migrate to " + file + ")");
            } catch (IOException e) {
                throw failure("QMP migrate", e);
            }
        }
        close();
        try {
            return continued("restoring the saved VM in a new QEMU", dst -> {
                dst.qmp(migrateIncoming("exec:cat " + file), ANSWER_TIMEOUT);
                awaitMigration(dst, "restoring the VM (QMP migrate-incoming from " + file + ")");
            });
        } finally {
            launcher.dropSnapshot();
        }
    }

    /**
     * QEMU's own live migration, as to another host: a new QEMU starts with {@code -incoming defer}
     * and waits ({@code migrate-incoming}); this one runs on while QMP {@code migrate} copies the
     * guest's memory (dirty pages in further passes), then stops; the new one runs on, and the guest
     * answers {@code hello} there. The stream goes by {@link QemuLauncher#migrationChannel}.
     */
    @Override
    public Vm liveMigrate() {
        synchronized (this) {
            checkOpen();
        }
        QemuVm vm = continued("migrating the VM live into a new QEMU", dst -> {
            try (MigrationChannel channel = launcher.migrationChannel(qemu, dst)) {
                dst.qmp(migrateIncoming(channel.incoming()), ANSWER_TIMEOUT);
                synchronized (this) {
                    checkOpen();
                    qemu.qmp(migrate(channel.outgoing()), ANSWER_TIMEOUT);
                    awaitMigration(qemu, "migrating the VM (QMP migrate to " + channel.outgoing() + ")");
                }
                awaitMigration(dst, "receiving the VM (QMP migrate-incoming from " + channel.incoming() + ")");
            }
        });
        close();
        return vm;
    }

    private static String migrate(String uri) {
        return "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"" + uri + "\"}}";
    }

    private static String migrateIncoming(String uri) {
        return "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"" + uri + "\"}}";
    }

    /** How the state reaches a QEMU started with {@code -incoming defer}. */
    private interface Incoming {
        void load(QemuProcess destination) throws IOException;
    }

    /**
     * A new QEMU with {@code -incoming defer}, the state loaded into it by {@code incoming}, then the
     * guest's {@code hello} there: the VM that continues this one. On failure nothing new is left running.
     */
    private QemuVm continued(String what, Incoming incoming) {
        QemuVm vm = null;
        try {
            QemuProcess dst = launcher.launch(spec, List.of("-incoming", "defer"));
            vm = new QemuVm(spec, dst, launcher);
            Map<Integer, Integer> threads = dst.vcpuThreads(BOOT_TIMEOUT);
            incoming.load(dst);
            vm.hello();
            vm.attach(threads);
            QemuProvider.track(vm);
            return vm;
        } catch (IOException | RuntimeException e) {
            IOException why = vm != null ? vm.failedToStart(e) : new IOException(e.getMessage(), e);
            throw new IllegalStateException(what + ": " + why.getMessage(), why);
        }
    }

    /**
     * QEMU's CPU hot-plug (x86): QMP {@code device_add} of the free slot {@code query-hotpluggable-cpus}
     * names (QEMU was started with room for one: {@code -smp N,maxcpus=N+1}), its APIC ID from
     * {@code qom-get}, its thread from {@code query-cpus-fast}; then the guest's {@code cpu-up APIC_ID}
     * (INIT-SIPI-SIPI) brings it online as vCPU N.
     */
    @Override
    public synchronized Vcpu hotplugVcpu() {
        checkOpen();
        if (spec.architecture() != Architecture.X86_64) {
            throw new UnsupportedOperationException("CPU hot-plug: x86-64 only (QEMU virt has none)");
        }
        int index = vcpus.size();
        String id = "tck-cpu" + index;
        try {
            String slots = qemu.qmp("{\"execute\":\"query-hotpluggable-cpus\"}", ANSWER_TIMEOUT);
            Matcher free = FREE_CPU_SLOT.matcher(slots);
            if (!free.find()) {
                throw new IOException("QMP query-hotpluggable-cpus: expected a slot without a qom-path, seen " + slots.strip());
            }
            qemu.qmp("{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"" + free.group(2) + "\",\"id\":\"" + id + "\","
                    + free.group(1) + "}}", ANSWER_TIMEOUT);
            String apic = qemu.qmp("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/" + id
                    + "\",\"property\":\"apic-id\"}}", ANSWER_TIMEOUT);
            Matcher a = QOM_INTEGER.matcher(apic);
            if (!a.find()) {
                throw new IOException("QMP qom-get apic-id of " + id + ": " + apic.strip());
            }
            Integer tid = qemu.vcpuThreads(ANSWER_TIMEOUT).get(index);
            if (tid == null) {
                throw new IOException("QMP query-cpus-fast names no thread for cpu-index " + index + " after device_add");
            }
            String up = console.ask("cpu-up " + a.group(1), ANSWER_TIMEOUT);
            if (!up.equals("ok vcpu=" + index)) {
                throw new IOException("the test guest's cpu-up " + a.group(1) + ": expected 'ok vcpu=" + index + "', seen '" + up + "'");
            }
            int cpu = index % qemu.cpus();
            qemu.competitor().pin(tid, cpu);
            QemuVcpu v = new QemuX86Vcpu(this, index, tid, cpu);
            vcpus.add(v);
            return v;
        } catch (IOException e) {
            throw failure("hot-plug of vCPU " + index, e);
        }
    }

    /** Polls {@code query-migrate} until QEMU says {@code completed}; {@code failed}, or no end within the boot timeout, throws. */
    private static void awaitMigration(QemuProcess q, String what) throws IOException {
        long deadline = System.nanoTime() + BOOT_TIMEOUT.toNanos();
        String last = "";
        while (System.nanoTime() - deadline < 0) {
            last = q.qmp("{\"execute\":\"query-migrate\"}", ANSWER_TIMEOUT);
            if (last.contains("\"completed\"")) {
                return;
            }
            if (last.contains("\"failed\"") || last.contains("\"cancelled\"")) {
                throw new IOException(what + ": " + last.strip());
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while " + what, e);
            }
        }
        throw new IOException(what + ": not completed within " + BOOT_TIMEOUT.toSeconds() + " s; last query-migrate: " + last.strip());
    }

    /** The QEMU behind this VM (for self-tests: whether it still runs after {@link #close}). */
    QemuProcess process() {
        return qemu;
    }

    /** The guest's part of {@code idle(d)}: at least {@link QemuLauncher#shortestIdle}, so the competitor sees the halt. */
    Duration preemptMargin() {
        return launcher.preemptMargin();
    }

    Duration guestIdle(Duration d) {
        return d.compareTo(shortestIdle) < 0 ? shortestIdle : d;
    }

    /** The run delay of vCPU thread {@code tid}, as the kernel that runs QEMU measures it. */
    long runDelayNanos(int tid) throws IOException {
        checkOpen();
        return qemu.runDelayNanos(tid);
    }

    /** Sends {@code @index request} and returns the answer; {@code d} is how long the guest works on it. */
    synchronized String ask(int index, String request, Duration d) {
        checkOpen();
        String req = "@" + index + " " + request;
        try {
            return console.ask(req, timeout(d));
        } catch (IOException e) {
            throw failure(req, e);
        }
    }

    /**
     * The guest busy on {@code guestRequest} while the competitor holds the vCPU thread's CPU for
     * {@code hold}: the request first, then the competitor waits for the thread to run.
     */
    synchronized void preempt(QemuVcpu v, String guestRequest, Duration hold) {
        withHold(guestRequest, hold, () -> {
            console.send(guestRequest);
            qemu.competitor().startPreempt(v.tid(), v.cpu(), hold);
        });
    }

    /**
     * The guest idles on {@code guestRequest} while the competitor holds the vCPU thread's CPU for
     * {@code hold}: the competitor armed first (it notes the thread's state), then the request.
     */
    synchronized void idle(QemuVcpu v, String guestRequest, Duration hold) {
        withHold(guestRequest, hold, () -> {
            qemu.competitor().armIdle(v.tid(), v.cpu(), hold);
            console.send(guestRequest);
        });
    }

    /** How a hold begins: the guest's request and the competitor's, in the order the hold needs. */
    private interface HoldStart {
        void start() throws IOException;
    }

    /** Starts the hold and asks again while the competitor missed its moment ({@link #held}). */
    private void withHold(String guestRequest, Duration hold, HoldStart start) {
        checkOpen();
        try {
            for (int attempt = 1; ; attempt++) {
                start.start();
                if (held(guestRequest, hold, attempt)) {
                    return;
                }
            }
        } catch (IOException e) {
            throw failure(guestRequest, e);
        }
    }

    /**
     * Waits for the competitor's hold and the guest's answer to {@code guestRequest}: true when the
     * hold was made. The guest's answer cancels a hold still waiting for its moment: the vCPU ran (or
     * halted) and finished unseen, as when the machine that runs QEMU did not schedule the
     * competitor for longer than the guest's run (seen inside the emulated machines while a race's
     * readers kept the host's CPUs busy: "did not run within 10 s"). Then false, and the caller asks
     * again; after {@value #HOLD_ATTEMPTS} such misses in a row, the failure says so.
     */
    private boolean held(String guestRequest, Duration hold, int attempt) throws IOException {
        Competitor competitor = qemu.competitor();
        java.util.concurrent.CompletableFuture<String> answer = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return console.answer(guestRequest, timeout(hold.multipliedBy(2)));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } finally {
                competitor.cancel();
            }
        }, ANSWERS);
        boolean held = competitor.awaitHold();
        try {
            expectElapsed(guestRequest, answer.join());
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof java.io.UncheckedIOException u ? u.getCause() : new IOException(e.getCause());
        }
        if (!held) {
            misses++;
            MISSES.incrementAndGet();
            if (attempt >= HOLD_ATTEMPTS) {
                throw new IOException("the competitor missed the vCPU thread's moment " + attempt + " times in a row (the guest had"
                        + " answered before the competitor saw it run or halt; " + misses + " misses in this VM)");
            }
        }
        return held;
    }

    private static void expectElapsed(String request, String answer) throws IOException {
        if (!answer.startsWith("ok elapsed=")) {
            throw new IOException("expected 'ok elapsed=NS...', seen '" + answer + "'");
        }
    }

    private static Duration timeout(Duration d) {
        return ANSWER_TIMEOUT.plus(d.multipliedBy(2));
    }

    private IllegalStateException failure(String request, IOException e) {
        String err = qemu.stderrTail();
        return new IllegalStateException(qemu.name() + ", request '" + request + "': " + e.getMessage()
                + (err.isEmpty() ? "" : " (QEMU said: " + err + ")") + (e instanceof NoAnswerException ? "; " + stall() : ""), e);
    }

    /**
     * What QEMU was doing when the guest did not answer: whether it runs, its run state (QMP
     * {@code query-status}) and each vCPU thread's state, time on the CPU and run delay over
     * {@link #STALL_SAMPLE}. A thread that neither runs nor waits for a CPU is blocked in QEMU or
     * KVM; one whose run delay grows by the whole sample is starved of its CPU.
     */
    private String stall() {
        if (!qemu.alive()) {
            return "QEMU is no longer running";
        }
        StringBuilder s = new StringBuilder("QEMU runs");
        try {
            s.append(", QMP query-status: ").append(qemu.qmp("{\"execute\":\"query-status\"}", ANSWER_TIMEOUT).strip());
        } catch (IOException e) {
            s.append(", QMP query-status did not answer: ").append(e.getMessage());
        }
        try {
            Map<Integer, ThreadSample> before = threadSamples();
            Thread.sleep(STALL_SAMPLE.toMillis());
            Map<Integer, ThreadSample> after = threadSamples();
            for (QemuVcpu v : vcpus) {
                ThreadSample b = before.get(v.tid());
                ThreadSample a = after.get(v.tid());
                s.append(String.format("; vCPU %d (thread %d, pinned to CPU %d): state %s, %,d µs on the CPU and %,d µs of run delay in %d ms",
                        v.index(), v.tid(), v.cpu(), a.state(), (a.onCpuNanos() - b.onCpuNanos()) / 1000,
                        (a.runDelayNanos() - b.runDelayNanos()) / 1000, STALL_SAMPLE.toMillis()));
            }
        } catch (IOException | RuntimeException e) {
            s.append("; the vCPU threads could not be sampled: ").append(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return s.toString();
    }

    private Map<Integer, ThreadSample> threadSamples() throws IOException {
        Map<Integer, ThreadSample> m = new java.util.HashMap<>();
        for (QemuVcpu v : vcpus) {
            m.put(v.tid(), qemu.threadSample(v.tid()));
        }
        return m;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the VM is closed (QEMU stopped)");
        }
    }

    @Override
    public VmSpec spec() {
        return spec;
    }

    @Override
    public GuestMemory memory() {
        checkOpen();
        return memory;
    }

    @Override
    public List<QemuVcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    /** Stops QEMU and the competitor (and removes what they left). Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (memory != null) {
            memory.close();
        }
        qemu.close();
        QemuProvider.forget(this);
    }
}
