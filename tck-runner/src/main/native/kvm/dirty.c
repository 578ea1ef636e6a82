/*
 * dirty.c - see dirty.h.
 */
#define _GNU_SOURCE
#include "dirty.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "json.h"
#include "protocol.h"
#include "vm.h"

static int set_slot(struct vm *vm, int i, uint64_t size, char *err)
{
	struct region *r = &vm->regions[i];
	struct kvm_userspace_memory_region slot = {
		.slot = (uint32_t)i, .flags = size ? vm->slot_flags : 0, .guest_phys_addr = r->gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)r->host,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot))
		return sys_fail(err, errno, "KVM_SET_USER_MEMORY_REGION slot %d [0x%llx, +0x%llx) flags 0x%x", i,
				(unsigned long long)r->gpa, (unsigned long long)size, slot.flags);
	return 0;
}

static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (uint64_t)p : 4096;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int vm_dirty_log_take(struct vm *vm, uint64_t **pages, size_t *n, int *not_started, char *err)
{
	*pages = NULL;
	*n = 0;
	*not_started = !(vm->slot_flags & KVM_MEM_LOG_DIRTY_PAGES);
	if (*not_started)
		return fail_msg(err, "dirty logging was not started");
	uint64_t psz = page_size();
	size_t cap = 0;
	for (int i = 0; i < vm->nregions; i++) {
		uint64_t np = vm->regions[i].size / psz;
		size_t words = (size_t)((np + 63) / 64);
		uint64_t *bitmap = calloc(words ? words : 1, sizeof(uint64_t));
		if (!bitmap)
			goto oom;
		struct kvm_dirty_log log = { .slot = (uint32_t)i, .dirty_bitmap = bitmap };
		if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log)) {
			int e = errno;
			free(bitmap);
			free(*pages);
			*pages = NULL;
			return sys_fail(err, e, "KVM_GET_DIRTY_LOG slot %d", i);
		}
		for (size_t w = 0; w < words; w++) {
			uint64_t bits = bitmap[w];
			while (bits) {
				int b = __builtin_ctzll(bits);
				bits &= bits - 1;
				if (*n == cap) {
					cap = cap ? 2 * cap : 64;
					uint64_t *more = realloc(*pages, cap * sizeof(uint64_t));
					if (!more) {
						free(bitmap);
						goto oom;
					}
					*pages = more;
				}
				(*pages)[(*n)++] = vm->regions[i].gpa + ((uint64_t)w * 64 + (uint64_t)b) * psz;
			}
		}
		free(bitmap);
	}
	qsort(*pages, *n, sizeof(uint64_t), cmp_u64);
	return 0;
oom:
	free(*pages);
	*pages = NULL;
	*n = 0;
	return fail_msg(err, "out of memory");
}

int vm_dirty_log_start(struct vm *vm, uint64_t *granule, char *err)
{
	vm->slot_flags |= KVM_MEM_LOG_DIRTY_PAGES;
	for (int i = 0; i < vm->nregions; i++)
		if (set_slot(vm, i, vm->regions[i].size, err))
			return -1;
	uint64_t *pages;
	size_t n;
	int not_started;
	if (vm_dirty_log_take(vm, &pages, &n, &not_started, err))
		return -1;
	free(pages);
	*granule = page_size();
	return 0;
}

int vm_replace_backing(struct vm *vm, uint64_t gpa, char *file, size_t file_len, char *err)
{
	for (int i = 0; i < vm->nregions; i++) {
		struct region *r = &vm->regions[i];
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		uint8_t *fresh = vm_new_backing(vm, r->size, file, file_len, err);
		if (!fresh)
			return -1;
		memcpy(fresh, r->host, r->size);
		__builtin___clear_cache((char *)fresh, (char *)fresh + r->size);   /* the guest program moves too */
		if (set_slot(vm, i, 0, err)) {
			munmap(fresh, r->size);
			return -1;
		}
		if (vm->retired[i])
			munmap(vm->retired[i], r->size);   /* only the last retired backing is kept */
		vm->retired[i] = r->host;
		r->host = fresh;
		return set_slot(vm, i, r->size, err);
	}
	return fail_msg(err, "0x%llx is in no RAM region", (unsigned long long)gpa);
}

const uint8_t *vm_retired(struct vm *vm, uint64_t gpa, uint64_t len, int *never_moved)
{
	*never_moved = 0;
	for (int i = 0; i < vm->nregions; i++) {
		struct region *r = &vm->regions[i];
		if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len) {
			if (!vm->retired[i]) {
				*never_moved = 1;
				return NULL;
			}
			return vm->retired[i] + (gpa - r->gpa);
		}
	}
	return NULL;
}

void vm_moved_release(struct vm *vm)
{
	for (int i = 0; i < vm->nregions; i++)
		if (vm->retired[i]) {
			munmap(vm->retired[i], vm->regions[i].size);
			vm->retired[i] = NULL;
		}
}

/* ---- the protocol methods (docs/adapter-protocol.md §4.7, §4.8) ---- */

#define MAX_RETIRED_BYTES (1u << 20)

int m_dirty_log_start(struct call *c)
{
	struct vm *vm = param_vm(c);
	char err[ERR_LEN];
	uint64_t granule;
	if (!vm)
		return -1;
	if (vm_dirty_log_start(vm, &granule, err))
		return rpc_error(c, E_FAILED, "%s", err);
	rpc_begin(c);
	jb_printf(c->out, "\"granule\":%llu", (unsigned long long)granule);
	return rpc_end(c);
}

int m_dirty_log_take(struct call *c)
{
	struct vm *vm = param_vm(c);
	char err[ERR_LEN];
	uint64_t *pages;
	size_t n;
	int not_started;
	if (!vm)
		return -1;
	if (vm_dirty_log_take(vm, &pages, &n, &not_started, err))
		return rpc_error(c, not_started ? E_STATE : E_FAILED, "%s", err);
	rpc_begin(c);
	jb_lit(c->out, "\"pages\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			jb_lit(c->out, ",");
		jb_u64(c->out, pages[i]);
	}
	jb_lit(c->out, "]");
	free(pages);
	return rpc_end(c);
}

int m_replace_backing(struct call *c)
{
	struct vm *vm = param_vm(c);
	char err[ERR_LEN];
	uint64_t gpa;
	if (!vm || param_u64(c, "gpa", &gpa))
		return -1;
	if (!vm_ram(vm, gpa, 1))
		return rpc_error(c, E_OUTSIDE_RAM, "gpa 0x%llx is outside guest RAM", (unsigned long long)gpa);
	char file[sizeof(vm->ram_file)];
	if (vm_replace_backing(vm, gpa, file, sizeof(file), err))
		return rpc_error(c, E_FAILED, "%s", err);
	rpc_begin(c);
	if (file[0]) {     /* shared memory: the TCK maps the new file in place of the old one */
		jb_lit(c->out, "\"ram_file\":");
		jb_cstring(c->out, file);
		jb_lit(c->out, ",\"offset\":0");
	}
	return rpc_end(c);
}

int m_read_retired(struct call *c)
{
	struct vm *vm = param_vm(c);
	uint64_t gpa;
	int len, never_moved;
	if (!vm || param_u64(c, "gpa", &gpa) || param_int(c, "length", 0, MAX_RETIRED_BYTES, &len))
		return -1;
	const uint8_t *p = vm_retired(vm, gpa, (uint64_t)len, &never_moved);
	if (!p)
		return never_moved ? rpc_error(c, E_STATE, "the region holding 0x%llx was never moved", (unsigned long long)gpa)
				   : rpc_error(c, E_OUTSIDE_RAM, "gpa 0x%llx + %d is outside guest RAM", (unsigned long long)gpa, len);
	return rpc_bytes(c, p, len);
}
