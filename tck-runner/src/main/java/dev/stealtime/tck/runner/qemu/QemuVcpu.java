package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.X86Vcpu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;

/**
 * One vCPU of the test guest under QEMU: guest-side requests go over the serial port as
 * {@code @N REQUEST}; {@link #preempt} and {@link #idle} add the competitor on the CPU QEMU's vCPU
 * thread is pinned to; the ground truth is that thread's schedstat run_delay. What only QEMU itself
 * could do to the MSR (host-initiated set/get) is not reachable: {@code HOST_MSR_ACCESS} is not
 * declared, and those calls throw.
 */
final class QemuVcpu implements X86Vcpu {

    /**
     * Guest time the busy run lasts beyond a preemption's hold: the hold begins 1 ms after the
     * competitor sees the vCPU thread running, so it falls inside the run; the rest is spent
     * running after the release (the entry that publishes the steal).
     */
    private static final Duration PREEMPT_MARGIN = Duration.ofMillis(4);

    private final QemuVm vm;
    private final int index;
    private final int tid;
    private final int cpu;

    QemuVcpu(QemuVm vm, int index, int tid, int cpu) {
        this.vm = vm;
        this.index = index;
        this.tid = tid;
        this.cpu = cpu;
    }

    @Override
    public int index() {
        return index;
    }

    int tid() {
        return tid;
    }

    int cpu() {
        return cpu;
    }

    @Override
    public void run(Duration d) {
        expect("run " + d.toNanos(), "ok elapsed=", d);
    }

    @Override
    public void preempt(Duration d) {
        vm.preempt(this, "@" + index + " run " + d.plus(PREEMPT_MARGIN).toNanos(), d);
    }

    @Override
    public void idle(Duration d) {
        vm.idle(this, "@" + index + " idle " + vm.guestIdle(d).toNanos(), d);
    }

    /** Field 2 of the vCPU thread's schedstat: its run_delay (the kernel running QEMU measures it, as its KVM does steal). */
    @Override
    public long hostStealMeasureNanos() {
        try {
            return vm.runDelayNanos(tid);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read run_delay of vCPU " + index + " (QEMU thread " + tid + "): " + e.getMessage(), e);
        }
    }

    @Override
    public MsrResult guestWrmsr(int msr, long value) {
        String req = "wrmsr 0x" + Integer.toHexString(msr) + " 0x" + Long.toHexString(value);
        String a = vm.ask(index, req, Duration.ZERO);
        if (a.equals("#GP")) {
            return MsrResult.gp();
        }
        if (a.equals("ok")) {
            return MsrResult.ok();
        }
        throw unexpected(req, "ok or #GP", a);
    }

    @Override
    public MsrResult guestRdmsr(int msr) {
        String req = "rdmsr 0x" + Integer.toHexString(msr);
        String a = vm.ask(index, req, Duration.ZERO);
        if (a.equals("#GP")) {
            return MsrResult.gp();
        }
        if (a.startsWith("ok 0x")) {
            return MsrResult.ok(Long.parseUnsignedLong(a.substring(5), 16));
        }
        throw unexpected(req, "ok VALUE or #GP", a);
    }

    @Override
    public boolean hostSetMsr(int msr, long value) {
        throw new UnsupportedOperationException("QEMU offers no host-initiated MSR write to a client (Capability.HOST_MSR_ACCESS)");
    }

    @Override
    public long hostGetMsr(int msr) {
        throw new UnsupportedOperationException("QEMU offers no host-initiated MSR read to a client (Capability.HOST_MSR_ACCESS)");
    }

    @Override
    public CpuidResult cpuid(int leaf) {
        String req = "cpuid 0x" + Integer.toHexString(leaf) + " 0";
        String a = vm.ask(index, req, Duration.ZERO);
        String[] w = a.split(" ");
        if (w.length != 5 || !w[0].equals("ok")) {
            throw unexpected(req, "ok EAX EBX ECX EDX", a);
        }
        return new CpuidResult(reg(w[1]), reg(w[2]), reg(w[3]), reg(w[4]));
    }

    private static int reg(String hex) {
        return (int) Long.parseLong(hex.substring(2), 16);
    }

    private void expect(String req, String prefix, Duration d) {
        String a = vm.ask(index, req, d);
        if (!a.startsWith(prefix)) {
            throw unexpected(req, prefix + "...", a);
        }
    }

    private IllegalStateException unexpected(String req, String expected, String seen) {
        return new IllegalStateException("test guest, vCPU " + index + ", request '@" + index + " " + req + "': expected '"
                + expected + "', seen '" + seen + "'");
    }

    static UncheckedIOException unchecked(IOException e) {
        return new UncheckedIOException(e.getMessage(), e);
    }
}
