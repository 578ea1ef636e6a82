/** How {@code tck} ends: its exit codes, and the usage error that ends it with 2. Depends on nothing else in the runner. */
package dev.stealtime.tck.runner.exit;
