package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.DeviceTreeRange;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * An arm64 vCPU of the test guest under QEMU: SMCCC calls by HVC from the guest. QEMU places the
 * vCPU's PV-time structure itself ({@code virt}: {@code 0x090a0000 + 64 × cpu index}, set with
 * {@code KVM_ARM_VCPU_PVTIME_IPA} before the guest runs) and offers no way to set, get or probe the
 * attribute from outside: those calls throw, and the suite reports their rules NOT APPLICABLE.
 */
final class QemuArm64Vcpu extends QemuVcpu implements Arm64Vcpu {

    /** More ranges than any VMM's tree has: a guest that never says {@code ok end} is a failure. */
    private static final int MAX_DT_RANGES = 4096;

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

    /**
     * The test guest's {@code dt N}, N = 0, 1, ... until {@code ok end}: each {@code ok KIND PATH BASE SIZE}
     * one range of the device tree QEMU booted it with.
     */
    @Override
    public List<DeviceTreeRange> deviceTree() {
        List<DeviceTreeRange> tree = new ArrayList<>();
        for (int n = 0; ; n++) {
            String req = "dt " + n;
            String a = ask(req);
            if (a.equals("ok end")) {
                return List.copyOf(tree);
            }
            String[] w = a.split(" ");
            if (w.length != 5 || !w[0].equals("ok") || !w[3].startsWith("0x") || !w[4].startsWith("0x") || n > MAX_DT_RANGES) {
                throw unexpected(req, "ok KIND PATH 0xBASE 0xSIZE, or ok end (at most " + MAX_DT_RANGES + " ranges)", a);
            }
            tree.add(new DeviceTreeRange(DeviceTreeRange.Kind.valueOf(w[1].toUpperCase(Locale.ROOT)), w[2],
                    Long.parseUnsignedLong(w[3].substring(2), 16), Long.parseUnsignedLong(w[4].substring(2), 16)));
        }
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
