package dev.stealtime.tck.runner.replay;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Which build a replay needs, from the files its patch touches (docs/kvm-developers.md, "Your own
 * series"):
 * <ul>
 *   <li>arm64: always the minimal {@code Image} (KVM is built in), recipe {@code arm64};</li>
 *   <li>x86, <b>modules</b> (recipe {@code x86}, the fast path): {@code kvm.ko} and {@code kvm-amd.ko}
 *       for Debian's packaged cloud-amd64 kernel, when every touched file reaches only them — KVM's
 *       own code ({@code arch/x86/kvm/}, {@code virt/kvm/}), a header no file of the kernel image
 *       includes, or the selftest's sources;</li>
 *   <li>x86, <b>image</b> (recipe {@code x86-image}): a whole {@code bzImage} with its own
 *       {@code irqbypass.ko}, {@code kvm.ko} and {@code kvm-amd.ko}, when a touched header is also
 *       included by code of the image (struct kvm_vcpu_arch in {@code arch/x86/include/asm/kvm_host.h}
 *       is seen by {@code arch/x86/events/intel/core.c}, so modules built with another layout must
 *       not load into Debian's kernel), when any other file of the kernel changes, or when no
 *       packaged kernel is the same version as the source (Debian ships cloud-amd64 6.1 only);</li>
 *   <li>files no build uses (documentation, other architectures, tools other than the selftest's)
 *       are accepted and named; a patch touching only those replays the stock build.</li>
 * </ul>
 *
 * @param recipe  the build script's recipe: {@code x86}, {@code x86-image} or {@code arm64}
 * @param why     why this recipe, one sentence (empty for the fast path and arm64)
 * @param unused  the touched files no build of this architecture uses
 * @param nothing true when every touched file is unused: the stock build serves
 */
public record BuildPlan(String recipe, String why, List<String> unused, boolean nothing) {

    /** What the row calls the build. */
    public String kind() {
        return switch (recipe) {
            case "x86" -> "modules";
            case "x86-image" -> "image";
            default -> "Image";
        };
    }

    /**
     * Decides.
     *
     * @param arch        {@code x86} or {@code arm64}
     * @param files       the touched files (-p1 paths)
     * @param packaged    null when Debian ships a cloud-amd64 kernel of this very source (x86 only), else why not
     * @param imageUser   for a header: a file of the kernel image that includes it (directly or through other
     *                    headers), or empty when only KVM's modules do
     */
    public static BuildPlan decide(String arch, List<String> files, String packaged, Function<String, Optional<String>> imageUser) {
        List<String> unused = new ArrayList<>();
        List<String> used = new ArrayList<>();
        for (String f : files) {
            (unusedBy(arch, f) ? unused : used).add(f);
        }
        boolean nothing = !files.isEmpty() && used.isEmpty();
        if (arch.equals("arm64")) {
            return new BuildPlan("arm64", "", List.copyOf(unused), nothing);
        }
        if (packaged != null) {
            return new BuildPlan("x86-image", packaged, List.copyOf(unused), nothing);
        }
        for (String f : used) {
            if (modulesOnly(f) || selftestOnly(f)) {
                continue;
            }
            if (f.endsWith(".h")) {
                Optional<String> user = imageUser.apply(f);
                if (user.isPresent()) {
                    return new BuildPlan("x86-image", f + " is also compiled into the kernel image (" + user.get()
                            + " includes it), so a kernel of its own is built", List.copyOf(unused), false);
                }
                continue;                           // a header only KVM's modules include
            }
            return new BuildPlan("x86-image", f + " is part of the kernel image, so a kernel of its own is built",
                    List.copyOf(unused), false);
        }
        return new BuildPlan("x86", "", List.copyOf(unused), nothing);
    }

    /** KVM's own code: what {@code make M=arch/x86/kvm} compiles into kvm.ko and kvm-amd.ko. */
    static boolean modulesOnly(String f) {
        return f.startsWith("arch/x86/kvm/") || f.startsWith("virt/kvm/");
    }

    /** What only the upstream selftest compiles (the build script rebuilds it for these). */
    static boolean selftestOnly(String f) {
        return f.startsWith("tools/testing/selftests/kvm/") || f.startsWith("tools/include/") || f.startsWith("tools/arch/")
                || f.startsWith("tools/lib/");
    }

    /**
     * A file no build of {@code arch} compiles: documentation, another architecture's tree, tools
     * other than the selftest's sources, the top level's text files.
     */
    static boolean unusedBy(String arch, String f) {
        String own = arch.equals("arm64") ? "arch/arm64/" : "arch/x86/";
        if (f.startsWith("Documentation/") || f.startsWith("LICENSES/") || f.startsWith("samples/")
                || f.endsWith(".rst") || f.endsWith(".txt")) {
            return true;
        }
        if (f.startsWith("arch/") && !f.startsWith(own)) {
            return true;
        }
        if (f.startsWith("tools/") && !selftestOnly(f)) {
            return true;
        }
        return !f.contains("/") && !List.of("Makefile", "Kbuild", "Kconfig").contains(f);
    }
}
