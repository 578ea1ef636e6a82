/**
 * Host plumbing: the --out directory, private files, leftovers cleaned on exit, the host packages
 * the TCK needs, the native sources and the host's KVM.
 */
package dev.stealtime.tck.runner.host;
