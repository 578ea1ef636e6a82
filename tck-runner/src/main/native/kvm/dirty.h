/*
 * dirty.h - guest RAM as a VMM moves it (docs/adapter-protocol.md §4.7, §4.8): dirty-page logging
 * (KVM_MEM_LOG_DIRTY_PAGES, KVM_GET_DIRTY_LOG) and memory slots re-created over new backing
 * (KVM_SET_USER_MEMORY_REGION with memory_size 0, then again), and the four protocol methods
 * that expose them. The same for every architecture.
 */
#ifndef TCK_DIRTY_H
#define TCK_DIRTY_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* Turns logging on for every slot and empties the bitmaps; the granule (host page size) in *granule. */
int vm_dirty_log_start(struct vm *vm, uint64_t *granule, char *err);

/*
 * The dirty granules of every slot since the start or the last call, ascending (guest-physical
 * address of each), and clears them: *pages is malloc'ed (free it), *n its length. -1 with err set
 * (logging not started: *not_started = 1).
 */
int vm_dirty_log_take(struct vm *vm, uint64_t **pages, size_t *n, int *not_started, char *err);

/* Moves the region holding gpa to new memory holding a copy (vm_new_backing: a new RAM file, named in
 * file, when the VM shares its RAM; else anonymous, file ""); the old mapping is kept. */
int vm_replace_backing(struct vm *vm, uint64_t gpa, char *file, size_t file_len, char *err);

/* The retired (old) backing of [gpa, gpa + len): NULL when outside RAM (*never_moved 0) or never moved (1). */
const uint8_t *vm_retired(struct vm *vm, uint64_t gpa, uint64_t len, int *never_moved);

/* Unmaps the retired backings (from vm_close). */
void vm_moved_release(struct vm *vm);

/* The protocol methods memory.dirty_log_start, .dirty_log_take, .replace_backing, .read_retired. */
struct call;
int m_dirty_log_start(struct call *c);
int m_dirty_log_take(struct call *c);
int m_replace_backing(struct call *c);
int m_read_retired(struct call *c);

#endif
