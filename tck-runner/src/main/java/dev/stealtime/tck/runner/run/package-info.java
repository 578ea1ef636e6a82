/**
 * The run engine: finds the suites, runs them against a provider through TestNG, grades each rule
 * ({@link dev.stealtime.tck.runner.run.TckRun}), reports progress, and builds the conformance summary.
 */
package dev.stealtime.tck.runner.run;
