package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Vcpu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;

/**
 * One vCPU of the test guest under QEMU, what both architectures share: guest-side requests go over
 * the serial port as {@code @N REQUEST}; {@link #preempt} and {@link #idle} add the competitor on the
 * CPU QEMU's vCPU thread is pinned to; the ground truth is that thread's schedstat run_delay. The
 * architecture's own calls are in {@link QemuX86Vcpu} and {@link QemuArm64Vcpu}.
 */
abstract class QemuVcpu implements Vcpu {

    final QemuVm vm;
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
        // the hold begins 1 ms after the competitor sees the vCPU thread running, so it falls inside
        // the run; the rest is spent running after the release (the entry that publishes the steal)
        vm.preempt(this, "@" + index + " run " + d.plus(vm.preemptMargin()).toNanos(), d);
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

    /** The guest's answer to {@code @index req}, which takes no guest time of its own. */
    String ask(String req) {
        return vm.ask(index, req, Duration.ZERO);
    }

    private void expect(String req, String prefix, Duration d) {
        String a = vm.ask(index, req, d);
        if (!a.startsWith(prefix)) {
            throw unexpected(req, prefix + "...", a);
        }
    }

    IllegalStateException unexpected(String req, String expected, String seen) {
        return new IllegalStateException("test guest, vCPU " + index + ", request '@" + index + " " + req + "': expected '"
                + expected + "', seen '" + seen + "'");
    }

    static UncheckedIOException unchecked(IOException e) {
        return new UncheckedIOException(e.getMessage(), e);
    }
}
