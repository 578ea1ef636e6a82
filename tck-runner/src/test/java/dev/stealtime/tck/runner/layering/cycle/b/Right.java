package dev.stealtime.tck.runner.layering.cycle.b;

import dev.stealtime.tck.runner.layering.cycle.a.Left;

/** The other half of the package cycle (b → a → b), for LayeringTest. */
public final class Right {

    public static int depth(Left l) {
        return l == null ? 0 : 1 + Left.depth(null);
    }
}
