package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.X86Vcpu;

/**
 * An x86-64 vCPU of the test guest under QEMU: CPUID, WRMSR and RDMSR by the guest (#GP caught by the
 * guest and answered). What only QEMU itself could do to the MSR (host-initiated set/get) is not
 * reachable: {@code HOST_MSR_ACCESS} is not declared, and those calls throw.
 */
final class QemuX86Vcpu extends QemuVcpu implements X86Vcpu {

    QemuX86Vcpu(QemuVm vm, int index, int tid, int cpu) {
        super(vm, index, tid, cpu);
    }

    @Override
    public MsrResult guestWrmsr(int msr, long value) {
        String req = "wrmsr 0x" + Integer.toHexString(msr) + " 0x" + Long.toHexString(value);
        String a = ask(req);
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
        String a = ask(req);
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
        String a = ask(req);
        String[] w = a.split(" ");
        if (w.length != 5 || !w[0].equals("ok")) {
            throw unexpected(req, "ok EAX EBX ECX EDX", a);
        }
        return new CpuidResult(reg(w[1]), reg(w[2]), reg(w[3]), reg(w[4]));
    }

    private static int reg(String hex) {
        return (int) Long.parseLong(hex.substring(2), 16);
    }
}
