package dev.stealtime.tck.runner.layering.cycle.a;

import dev.stealtime.tck.runner.layering.cycle.b.Right;

/** Half of a package cycle (a → b → a), for LayeringTest. */
public final class Left {

    public static int depth(Right r) {
        return r == null ? 0 : 1 + Right.depth(null);
    }
}
