package dev.stealtime.tck.runner.layering.uphill.cli;

/** A command, in a fixture where an engine wrongly depends on it (LayeringTest). */
public final class FixtureCommand {

    public static final String NAME = "fixture";

    public static String name() {
        return NAME;
    }
}
