/*
 * share.c - lets the TCK see parts of a QEMU guest's memory live, where QEMU keeps them in memory of
 * its own: an LD_PRELOAD interposer of ioctl(2). When QEMU hands KVM a memory slot
 * (KVM_SET_USER_MEMORY_REGION), every range of TCK_QEMU_SHARE that the slot covers gets a file
 * mapped over the slot's host memory there (MAP_SHARED | MAP_FIXED, at the same address, the old
 * contents copied into the file first), before KVM sees the slot. KVM's writes, QEMU's own accesses
 * (migration reads the same addresses) and the TCK's reads of the file then touch the same pages.
 *
 *   TCK_QEMU_SHARE=GPA:LENGTH:FILE:OFFSET[,GPA:LENGTH:FILE:OFFSET...]     (numbers 0x-hex or decimal)
 *
 * Used by the qemu provider for arm64 (docs/qemu-provider.md): QEMU's virt machine keeps the PV-time
 * structures in a RAM block of its own (anonymous memory at 0x090a0000, a memory slot of its own);
 * inside the emulated machine FILE is the BAR of an ivshmem-plain device whose memory is a file on
 * the TCK's host. Only data the guest never executes may be shared so: KVM/arm64 maps such pages as
 * Device memory at stage 2.
 *
 * Dirty logging: KVM/arm64 refuses it on a slot with such (VM_PFNMAP) memory, and QEMU's migration
 * turns it on for every slot. For a slot that holds a shared range, the flag is taken off on its way
 * to KVM, and KVM_GET_DIRTY_LOG answers every page of the slot dirty (so migration sends the whole
 * slot in every pass, the last one with the guest stopped); KVM_CLEAR_DIRTY_LOG does nothing there.
 * Share whole slots only (a slot that covers more than the range would lose the rest's dirty pages):
 * a slot that is not wholly shared stops QEMU.
 *
 * Build: gcc -shared -fPIC -O2 share.c -o libtck-qemu-share.so -ldl
 * A range that cannot be mapped stops QEMU (exit 70) with the reason on stderr: a run must not go
 * on reading a file the guest no longer writes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_RANGES 8

struct range {
	unsigned long long gpa, len, off;
	char file[256];
	void *mapped;		/* where it was mapped, once it was */
};

static struct range ranges[MAX_RANGES];
static int nranges = -1;

#define MAX_SLOTS 64
/* Memory slots (as_id << 16 | id) that hold a shared range, and their size in pages. */
static struct { __u32 slot; __u64 pages; int used; } shared_slots[MAX_SLOTS];

typedef int (*ioctl_fn)(int, unsigned long, ...);

static void die(const char *what, const struct range *r)
{
	fprintf(stderr, "tck share: %s (range 0x%llx+0x%llx from %s at 0x%llx): %m\n", what, r->gpa, r->len, r->file,
		r->off);
	_exit(70);
}

static void parse(void)
{
	const char *s = getenv("TCK_QEMU_SHARE");
	nranges = 0;
	while (s && *s && nranges < MAX_RANGES) {
		struct range *r = &ranges[nranges];
		char *end;
		r->gpa = strtoull(s, &end, 0);
		if (*end != ':')
			break;
		r->len = strtoull(end + 1, &end, 0);
		if (*end != ':')
			break;
		const char *f = end + 1, *colon = strchr(f, ':');
		if (!colon || (size_t)(colon - f) >= sizeof(r->file))
			break;
		memcpy(r->file, f, colon - f);
		r->file[colon - f] = 0;
		r->off = strtoull(colon + 1, &end, 0);
		nranges++;
		s = *end == ',' ? end + 1 : "";
	}
}

/* Maps the part of range r that slot m covers, once. */
static void share(struct range *r, const struct kvm_userspace_memory_region *m)
{
	unsigned long long from = r->gpa > m->guest_phys_addr ? r->gpa : m->guest_phys_addr;
	unsigned long long slot_end = m->guest_phys_addr + m->memory_size, range_end = r->gpa + r->len;
	unsigned long long to = range_end < slot_end ? range_end : slot_end;
	if (from >= to)
		return;
	char *va = (char *)(unsigned long)(m->userspace_addr + (from - m->guest_phys_addr));
	if (r->mapped == va)
		return;		/* the same slot again (flags changed): already the file's pages */
	if (from != r->gpa || to != range_end || from != m->guest_phys_addr || to != slot_end)
		die("the range and the memory slot differ (only whole slots are shared)", r);
	size_t n = to - from;
	void *old = malloc(n);
	if (!old)
		die("no memory for the old contents", r);
	memcpy(old, va, n);
	int fd = open(r->file, O_RDWR);
	if (fd < 0)
		die("cannot open the file", r);
	void *p = mmap(va, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, r->off);
	if (p != va)
		die("cannot map the file over the slot's memory", r);
	close(fd);
	memcpy(va, old, n);
	free(old);
	r->mapped = va;
}

static int shared_slot(__u32 slot)
{
	for (int i = 0; i < MAX_SLOTS; i++)
		if (shared_slots[i].used && shared_slots[i].slot == slot)
			return i;
	return -1;
}

/* Whether slot m holds a shared range: remembered, and the dirty-log flag taken off. */
static void note_slot(struct kvm_userspace_memory_region *m)
{
	int i = shared_slot(m->slot), shared = 0;
	for (int k = 0; m->memory_size && k < nranges; k++)
		shared |= ranges[k].mapped == (void *)(unsigned long)m->userspace_addr;
	if (!shared) {
		if (i >= 0)
			shared_slots[i].used = 0;
		return;
	}
	if (i < 0)
		for (i = 0; i < MAX_SLOTS && shared_slots[i].used; i++)
			;
	if (i == MAX_SLOTS) {
		fprintf(stderr, "tck share: more than %d shared memory slots\n", MAX_SLOTS);
		_exit(70);
	}
	shared_slots[i].slot = m->slot;
	shared_slots[i].pages = m->memory_size / (unsigned long)sysconf(_SC_PAGESIZE);
	shared_slots[i].used = 1;
	m->flags &= ~KVM_MEM_LOG_DIRTY_PAGES;
}

int ioctl(int fd, unsigned long request, ...)
{
	static ioctl_fn real;
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
	if (request == KVM_SET_USER_MEMORY_REGION) {
		struct kvm_userspace_memory_region *m = arg;
		if (nranges < 0)
			parse();
		for (int i = 0; m->memory_size && i < nranges; i++)
			share(&ranges[i], m);
		__u32 flags = m->flags;
		note_slot(m);
		int r = real(fd, request, arg);
		m->flags = flags;
		return r;
	}
	if (request == KVM_GET_DIRTY_LOG) {
		struct kvm_dirty_log *d = arg;
		int i = shared_slot(d->slot);
		if (i >= 0) {
			memset(d->dirty_bitmap, 0xff, (shared_slots[i].pages + 63) / 64 * 8);
			return 0;
		}
	}
	if (request == KVM_CLEAR_DIRTY_LOG) {
		struct kvm_clear_dirty_log *c = arg;
		if (shared_slot(c->slot) >= 0)
			return 0;
	}
	return real(fd, request, arg);
}
