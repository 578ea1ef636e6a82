/*
 * vm.c - see vm.h.
 */
#define _GNU_SOURCE
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch.h"
#include "dirty.h"

#define MAX_CPUS 64

static int the_kvm_fd = -1;
static int ncpus;
static struct competitor *competitors[MAX_CPUS];

int kvm_global_init(char *err)
{
	the_kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (the_kvm_fd < 0)
		return sys_fail(err, errno, "open /dev/kvm");
	int api = ioctl(the_kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		return fail_msg(err, "KVM_GET_API_VERSION answered %d, expected %d", api, KVM_API_VERSION);
	if (arch_global_init(the_kvm_fd, err))
		return -1;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set))
		return sys_fail(err, errno, "sched_getaffinity");
	for (int cpu = 0; cpu < MAX_CPUS && ncpus < MAX_CPUS; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		competitors[ncpus] = competitor_start(cpu, err);
		if (!competitors[ncpus])
			return -1;
		ncpus++;
	}
	return 0;
}

int kvm_fd(void)
{
	return the_kvm_fd;
}

int kvm_ncpus(void)
{
	return ncpus;
}

uint8_t *vm_ram(struct vm *vm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < vm->nregions; i++) {
		struct region *r = &vm->regions[i];
		if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

/* Creates the RAM file NAME (vm-H.ram, vm-H.ram.N) of size bytes in the VM's shared directory, mode 0600,
 * and lists it for deletion on close. Its descriptor, or -1 with err set. */
static int ram_file_create(struct vm *vm, uint64_t size, char *path, size_t path_len, char *err)
{
	const char *dir = vm->shared_dir;
	const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
	int n = vm->nfiles
		? snprintf(path, path_len, "%s%svm-%d.ram.%d", dir, sep, vm->handle, vm->nfiles)
		: snprintf(path, path_len, "%s%svm-%d.ram", dir, sep, vm->handle);
	if (n < 0 || (size_t)n >= path_len)
		return fail_msg(err, "the shared directory's path is too long: %s", dir);
	char **files = realloc(vm->files, (size_t)(vm->nfiles + 1) * sizeof(*files));
	char *copy = strdup(path);
	if (!files || !copy) {
		free(copy);
		if (files)
			vm->files = files;
		return fail_msg(err, "out of memory");
	}
	vm->files = files;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(copy);
		return sys_fail(err, errno, "create the RAM file %s", path);
	}
	vm->files[vm->nfiles++] = copy;
	if (ftruncate(fd, (off_t)size)) {
		sys_fail(err, errno, "ftruncate %s to %llu bytes", path, (unsigned long long)size);
		close(fd);
		return -1;
	}
	return fd;
}

static uint8_t *map_ram(int fd, uint64_t size, uint64_t offset, char *err)
{
	int flags = fd < 0 ? MAP_SHARED | MAP_ANONYMOUS : MAP_SHARED;
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, (off_t)offset);
	if (p == MAP_FAILED) {
		sys_fail(err, errno, "mmap %llu bytes of guest RAM", (unsigned long long)size);
		return NULL;
	}
	return p;
}

uint8_t *vm_new_backing(struct vm *vm, uint64_t size, char *file, size_t file_len, char *err)
{
	file[0] = 0;
	if (!vm->shared_dir)
		return map_ram(-1, size, 0, err);
	int fd = ram_file_create(vm, size, file, file_len, err);
	if (fd < 0)
		return NULL;
	uint8_t *p = map_ram(fd, size, 0, err);
	close(fd);
	return p;
}

struct vm *vm_open(int handle, const struct region *ram, int nregions, int nvcpus, int steal_time_offered,
		   const char *shared_dir, char *err)
{
	if (nregions < 1 || nregions > VM_MAX_REGIONS) {
		fail_msg(err, "%d RAM regions (1..%d supported)", nregions, VM_MAX_REGIONS);
		return NULL;
	}
	if (nvcpus < 1 || nvcpus > VM_MAX_VCPUS) {
		fail_msg(err, "%d vCPUs (1..%d supported)", nvcpus, VM_MAX_VCPUS);
		return NULL;
	}
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		fail_msg(err, "out of memory");
		return NULL;
	}
	vm->handle = handle;
	vm->fd = -1;
	vm->shared_dir = shared_dir;
	int ram_fd = -1;
	if (shared_dir) {
		uint64_t total = 0;
		for (int i = 0; i < nregions; i++) {
			vm->ram_offset[i] = total;
			total += ram[i].size;
		}
		ram_fd = ram_file_create(vm, total, vm->ram_file, sizeof(vm->ram_file), err);
		if (ram_fd < 0) {
			vm_close(vm);
			return NULL;
		}
	}
	/* type 0: on arm64 the default 40-bit IPA space, enough for RAM above 4 GiB and the MMIO page */
	vm->fd = ioctl(the_kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		sys_fail(err, errno, "KVM_CREATE_VM");
		goto fail;
	}
	for (int i = 0; i < nregions; i++) {
		struct region *r = &vm->regions[i];
		*r = ram[i];
		r->host = NULL;
		if (r->size > VM_MAX_REGION_SIZE) {
			fail_msg(err, "RAM region %d is %llu bytes; at most %llu fit in the emulated machine", i,
				 (unsigned long long)r->size, (unsigned long long)VM_MAX_REGION_SIZE);
			goto fail;
		}
		r->host = map_ram(ram_fd, r->size, vm->ram_offset[i], err);
		if (!r->host)
			goto fail;
		vm->nregions = i + 1;
		struct kvm_userspace_memory_region slot = {
			.slot = (uint32_t)i, .guest_phys_addr = r->gpa, .memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot)) {
			sys_fail(err, errno, "KVM_SET_USER_MEMORY_REGION slot %d [0x%llx, +0x%llx)", i,
				 (unsigned long long)r->gpa, (unsigned long long)r->size);
			goto fail;
		}
	}
	if (arch_vm_init(vm, err))
		goto fail;
	for (int i = 0; i < nvcpus; i++) {
		vm->vcpus[i] = vcpu_create(the_kvm_fd, vm->fd, i, steal_time_offered, competitors[i % ncpus], err);
		if (!vm->vcpus[i])
			goto fail;
		vm->nvcpus = i + 1;
	}
	if (ram_fd >= 0)
		close(ram_fd);
	return vm;
fail:
	if (ram_fd >= 0)
		close(ram_fd);
	vm_close(vm);
	return NULL;
}

void vm_close(struct vm *vm)
{
	if (!vm)
		return;
	for (int i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(vm->vcpus[i]);
	if (vm->fd >= 0)
		close(vm->fd);
	vm_moved_release(vm);
	for (int i = 0; i < vm->nregions; i++)
		if (vm->regions[i].host)
			munmap(vm->regions[i].host, vm->regions[i].size);
	for (int i = 0; i < vm->nfiles; i++) {
		unlink(vm->files[i]);
		free(vm->files[i]);
	}
	free(vm->files);
	free(vm);
}
