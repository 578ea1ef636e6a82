/*
 * main.c - tck-kvm: the TCK's adapter for Linux KVM (arm64 or x86_64, chosen when built), written in C.
 *
 *   tck-kvm PORT                serve the adapter protocol on PORT, a virtio-serial port of the
 *                               emulated machine (a Unix socket on the host); each connection
 *                               of the host side is a session
 *   tck-kvm --stdio             serve one session on stdin/stdout
 *
 * The log goes to stderr. See docs/adapter-protocol.md for the protocol and
 * docs/kvm-developers.md ("The emulated machines") for how the TCK boots the emulated machine this runs in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kvm_util.h"
#include "protocol.h"
#include "vm.h"
#include "watchdog.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: tck-kvm (PORT | --stdio)\n");
		return 2;
	}
	const char *device = argv[1];
	int stdio = strcmp(device, "--stdio") == 0;
	int in_fd = 0, out_fd = 1;

	/* SIGUSR1 ends a vCPU's KVM_RUN (vcpu.c): blocked in every thread, which inherit this mask */
	sigset_t wake;
	sigemptyset(&wake);
	sigaddset(&wake, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &wake, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (watchdog_start())
		logf_("no watchdog thread (a request that hangs will not be described on the console)");

	if (!stdio) {
		/* non-blocking: a blocking write to a virtio-serial port spins in the guest kernel until the
		 * host has taken the data (virtio_console's __send_to_port), which under an emulated CPU
		 * costs the very host CPU time QEMU needs to take it; protocol.c polls instead */
		in_fd = out_fd = open(device, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		if (in_fd < 0) {
			logf_("cannot open %s: %s", device, strerror(errno));
			return 2;
		}
	}

	char err[ERR_LEN];
	const char *unavailable = NULL;
	if (kvm_global_init(err)) {
		logf_("KVM unavailable: %s", err);
		unavailable = err;
	}
	logf_("serving the adapter protocol on %s", stdio ? "stdin/stdout" : device);
	for (;;) {
		if (protocol_serve(in_fd, out_fd, unavailable))
			return 1;
		if (stdio)
			return 0;
		/* a virtio-serial port reads end-of-file while the host side is not connected: the
		 * session ended (its VMs are closed); wait for the next connection */
		usleep(20000);
	}
}
