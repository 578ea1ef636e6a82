package dev.stealtime.tck.runner.kvm;

import com.sun.jna.Memory;
import com.sun.jna.Native;

import java.util.ArrayList;
import java.util.List;

/**
 * The guest's CPUID table: what KVM supports on this host ({@code KVM_GET_SUPPORTED_CPUID}), with
 * the KVM paravirtual feature leaf adjusted to offer or withhold steal time, handed to each vCPU
 * with {@code KVM_SET_CPUID2}.
 */
final class Cpuid {

    /** KVM's signature leaf: EAX = highest KVM leaf, EBX:ECX:EDX = "KVMKVMKVM\0\0\0". */
    static final int KVM_SIGNATURE_LEAF = 0x40000000;
    /** KVM's feature leaf: EAX = KVM_FEATURE_* bits. */
    static final int KVM_FEATURES_LEAF = 0x40000001;
    /** {@code KVM_FEATURE_STEAL_TIME}, bit 5 of leaf 0x40000001 EAX. */
    static final int KVM_FEATURE_STEAL_TIME = 1 << 5;

    private static final int E2BIG = 7;

    /** One {@code struct kvm_cpuid_entry2}. */
    record Entry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
        Entry withEax(int v) {
            return new Entry(function, index, flags, v, ebx, ecx, edx);
        }
    }

    private final List<Entry> entries;

    private Cpuid(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** What KVM can offer a guest on this host. */
    static Cpuid supported(int kvmFd) {
        for (int n = 128; n <= 8192; n *= 2) {
            Memory buf = new Memory(Kvm.CPUID2_HEADER + (long) n * Kvm.CPUID_ENTRY_SIZE);
            buf.clear();
            buf.setInt(0, n);
            int rc = LibC.INSTANCE.ioctl(kvmFd, Kvm.GET_SUPPORTED_CPUID, buf);
            if (rc < 0) {
                int errno = Native.getLastError();
                if (errno == E2BIG) {
                    continue;
                }
                throw new KvmException("KVM_GET_SUPPORTED_CPUID", errno);
            }
            int nent = buf.getInt(0);
            List<Entry> list = new ArrayList<>(nent);
            for (int i = 0; i < nent; i++) {
                long o = Kvm.CPUID2_HEADER + (long) i * Kvm.CPUID_ENTRY_SIZE;
                list.add(new Entry(buf.getInt(o), buf.getInt(o + 4), buf.getInt(o + 8), buf.getInt(o + 12),
                        buf.getInt(o + 16), buf.getInt(o + 20), buf.getInt(o + 24)));
            }
            return new Cpuid(list);
        }
        throw new KvmException("KVM_GET_SUPPORTED_CPUID: more than 8192 entries");
    }

    /** True when KVM on this host can offer steal time at all. */
    boolean stealTimeSupported() {
        return entries.stream().anyMatch(e -> e.function() == KVM_FEATURES_LEAF
                && (e.eax() & KVM_FEATURE_STEAL_TIME) != 0);
    }

    /** The same table with {@code KVM_FEATURE_STEAL_TIME} set or cleared. */
    Cpuid withStealTime(boolean offered) {
        if (entries.stream().noneMatch(e -> e.function() == KVM_FEATURES_LEAF)) {
            throw new KvmException("KVM_GET_SUPPORTED_CPUID has no KVM feature leaf 0x40000001");
        }
        List<Entry> out = new ArrayList<>();
        for (Entry e : entries) {
            if (e.function() == KVM_FEATURES_LEAF) {
                e = e.withEax(offered ? e.eax() | KVM_FEATURE_STEAL_TIME : e.eax() & ~KVM_FEATURE_STEAL_TIME);
            }
            out.add(e);
        }
        return new Cpuid(out);
    }

    /** Configures a vCPU with this table ({@code KVM_SET_CPUID2}). */
    void applyTo(int vcpuFd) {
        Memory buf = new Memory(Kvm.CPUID2_HEADER + (long) entries.size() * Kvm.CPUID_ENTRY_SIZE);
        buf.clear();
        buf.setInt(0, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            long o = Kvm.CPUID2_HEADER + (long) i * Kvm.CPUID_ENTRY_SIZE;
            buf.setInt(o, e.function());
            buf.setInt(o + 4, e.index());
            buf.setInt(o + 8, e.flags());
            buf.setInt(o + 12, e.eax());
            buf.setInt(o + 16, e.ebx());
            buf.setInt(o + 20, e.ecx());
            buf.setInt(o + 24, e.edx());
        }
        Kvm.ioctl(vcpuFd, Kvm.SET_CPUID2, buf, "KVM_SET_CPUID2");
    }

    List<Entry> entries() {
        return entries;
    }
}
