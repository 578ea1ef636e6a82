package dev.stealtime.tck.runner.replay;

import java.nio.file.Path;

/**
 * How long {@link IncludeIndex} takes on a real tree, and what it answers for the headers KVM series
 * touch most ({@code java -cp "tck-runner/target/test-classes:tck-runner/target/classes:tck-runner/target/lib/*"
 * dev.stealtime.tck.runner.replay.IncludeIndexTiming TREE x86|arm64}).
 */
public final class IncludeIndexTiming {

    private IncludeIndexTiming() {
    }

    public static void main(String[] args) {
        long t0 = System.nanoTime();
        IncludeIndex idx = IncludeIndex.of(Path.of(args[0]), args[1]);
        long t1 = System.nanoTime();
        System.out.printf("index of %s (%s): %d ms%n", args[0], args[1], (t1 - t0) / 1_000_000);
        String own = args[1].equals("arm64") ? "arch/arm64/" : "arch/x86/";
        for (String h : new String[] {own + "include/asm/kvm_host.h", "include/linux/kvm_host.h", own + "include/uapi/asm/kvm_para.h",
                own + "kvm/x86.h", own + "include/asm/kvm_para.h", "include/linux/sched.h"}) {
            long a = System.nanoTime();
            System.out.printf("  %-45s %s (%d ms)%n", h, idx.imageUser(h).map(u -> "image: " + u).orElse("modules only"),
                    (System.nanoTime() - a) / 1_000_000);
        }
    }
}
