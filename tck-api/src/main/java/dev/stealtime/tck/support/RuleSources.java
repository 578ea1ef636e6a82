package dev.stealtime.tck.support;

import dev.stealtime.tck.rules.Rule;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where a rule comes from, as links a person can follow: the catalogue's {@code source} column
 * ({@code 000}, {@code 002}, {@code kvm x86.c}, {@code 000, kvm}...) resolved to the seed document
 * and the upstream kernel document or source file it stands for. Used by the report (Allure links)
 * and by the conformance summary.
 */
public final class RuleSources {

    /** One source of a rule: a human-readable name and where to read it. */
    public record Source(String name, String url) {
    }

    private static final String KERNEL_DOCS = "https://docs.kernel.org/virt/kvm/";
    private static final String QEMU_TREE = "https://gitlab.com/qemu-project/qemu/-/blob/master/";
    private static final String KERNEL_TREE = "https://github.com/torvalds/linux/blob/master/";

    private static final Map<String, Source> KVM = new LinkedHashMap<>();

    static {
        KVM.put("x86.c", new Source("Linux arch/x86/kvm/x86.c", KERNEL_TREE + "arch/x86/kvm/x86.c"));
        KVM.put("cpuid.rst", new Source("Linux Documentation/virt/kvm/x86/cpuid.rst", KERNEL_DOCS + "x86/cpuid.html"));
        KVM.put("msr.rst", new Source("Linux Documentation/virt/kvm/x86/msr.rst", KERNEL_DOCS + "x86/msr.html"));
        KVM.put("pvtime.c", new Source("Linux arch/arm64/kvm/pvtime.c", KERNEL_TREE + "arch/arm64/kvm/pvtime.c"));
        KVM.put("api.rst", new Source("Linux Documentation/virt/kvm/api.rst", KERNEL_DOCS + "api.html"));
        KVM.put("vcpu.rst", new Source("Linux Documentation/virt/kvm/devices/vcpu.rst", KERNEL_DOCS + "devices/vcpu.html"));
        KVM.put("hypercalls.c", new Source("Linux arch/arm64/kvm/hypercalls.c", KERNEL_TREE + "arch/arm64/kvm/hypercalls.c"));
    }

    private RuleSources() {
    }

    /** The links of a rule, in the order its source column names them. Never empty. */
    public static List<Source> of(Rule rule) {
        List<Source> out = new ArrayList<>();
        for (String part : rule.source().split(",")) {
            String p = part.trim();
            String note = "";
            int paren = p.indexOf('(');
            if (paren >= 0) {
                note = " " + p.substring(paren).trim();
                p = p.substring(0, paren).trim();
            }
            String lower = p.toLowerCase(Locale.ROOT);
            if (lower.equals("000")) {
                out.add(new Source("000: MSR_KVM_STEAL_TIME document (docs/sources.md, section 000; upstream "
                        + "Documentation/virt/kvm/x86/msr.rst)" + note, KERNEL_DOCS + "x86/msr.html"));
            } else if (lower.equals("002")) {
                out.add(new Source("002: arm64 PV time document (docs/sources.md, section 002; upstream "
                        + "Documentation/virt/kvm/arm/pvtime.rst, devices/vcpu.rst; Arm DEN0057A)" + note,
                        KERNEL_DOCS + "arm/pvtime.html"));
            } else if (lower.startsWith("kvm")) {
                String file = p.substring(3).trim();
                if (file.isEmpty()) {
                    file = rule.id().startsWith("X86-") ? "x86.c" : "pvtime.c";
                }
                Source s = KVM.get(file);
                out.add(s != null ? new Source(s.name() + note, s.url())
                        : new Source("Linux KVM " + file + note, KERNEL_TREE + "arch"));
            } else if (lower.startsWith("qemu ")) {
                String file = p.substring(5).trim();
                out.add(new Source("QEMU " + file + note, QEMU_TREE + file));
            } else if (!p.isEmpty()) {
                out.add(new Source(p + note, KERNEL_DOCS));
            }
        }
        if (out.isEmpty()) {
            out.add(new Source("docs/sources.md", KERNEL_DOCS));
        }
        return out;
    }

    /** The interface a rule belongs to, as the report's epic: {@code x86 MSR_KVM_STEAL_TIME} or {@code arm64 PV time}. */
    public static String interfaceName(Rule rule) {
        return rule.id().startsWith("X86-") ? "x86 MSR_KVM_STEAL_TIME" : "arm64 PV time";
    }
}
