/**
 * The subcommands of {@code tck}, one class each (run, rules, providers, coverage, serve, merge,
 * replay), named by the entry point {@link dev.stealtime.tck.runner.TckCli}. Nothing else depends on
 * this package; the work is done by the engines (run, merge, replay) it calls.
 */
package dev.stealtime.tck.runner.cli;
