/*
 * vm.h - one KVM VM (either architecture): its guest RAM (one mapping per memory slot, with holes
 * between them as the TCK's spec asks), its vCPUs, and the competitors that preempt them.
 *
 * Guest RAM is anonymous memory ("sampled": the TCK reads it through the adapter), or, when the
 * TCK's shared directory is reachable from here, a file in it (docs/adapter-protocol.md §5,
 * "shared": the TCK maps the same pages and reads them live, as a guest would).
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
	const char *shared_dir;            /* where the RAM files are ("shared"), or NULL ("sampled") */
	char ram_file[512];                /* the file holding every region at ram_offset[i] ("shared") */
	uint64_t ram_offset[VM_MAX_REGIONS];
	char **files;                      /* every RAM file made for this VM, deleted on close */
	int nfiles;
	int fd;
	int nregions;
	struct region regions[VM_MAX_REGIONS];
	uint8_t *retired[VM_MAX_REGIONS];  /* the backing the last move of each region retired (dirty.c) */
	uint32_t slot_flags;               /* KVM_MEM_LOG_DIRTY_PAGES once logging started (dirty.c) */
	int nvcpus;
	struct vcpu *vcpus[VM_MAX_VCPUS];
	struct sampler *sampler;       /* the running sampling session, if any */
	struct vm *next;
};

/* Process-wide: /dev/kvm and one competitor per CPU the adapter may use. */
int kvm_global_init(char *err);
int kvm_fd(void);
int kvm_ncpus(void);

/* Builds a VM; NULL with err set. The guest program is in place and every vCPU has run once.
 * shared_dir: make guest RAM a file there (ram_file, ram_offset), or NULL for anonymous memory. */
struct vm *vm_open(int handle, const struct region *ram, int nregions, int nvcpus, int steal_time_offered,
		   const char *shared_dir, char *err);

/* New backing of size bytes for a region that moves (replace_backing): a new file vm-H.ram.N when the VM
 * shares its RAM (its path in file, the region at offset 0), else anonymous memory (file ""). NULL with err set. */
uint8_t *vm_new_backing(struct vm *vm, uint64_t size, char *file, size_t file_len, char *err);
void vm_close(struct vm *vm);

/* The host address of [gpa, gpa + len) when it lies inside one region, else NULL. */
uint8_t *vm_ram(struct vm *vm, uint64_t gpa, uint64_t len);

#endif
