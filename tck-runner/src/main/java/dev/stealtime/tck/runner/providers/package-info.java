/**
 * Provider discovery: where the provider a run tests comes from (built in, or a {@code --provider-jar}
 * jar), and the optional interfaces a provider may implement (configuration, machine description).
 * The providers themselves each have a package: reference, kvm, emulatedkvm, adapter.
 */
package dev.stealtime.tck.runner.providers;
