/*
 * defects.c - puts one steal-time defect into a real QEMU, for the TCK's self-tests of the VMM rules:
 * an LD_PRELOAD interposer of ioctl(2) that rewrites what QEMU hands KVM, chosen by the environment
 * variable TCK_QEMU_DEFECT (no variable, or another value: every call passes unchanged).
 *
 *   restore-drops-steal-msr   KVM_SET_MSRS without MSR_KVM_STEAL_TIME: QEMU puts it (non-zero) only
 *                             when it loads a saved VM, so a restored guest loses its registration,
 *                             as QEMU did before its cpu/steal_time_msr vmstate (Launchpad #1494350).
 *                             QEMU asserts that KVM set every MSR it asked for: the count it expects
 *                             is returned.
 *   cpuid-hides-steal-time    KVM_SET_CPUID2 with KVM_FEATURE_STEAL_TIME (leaf 0x40000001 EAX bit 5)
 *                             cleared although QEMU offers it (kvm-steal-time=on).
 *   hotplug-hides-steal-time  the same, but only for vCPUs set up once the guest runs (after the
 *                             first KVM_RUN): a hot-plugged vCPU is not offered steal time, the boot
 *                             vCPUs are.
 * arm64 (KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PVTIME_CTRL, KVM_ARM_VCPU_PVTIME_IPA) on a vCPU):
 *   restore-loses-pvtime-ipa  a QEMU started to load a saved VM (-incoming on its command line) sets
 *                             no IPA: the restored guest's structure is never updated again, and its
 *                             PV_TIME_ST answers NOT_SUPPORTED (what a VMM that does not carry the
 *                             IPA across a snapshot does; Firecracker keeps it in its snapshot).
 *   pvtime-ipa-shared         every vCPU gets the region's first structure (vCPU 0's), as a VMM
 *                             that places them all at its region's base would.
 *   pvtime-ipa-in-ram         the structures go to the last 64 KiB of guest RAM (virt: RAM from
 *                             0x40000000, 128 MiB in the TCK's machine), which the device tree gives
 *                             the guest as RAM, reserving nothing: as kvmtool's region once
 *                             overlapped its flash (kvmtool 6a1f699).
 *
 * Build: gcc -shared -fPIC -O2 defects.c -o libtck-defects.so -ldl
 * Use:   LD_PRELOAD=libtck-defects.so TCK_QEMU_DEFECT=restore-drops-steal-msr qemu-system-x86_64 ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSR_KVM_STEAL_TIME 0x4b564d03u
#define KVM_CPUID_FEATURES 0x40000001u
#define KVM_FEATURE_STEAL_TIME (1u << 5)
#define VIRT_RAM_END (0x40000000ull + (128ull << 20))   /* QemuCommand.ARM64_RAM_BYTES from virt's RAM base */

typedef int (*ioctl_fn)(int, unsigned long, ...);

static int defect(const char *name)
{
	const char *d = getenv("TCK_QEMU_DEFECT");
	return d && !strcmp(d, name);
}

#if defined(__aarch64__)
/* Whether this QEMU was started to load a saved VM: "-incoming" among its arguments. */
static int incoming(void)
{
	static int known = -1;
	if (known < 0) {
		char buf[8192];
		known = 0;
		FILE *f = fopen("/proc/self/cmdline", "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = 0;
			for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
				if (!strcmp(buf + i, "-incoming"))
					known = 1;
			}
		}
	}
	return known;
}
#endif

int ioctl(int fd, unsigned long request, ...)
{
	static ioctl_fn real;
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");

#if defined(__x86_64__)
	if (request == KVM_SET_MSRS && defect("restore-drops-steal-msr")) {
		struct kvm_msrs *m = arg;
		__u32 n = m->nmsrs, kept = 0;
		for (__u32 i = 0; i < n; i++) {
			if (m->entries[i].index == MSR_KVM_STEAL_TIME && m->entries[i].data != 0)
				continue;
			m->entries[kept++] = m->entries[i];
		}
		if (kept != n) {
			m->nmsrs = kept;
			int r = real(fd, request, arg);
			m->nmsrs = n;
			return r == (int)kept ? (int)n : r;
		}
	}
	static int guest_ran;
	if (request == KVM_RUN)
		guest_ran = 1;
	if (request == KVM_SET_CPUID2 && (defect("cpuid-hides-steal-time") || (defect("hotplug-hides-steal-time") && guest_ran))) {
		struct kvm_cpuid2 *c = arg;
		for (__u32 i = 0; i < c->nent; i++) {
			if (c->entries[i].function == KVM_CPUID_FEATURES)
				c->entries[i].eax &= ~KVM_FEATURE_STEAL_TIME;
		}
	}
#elif defined(__aarch64__)
	if (request == KVM_SET_DEVICE_ATTR) {
		struct kvm_device_attr *a = arg;
		if (a->group == KVM_ARM_VCPU_PVTIME_CTRL && a->attr == KVM_ARM_VCPU_PVTIME_IPA) {
			if (defect("restore-loses-pvtime-ipa") && incoming())
				return 0;
			__u64 *was = (__u64 *)(unsigned long)a->addr, saved = *was, ipa = saved;
			if (defect("pvtime-ipa-shared"))
				ipa = saved & ~0xfffull;
			if (defect("pvtime-ipa-in-ram"))
				ipa = VIRT_RAM_END - 0x10000 + (saved & 0xffff);
			if (ipa != saved) {
				*was = ipa;
				int r = real(fd, request, arg);
				*was = saved;
				return r;
			}
		}
	}
#else
	(void)defect;
#endif
	return real(fd, request, arg);
}
