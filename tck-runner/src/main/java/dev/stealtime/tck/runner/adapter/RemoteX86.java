package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.X86Vcpu;

/** A remote x86 vCPU: MSRs and CPUID as {@code x86.*} requests. */
final class RemoteX86 extends RemoteVcpu implements X86Vcpu {
    RemoteX86(RemoteVm vm, int index) {
        super(vm, index);
    }

    private MsrResult msr(String method, ObjectNode p) {
        ObjectNode r = adapter.call(method, p, 0);
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
        return bool(adapter.call("x86.host_set_msr", p, 0), "x86.host_set_msr", "accepted");
    }

    @Override
    public long hostGetMsr(int msr) {
        return u64(adapter.call("x86.host_get_msr", params().put("msr", Integer.toUnsignedLong(msr)), 0), "x86.host_get_msr", "value");
    }

    @Override
    public CpuidResult cpuid(int leaf) {
        String m = "x86.cpuid";
        ObjectNode r = adapter.call(m, params().put("leaf", Integer.toUnsignedLong(leaf)), 0);
        return new CpuidResult((int) integer(r, m, "eax", 0, 0xffffffffL), (int) integer(r, m, "ebx", 0, 0xffffffffL),
                (int) integer(r, m, "ecx", 0, 0xffffffffL), (int) integer(r, m, "edx", 0, 0xffffffffL));
    }
}
