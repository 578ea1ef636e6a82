package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Arm64Vcpu;

import java.util.OptionalLong;

/**
 * An arm64 vCPU of the test guest under QEMU: SMCCC calls by HVC from the guest. QEMU places the
 * vCPU's PV-time structure itself ({@code virt}: {@code 0x090a0000 + 64 × cpu index}, set with
 * {@code KVM_ARM_VCPU_PVTIME_IPA} before the guest runs) and offers no way to set, get or probe the
 * attribute from outside: those calls throw, and the suite reports their rules NOT APPLICABLE.
 */
final class QemuArm64Vcpu extends QemuVcpu implements Arm64Vcpu {

    QemuArm64Vcpu(QemuVm vm, int index, int tid, int cpu) {
        super(vm, index, tid, cpu);
    }

    @Override
    public OptionalLong vmmPlacedIpa() {
        return OptionalLong.of(QemuCommand.ARM64_PVTIME + 64L * index());
    }

    @Override
    public int hasDeviceAttr(int group, long attr) {
        throw vmmOnly("KVM_HAS_DEVICE_ATTR");
    }

    @Override
    public int setDeviceAttr(int group, long attr, long value) {
        throw vmmOnly("KVM_SET_DEVICE_ATTR");
    }

    @Override
    public AttrResult getDeviceAttr(int group, long attr) {
        throw vmmOnly("KVM_GET_DEVICE_ATTR");
    }

    private UnsupportedOperationException vmmOnly(String call) {
        return new UnsupportedOperationException("QEMU sets the IPA itself (0x" + Long.toHexString(vmmPlacedIpa().getAsLong())
                + "): " + call + " on its vCPUs is not reachable from outside");
    }

    /** {@code smccc FUNC ARGS...}: x0 of {@code ok X0 X1 X2 X3}; an exception the HVC raised is a failure. */
    @Override
    public long smccc(int functionId, long... args) {
        StringBuilder req = new StringBuilder("smccc 0x").append(Integer.toHexString(functionId));
        for (long a : args) {
            req.append(" 0x").append(Long.toHexString(a));
        }
        String a = ask(req.toString());
        String[] w = a.split(" ");
        if (w.length != 5 || !w[0].equals("ok") || !w[1].startsWith("0x")) {
            throw unexpected(req.toString(), "ok X0 X1 X2 X3", a);
        }
        return Long.parseUnsignedLong(w[1].substring(2), 16);
    }
}
