/**
 * Fixtures of {@link dev.stealtime.tck.runner.LayeringTest}: code that breaks its rules on purpose
 * (a package cycle, an engine depending on a command), so the test can show the rules fail on them.
 */
package dev.stealtime.tck.runner.layering;
