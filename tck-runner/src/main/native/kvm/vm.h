/*
 * vm.h - one KVM VM (either architecture): its guest RAM (one anonymous mapping per memory slot, with holes
 * between them as the TCK's spec asks), its vCPUs, and the competitors that preempt them.
 */
#ifndef TCK_VM_H
#define TCK_VM_H

#include <stdint.h>

#include "competitor.h"
#include "kvm_util.h"
#include "vcpu.h"

#define VM_MAX_REGIONS 16
#define VM_MAX_VCPUS 64
#define VM_MAX_REGION_SIZE (256ull << 20)   /* the emulated machine has 1 GiB */

struct region {
	uint64_t gpa, size;
	uint8_t *host;
};

struct sampler;

struct vm {
	int handle;
	int fd;
	int nregions;
	struct region regions[VM_MAX_REGIONS];
	int nvcpus;
	struct vcpu *vcpus[VM_MAX_VCPUS];
	struct sampler *sampler;       /* the running sampling session, if any */
	struct vm *next;
};

/* Process-wide: /dev/kvm and one competitor per CPU the adapter may use. */
int kvm_global_init(char *err);
int kvm_fd(void);
int kvm_ncpus(void);

/* Builds a VM; NULL with err set. The guest program is in place and every vCPU has run once. */
struct vm *vm_open(int handle, const struct region *ram, int nregions, int nvcpus, int steal_time_offered, char *err);
void vm_close(struct vm *vm);

/* The host address of [gpa, gpa + len) when it lies inside one region, else NULL. */
uint8_t *vm_ram(struct vm *vm, uint64_t gpa, uint64_t len);

#endif
