/*
 * main.c - tck-kvm-arm64: the TCK's adapter for Linux KVM/arm64, written in C.
 *
 *   tck-kvm-arm64 [DEVICE]      serve the adapter protocol on DEVICE (default /dev/hvc0, the
 *                               emulated machine's virtio console, a Unix socket on the host)
 *   tck-kvm-arm64 --stdio       serve it on stdin/stdout
 *
 * The log goes to stderr. See docs/adapter-protocol.md for the protocol and README.md
 * ("kvm-arm64") for how the TCK boots the emulated machine this runs in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "kvm_util.h"
#include "protocol.h"
#include "vm.h"

int main(int argc, char **argv)
{
	const char *device = argc > 1 ? argv[1] : "/dev/hvc0";
	int in_fd = 0, out_fd = 1;

	/* SIGUSR1 ends a vCPU's KVM_RUN (vcpu.c): blocked in every thread, which inherit this mask */
	sigset_t wake;
	sigemptyset(&wake);
	sigaddset(&wake, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &wake, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(device, "--stdio") != 0) {
		in_fd = out_fd = open(device, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (in_fd < 0) {
			logf_("cannot open %s: %s", device, strerror(errno));
			return 2;
		}
	}
	struct termios t;
	if (tcgetattr(in_fd, &t) == 0) {   /* a tty: bytes through unchanged, no echo */
		cfmakeraw(&t);
		tcsetattr(in_fd, TCSANOW, &t);
	}

	char err[ERR_LEN];
	const char *unavailable = NULL;
	if (kvm_global_init(err)) {
		logf_("KVM unavailable: %s", err);
		unavailable = err;
	}
	logf_("serving the adapter protocol on %s", in_fd == 0 ? "stdin/stdout" : device);
	return protocol_serve(in_fd, out_fd, unavailable) ? 1 : 0;
}
