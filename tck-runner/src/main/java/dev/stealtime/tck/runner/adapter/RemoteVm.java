package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.util.ArrayList;
import java.util.List;

/** A VM the adapter opened ({@link AdapterSession#open}): its vCPUs and memory are requests in the same session. */
final class RemoteVm implements Vm {
    final AdapterSession adapter;
    final long handle;
    final VmSpec spec;
    final List<Vcpu> vcpus;
    RemoteMemory memory;
    volatile boolean closed;

    RemoteVm(AdapterSession adapter, long handle, VmSpec spec) {
        this.adapter = adapter;
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
        if (adapter.ended() == null) {          // a dead adapter's VMs are gone with it
            adapter.call("close", AdapterSession.vmParams(handle), 0);
        }
    }
}
