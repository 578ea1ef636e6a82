package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.spi.Vcpu;

import java.time.Duration;

/** A remote vCPU: what both architectures share (workloads, host steal, typed answers). */
abstract class RemoteVcpu implements Vcpu {
    final AdapterSession adapter;
    final RemoteVm vm;
    final int index;

    RemoteVcpu(RemoteVm vm, int index) {
        this.adapter = vm.adapter;
        this.vm = vm;
        this.index = index;
    }

    ObjectNode params() {
        return AdapterSession.vmParams(vm.handle).put("vcpu", index);
    }

    @Override
    public int index() {
        return index;
    }

    private void workload(String method, Duration d) {
        adapter.call(method, params().put("duration_ns", d.toNanos()), d.toNanos());
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
        return u64(adapter.call("vcpu.host_steal", params(), 0), "vcpu.host_steal", "ns");
    }

    long u64(ObjectNode r, String method, String field) {
        try {
            return Wire.u64(r, field);
        } catch (Wire.Malformed e) {
            throw adapter.fault("answered `" + method + "` with " + e.getMessage());
        }
    }

    long integer(ObjectNode r, String method, String field, long min, long max) {
        try {
            return Wire.integer(r, field, min, max);
        } catch (Wire.Malformed e) {
            throw adapter.fault("answered `" + method + "` with " + e.getMessage());
        }
    }

    boolean bool(ObjectNode r, String method, String field) {
        try {
            return Wire.bool(r, field);
        } catch (Wire.Malformed e) {
            throw adapter.fault("answered `" + method + "` with " + e.getMessage());
        }
    }
}
