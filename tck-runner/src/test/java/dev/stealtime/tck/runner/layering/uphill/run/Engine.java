package dev.stealtime.tck.runner.layering.uphill.run;

import dev.stealtime.tck.runner.layering.uphill.cli.FixtureCommand;

/** An engine that calls a command: the dependency the layering forbids (LayeringTest). */
public final class Engine {

    public String describe() {
        return "engine of " + FixtureCommand.name();
    }
}
