/*
 * kvm_util.c - see kvm_util.h.
 */
#define _GNU_SOURCE
#include "kvm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

const char *errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case ENOTTY: return "ENOTTY";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return "E?";
	}
}

int sys_fail(char *err, int errnum, const char *what, ...)
{
	va_list ap;
	va_start(ap, what);
	vsnprintf(err, ERR_LEN, what, ap);
	va_end(ap);
	size_t used = strlen(err);
	snprintf(err + used, ERR_LEN - used, ": %s (%d): %s", errno_name(errnum), errnum, strerror(errnum));
	return -1;
}

int fail_msg(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int current_tid(void)
{
	return (int)syscall(SYS_gettid);
}

/* Reads a small procfs file of this process's thread tid into buf. */
static int read_task_file(int tid, const char *name, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	int saved = errno;
	close(fd);
	errno = saved;
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

int64_t run_delay_ns(int tid, char *err)
{
	char buf[128];
	unsigned long long on_cpu, run_delay;
	if (read_task_file(tid, "schedstat", buf, sizeof(buf)))
		return sys_fail(err, errno, "read /proc/self/task/%d/schedstat", tid);
	/* fields: time on CPU (ns), run_delay (ns), number of timeslices */
	if (sscanf(buf, "%llu %llu", &on_cpu, &run_delay) != 2)
		return fail_msg(err, "unexpected schedstat of thread %d: %s", tid, buf);
	return (int64_t)run_delay;
}

char thread_state(int tid)
{
	char buf[512];
	if (read_task_file(tid, "stat", buf, sizeof(buf)))
		return '?';
	/* "tid (comm) S ...": comm may contain spaces and parentheses */
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

void logf_(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tck-kvm: %s\n", buf);
}
