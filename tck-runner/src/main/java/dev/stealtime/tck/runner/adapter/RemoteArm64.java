package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.spi.Arm64Vcpu;

import java.math.BigInteger;

/** A remote arm64 vCPU: device attributes and SMCCC as {@code arm64.*} requests. */
final class RemoteArm64 extends RemoteVcpu implements Arm64Vcpu {
    RemoteArm64(RemoteVm vm, int index) {
        super(vm, index);
    }

    private ObjectNode attr(int group, long attr) {
        ObjectNode p = params().put("group", group);
        Wire.putU64(p, "attr", attr);
        return p;
    }

    private int errno(ObjectNode r, String m) {
        return (int) integer(r, m, "errno", -4095, 0);
    }

    @Override
    public int hasDeviceAttr(int group, long attr) {
        return errno(adapter.call("arm64.has_device_attr", attr(group, attr), 0), "arm64.has_device_attr");
    }

    @Override
    public int setDeviceAttr(int group, long attr, long value) {
        ObjectNode p = attr(group, attr);
        Wire.putU64(p, "value", value);
        return errno(adapter.call("arm64.set_device_attr", p, 0), "arm64.set_device_attr");
    }

    @Override
    public AttrResult getDeviceAttr(int group, long attr) {
        String m = "arm64.get_device_attr";
        ObjectNode r = adapter.call(m, attr(group, attr), 0);
        int errno = errno(r, m);
        return new AttrResult(errno, errno == 0 ? u64(r, m, "value") : 0);
    }

    @Override
    public long smccc(int functionId, long... args) {
        ObjectNode p = params().put("function_id", Integer.toUnsignedLong(functionId));
        ArrayNode a = p.putArray("args");
        for (long x : args) {
            if (x >= 0) {
                a.add(x);
            } else {
                a.add(new BigInteger(Long.toUnsignedString(x)));
            }
        }
        return u64(adapter.call("arm64.smccc", p, 0), "arm64.smccc", "x0");
    }
}
