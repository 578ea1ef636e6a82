/*
 * protocol.c - see protocol.h. Each method checks its params, does the work through vm.c /
 * vcpu.c / sampler.c, and answers a result or a JSON-RPC error whose code maps to the SPI's
 * exception (1 unsupported, 2 outside RAM, 3 refused in this state, 4 failed, -326xx protocol).
 */
#define _GNU_SOURCE
#include "protocol.h"
#include "watchdog.h"

#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "arch.h"
#include "dirty.h"
#include "json.h"
#include "sampler.h"
#include "vm.h"

#define PROTOCOL_VERSION 1
#define MAX_LINE (16u << 20)
#define MAX_MEMORY_BYTES (1u << 20)     /* per memory.read / memory.write */

/* Timing tolerance declared in the handshake; backed by EmulatedKvmMeasurementBenchmark (EmulatedKvmProvider.TOLERANCE). */
#ifndef TOLERANCE_NS
#define TOLERANCE_NS 20000000ull
#endif

static const char *unavailable;     /* why KVM cannot be used here, or NULL */
static char shared_dir[400];        /* the session's shared directory when reachable here ("shared"), else "" */
static struct vm *vms;
static int next_handle = 1;

static void respond_head(struct call *c)
{
	jb_lit(c->out, "{\"jsonrpc\":\"2.0\",\"id\":");
	jb_json(c->out, c->id);
}

int rpc_error(struct call *c, int code, const char *fmt, ...)
{
	char msg[ERR_LEN * 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	respond_head(c);
	jb_printf(c->out, ",\"error\":{\"code\":%d,\"message\":", code);
	jb_cstring(c->out, msg);
	jb_lit(c->out, "}}\n");
	c->answered = 1;
	return -1;
}

/* Starts a result object: the handler appends members after "{" and calls end_result. */
void rpc_begin(struct call *c)
{
	respond_head(c);
	jb_lit(c->out, ",\"result\":{");
}

int rpc_end(struct call *c)
{
	jb_lit(c->out, "}}\n");
	c->answered = 1;
	return 0;
}

int rpc_empty(struct call *c)
{
	rpc_begin(c);
	return rpc_end(c);
}

/* ------------------------------------------------------------------------- params */

int param_u64(struct call *c, const char *key, uint64_t *out)
{
	const struct json *v = json_get(c->params, key);
	if (!v || v->type != JSON_NUMBER || json_u64(v, out) || v->text[0] == '-')
		return rpc_error(c, E_PARAMS, "params.%s must be an unsigned integer", key);
	return 0;
}

int param_int(struct call *c, const char *key, int lo, int hi, int *out)
{
	uint64_t v;
	if (param_u64(c, key, &v))
		return -1;
	if (v < (uint64_t)lo || v > (uint64_t)hi)
		return rpc_error(c, E_PARAMS, "params.%s is %llu, must be %d..%d", key, (unsigned long long)v, lo, hi);
	*out = (int)v;
	return 0;
}

struct vm *param_vm(struct call *c)
{
	uint64_t h;
	if (param_u64(c, "vm", &h))
		return NULL;
	for (struct vm *vm = vms; vm; vm = vm->next)
		if ((uint64_t)vm->handle == h)
			return vm;
	rpc_error(c, E_PARAMS, "no open VM with handle %llu", (unsigned long long)h);
	return NULL;
}

struct vcpu *param_vcpu(struct call *c)
{
	struct vm *vm = param_vm(c);
	int index;
	if (!vm || param_int(c, "vcpu", 0, VM_MAX_VCPUS - 1, &index))
		return NULL;
	if (index >= vm->nvcpus) {
		rpc_error(c, E_PARAMS, "VM %d has %d vCPUs, no vCPU %d", vm->handle, vm->nvcpus, index);
		return NULL;
	}
	return vm->vcpus[index];
}

/* ------------------------------------------------------------------------- hello, open, close, bye */

static const char *kernel_release(void)
{
	static struct utsname u;
	return uname(&u) == 0 ? u.release : "unknown";
}

/*
 * Shared memory (§5) when the TCK's shared directory is a directory this process can write to: the
 * host's /dev/kvm, with the TCK beside it. Sampled (§6) when it is not: inside an emulated machine the
 * path names a directory of the host, which the guest cannot see.
 */
static void choose_memory(const struct json *dir)
{
	struct stat st;
	shared_dir[0] = 0;
	if (!dir || dir->type != JSON_STRING || dir->text[0] != '/' || strlen(dir->text) >= sizeof(shared_dir))
		return;
	if (stat(dir->text, &st) || !S_ISDIR(st.st_mode) || access(dir->text, W_OK | X_OK)) {
		logf_("shared_dir %s is not a directory this adapter can write to: guest RAM is sampled", dir->text);
		return;
	}
	strcpy(shared_dir, dir->text);
}

static int m_hello(struct call *c)
{
	uint64_t protocol;
	if (param_u64(c, "protocol", &protocol))
		return -1;
	protocol_reset();      /* a hello starts a fresh session */
	choose_memory(json_get(c->params, "shared_dir"));
	rpc_begin(c);
	jb_printf(c->out, "\"protocol\":%d,\"provider\":{\"id\":", PROTOCOL_VERSION);
	jb_cstring(c->out, arch_provider_id);
	jb_lit(c->out, ",\"description\":");
	jb_cstring(c->out, arch_description);
	jb_lit(c->out, ",\"version\":");
	char version[128];
	snprintf(version, sizeof(version), "Linux %s KVM API %d", kernel_release(), KVM_API_VERSION);
	jb_cstring(c->out, version);
	jb_lit(c->out, "},\"architectures\":[");
	jb_cstring(c->out, arch_name);
	jb_lit(c->out, "],\"capabilities\":");
	arch_capabilities(c->out);
	jb_printf(c->out, ",\"timing\":{\"exact\":false,\"tolerance_ns\":%llu}", (unsigned long long)TOLERANCE_NS);
	jb_printf(c->out, ",\"availability\":{\"available\":%s,\"reason\":", unavailable ? "false" : "true");
	jb_cstring(c->out, unavailable ? unavailable : "");
	jb_printf(c->out, "},\"memory\":\"%s\"", shared_dir[0] ? "shared" : "sampled");
	return rpc_end(c);
}

static int m_open(struct call *c)
{
	const struct json *arch = json_get(c->params, "architecture");
	const struct json *ram = json_get(c->params, "ram");
	const struct json *offered = json_get(c->params, "steal_time_offered");
	int nvcpus;
	if (!arch || arch->type != JSON_STRING)
		return rpc_error(c, E_PARAMS, "params.architecture must be a string");
	if (!ram || ram->type != JSON_ARRAY || ram->n == 0)
		return rpc_error(c, E_PARAMS, "params.ram must be a non-empty array");
	if (!offered || offered->type != JSON_BOOL)
		return rpc_error(c, E_PARAMS, "params.steal_time_offered must be a boolean");
	if (param_int(c, "vcpus", 1, INT32_MAX, &nvcpus))
		return -1;
	if (nvcpus > VM_MAX_VCPUS)
		return rpc_error(c, E_UNSUPPORTED, "%d vCPUs: the adapter builds at most %d", nvcpus, VM_MAX_VCPUS);
	if (strcmp(arch->text, arch_name) != 0)
		return rpc_error(c, E_UNSUPPORTED, "%s builds %s guests only, not %s", arch_provider_id, arch_name, arch->text);
	const struct json *alone = json_get(c->params, "only_steal_time");
	if (alone && alone->type != JSON_BOOL)
		return rpc_error(c, E_PARAMS, "params.only_steal_time must be a boolean");
	if (alone && alone->boolean && !offered->boolean)
		return rpc_error(c, E_PARAMS, "params.only_steal_time is true while params.steal_time_offered is false");
	int steal = !offered->boolean ? STEAL_WITHHELD : alone && alone->boolean ? STEAL_ALONE : STEAL_OFFERED;
	const char *refusal = arch_open_refusal(steal);
	if (refusal)
		return rpc_error(c, E_UNSUPPORTED, "%s", refusal);
	if (ram->n > VM_MAX_REGIONS)
		return rpc_error(c, E_UNSUPPORTED, "%zu RAM regions, at most %d supported", ram->n, VM_MAX_REGIONS);
	if (unavailable)
		return rpc_error(c, E_STATE, "KVM is unavailable: %s", unavailable);
	struct region regions[VM_MAX_REGIONS];
	for (size_t i = 0; i < ram->n; i++) {
		const struct json *r = ram->items[i];
		const struct json *gpa = json_get(r, "gpa"), *size = json_get(r, "size");
		if (!gpa || !size || gpa->type != JSON_NUMBER || size->type != JSON_NUMBER
		    || json_u64(gpa, &regions[i].gpa) || json_u64(size, &regions[i].size))
			return rpc_error(c, E_PARAMS, "params.ram[%zu] needs unsigned integers gpa and size", i);
		if (regions[i].gpa % 4096 || regions[i].size % 4096 || regions[i].size == 0
		    || (i > 0 && regions[i].gpa < regions[i - 1].gpa + regions[i - 1].size))
			return rpc_error(c, E_PARAMS, "params.ram[%zu]: regions must be 4 KiB aligned, ascending, disjoint", i);
	}
	char err[ERR_LEN];
	struct vm *vm = vm_open(next_handle, regions, (int)ram->n, nvcpus, steal,
				shared_dir[0] ? shared_dir : NULL, err);
	if (!vm)
		return rpc_error(c, E_FAILED, "%s", err);
	next_handle++;
	vm->next = vms;
	vms = vm;
	rpc_begin(c);
	jb_printf(c->out, "\"vm\":%d", vm->handle);
	if (vm->shared_dir) {
		jb_lit(c->out, ",\"ram_file\":");
		jb_cstring(c->out, vm->ram_file);
		jb_lit(c->out, ",\"regions\":[");
		for (int i = 0; i < vm->nregions; i++)
			jb_printf(c->out, "%s{\"gpa\":%llu,\"size\":%llu,\"offset\":%llu}", i ? "," : "",
				  (unsigned long long)vm->regions[i].gpa, (unsigned long long)vm->regions[i].size,
				  (unsigned long long)vm->ram_offset[i]);
		jb_lit(c->out, "]");
	}
	return rpc_end(c);
}

static void stop_sampling(struct vm *vm)
{
	if (vm->sampler) {
		sampler_stop(vm->sampler);
		sampler_free(vm->sampler);
		vm->sampler = NULL;
	}
}

static void close_vm(struct vm *vm)
{
	for (struct vm **p = &vms; *p; p = &(*p)->next) {
		if (*p == vm) {
			*p = vm->next;
			break;
		}
	}
	stop_sampling(vm);
	vm_close(vm);
}

void protocol_reset(void)
{
	while (vms)
		close_vm(vms);
}

static int m_close(struct call *c)
{
	struct vm *vm = param_vm(c);
	if (!vm)
		return -1;
	close_vm(vm);
	return rpc_empty(c);
}

static int m_bye(struct call *c)
{
	protocol_reset();
	return rpc_empty(c);
}

/* ------------------------------------------------------------------------- guest memory */

/* The host address of [gpa, gpa + len) from the params, or NULL (error answered). */
static uint8_t *param_ram(struct call *c, struct vm *vm, uint64_t gpa, uint64_t len)
{
	uint8_t *p = vm_ram(vm, gpa, len);
	if (!p)
		rpc_error(c, E_OUTSIDE_RAM, "gpa 0x%llx + %llu is outside guest RAM", (unsigned long long)gpa,
		      (unsigned long long)len);
	return p;
}

static int m_memory_read(struct call *c)
{
	struct vm *vm = param_vm(c);
	uint64_t gpa;
	int len;
	if (!vm || param_u64(c, "gpa", &gpa) || param_int(c, "length", 0, MAX_MEMORY_BYTES, &len))
		return -1;
	const volatile uint8_t *p = param_ram(c, vm, gpa, (uint64_t)len);
	if (!p)
		return -1;
	return rpc_bytes(c, p, len);
}

int rpc_bytes(struct call *c, const volatile uint8_t *p, int len)
{
	rpc_begin(c);
	jb_lit(c->out, "\"bytes\":\"");
	/* a chunk at a time: under an emulated CPU a call per byte costs whole seconds for a RAM image */
	static const char hex[] = "0123456789abcdef";
	char chunk[8192];
	for (int i = 0; i < len;) {
		size_t n = 0;
		for (; i < len && n < sizeof(chunk); i++) {
			uint8_t b = p[i];
			chunk[n++] = hex[b >> 4];
			chunk[n++] = hex[b & 15];
		}
		jb_raw(c->out, chunk, n);
	}
	jb_lit(c->out, "\"");
	return rpc_end(c);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9') return ch - '0';
	if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
	return -1;
}

static int m_memory_write(struct call *c)
{
	struct vm *vm = param_vm(c);
	uint64_t gpa;
	const struct json *bytes = json_get(c->params, "bytes");
	if (!vm || param_u64(c, "gpa", &gpa))
		return -1;
	if (!bytes || bytes->type != JSON_STRING || bytes->len % 2 || bytes->len / 2 > MAX_MEMORY_BYTES)
		return rpc_error(c, E_PARAMS, "params.bytes must be a hex string of whole bytes (at most %u)", MAX_MEMORY_BYTES);
	size_t n = bytes->len / 2;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return rpc_error(c, E_FAILED, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(bytes->text[2 * i]), lo = hexval(bytes->text[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			return rpc_error(c, E_PARAMS, "params.bytes is not hexadecimal at byte %zu", i);
		}
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	uint8_t *p = param_ram(c, vm, gpa, n);
	if (p) {
		/* as the guest would with plain stores; an aligned 4 or 8 bytes is one single store
		 * (the TCK seeds words this way while readers sample them), so are aligned 8-byte
		 * pieces of longer writes */
		size_t i = 0;
		if (n == 4 && gpa % 4 == 0) {
			uint32_t w;
			memcpy(&w, buf, 4);
			__atomic_store_n((uint32_t *)(void *)p, w, __ATOMIC_RELEASE);
			i = n;
		}
		for (; i < n && ((gpa + i) % 8 || n - i < 8); i++)
			__atomic_store_n(p + i, buf[i], __ATOMIC_RELAXED);
		for (; i + 8 <= n; i += 8) {
			uint64_t w;
			memcpy(&w, buf + i, 8);
			__atomic_store_n((uint64_t *)(void *)(p + i), w, __ATOMIC_RELEASE);
		}
		for (; i < n; i++)
			__atomic_store_n(p + i, buf[i], __ATOMIC_RELAXED);
	}
	free(buf);
	return p ? rpc_empty(c) : -1;
}

static int m_sample_start(struct call *c)
{
	struct vm *vm = param_vm(c);
	int readers;
	uint64_t max_iterations;
	const struct json *program = json_get(c->params, "program");
	if (!vm || param_int(c, "readers", 1, SAMPLER_MAX_READERS, &readers)
	    || param_u64(c, "max_iterations", &max_iterations))
		return -1;
	if (!program || program->type != JSON_ARRAY || program->n < 1 || program->n > SAMPLER_MAX_LOADS)
		return rpc_error(c, E_PARAMS, "params.program must be an array of 1..%d loads", SAMPLER_MAX_LOADS);
	if (vm->sampler)
		return rpc_error(c, E_STATE, "VM %d already has a sampling session", vm->handle);
	struct sample_load loads[SAMPLER_MAX_LOADS];
	for (size_t i = 0; i < program->n; i++) {
		const struct json *gpa = json_get(program->items[i], "gpa");
		const struct json *width = json_get(program->items[i], "width");
		uint64_t g, w;
		if (!gpa || !width || gpa->type != JSON_NUMBER || width->type != JSON_NUMBER
		    || json_u64(gpa, &g) || json_u64(width, &w) || (w != 4 && w != 8))
			return rpc_error(c, E_PARAMS, "params.program[%zu] needs an unsigned gpa and a width of 4 or 8", i);
		if (g % w)
			return rpc_error(c, E_OUTSIDE_RAM, "params.program[%zu]: gpa 0x%llx is not aligned to %llu", i,
				     (unsigned long long)g, (unsigned long long)w);
		loads[i].host = param_ram(c, vm, g, w);
		loads[i].width = (int)w;
		if (!loads[i].host)
			return -1;
	}
	char err[ERR_LEN];
	vm->sampler = sampler_start(loads, (int)program->n, readers, max_iterations, vcpu_requests_in_progress, err);
	if (!vm->sampler)
		return rpc_error(c, E_FAILED, "%s", err);
	rpc_begin(c);
	jb_printf(c->out, "\"session\":%d", vm->handle);   /* one session per VM: its handle will do */
	return rpc_end(c);
}

static int m_sample_stop(struct call *c)
{
	struct vm *vm = param_vm(c);
	uint64_t session;
	if (!vm || param_u64(c, "session", &session))
		return -1;
	if (!vm->sampler || session != (uint64_t)vm->handle)
		return rpc_error(c, E_STATE, "VM %d has no sampling session %llu", vm->handle, (unsigned long long)session);
	struct sampler *s = vm->sampler;
	sampler_stop(s);
	if (sampler_error(s)[0]) {
		char msg[ERR_LEN];
		memcpy(msg, sampler_error(s), ERR_LEN);
		sampler_free(s);
		vm->sampler = NULL;
		return rpc_error(c, E_FAILED, "%s", msg);
	}
	rpc_begin(c);
	jb_lit(c->out, "\"readers\":[");
	for (int r = 0; r < sampler_readers(s); r++) {
		uint64_t records;
		const uint64_t *counts;
		const uint64_t *v = sampler_values(s, r, &records, &counts);
		jb_printf(c->out, "%s{\"iterations\":%llu,\"values\":[", r ? "," : "", (unsigned long long)records);
		uint64_t n = records * (uint64_t)sampler_loads(s);
		for (uint64_t i = 0; i < n; i++) {
			if (i)
				jb_lit(c->out, ",");
			jb_u64(c->out, v[i]);
		}
		jb_lit(c->out, "],\"counts\":[");
		for (uint64_t i = 0; i < records; i++) {
			if (i)
				jb_lit(c->out, ",");
			jb_u64(c->out, counts[i]);
		}
		jb_lit(c->out, "]}");
	}
	jb_lit(c->out, "]");
	sampler_free(s);
	vm->sampler = NULL;
	return rpc_end(c);
}

/* ------------------------------------------------------------------------- vCPUs */

static int workload(struct call *c, int (*fn)(struct vcpu *, uint64_t, char *))
{
	struct vcpu *v = param_vcpu(c);
	uint64_t ns;
	if (!v || param_u64(c, "duration_ns", &ns))
		return -1;
	if (ns > 60000000000ull)
		return rpc_error(c, E_PARAMS, "params.duration_ns %llu is over a minute", (unsigned long long)ns);
	char err[ERR_LEN];
	if (fn(v, ns, err))
		return rpc_error(c, E_FAILED, "%s", err);
	return rpc_empty(c);
}

static int m_run(struct call *c) { return workload(c, vcpu_run); }
static int m_preempt(struct call *c) { return workload(c, vcpu_preempt); }
static int m_idle(struct call *c) { return workload(c, vcpu_idle); }

static int m_host_steal(struct call *c)
{
	struct vcpu *v = param_vcpu(c);
	if (!v)
		return -1;
	char err[ERR_LEN];
	int64_t ns = run_delay_ns(vcpu_tid(v), err);
	if (ns < 0)
		return rpc_error(c, E_FAILED, "%s", err);
	rpc_begin(c);
	jb_printf(c->out, "\"ns\":%lld", (long long)ns);
	return rpc_end(c);
}

/* ------------------------------------------------------------------------- dispatch */

static const struct method methods[] = {
	{ "hello", m_hello }, { "open", m_open }, { "close", m_close }, { "bye", m_bye },
	{ "memory.read", m_memory_read }, { "memory.write", m_memory_write },
	{ "memory.sample_start", m_sample_start }, { "memory.sample_stop", m_sample_stop },
	{ "memory.dirty_log_start", m_dirty_log_start }, { "memory.dirty_log_take", m_dirty_log_take },
	{ "memory.replace_backing", m_replace_backing }, { "memory.read_retired", m_read_retired },
	{ "vcpu.run", m_run }, { "vcpu.preempt", m_preempt }, { "vcpu.idle", m_idle },
	{ "vcpu.host_steal", m_host_steal },
};

/* The SPI's architecture-specific calls: those the other architecture's adapter serves. */
static const char *const foreign_methods[] = {
	"arm64.has_device_attr", "arm64.set_device_attr", "arm64.get_device_attr", "arm64.smccc",
	"x86.guest_wrmsr", "x86.guest_rdmsr", "x86.host_set_msr", "x86.host_get_msr", "x86.cpuid",
};

static const struct method *find_method(const struct method *table, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

void protocol_handle_line(const char *line, size_t len, struct jbuf *out)
{
	struct json_doc *doc = NULL;
	const char *why = NULL;
	const struct json *req = json_parse(line, len, &doc, &why);
	struct call c = { NULL, NULL, out, 0 };
	if (!req) {
		rpc_error(&c, E_PARSE, "the request is not JSON: %s", why ? why : "?");
	} else {
		const struct json *version = json_get(req, "jsonrpc");
		const struct json *method = json_get(req, "method");
		c.id = json_get(req, "id");
		c.params = json_get(req, "params");
		if (c.id && c.id->type != JSON_NUMBER && c.id->type != JSON_STRING)
			c.id = NULL;
		if (req->type != JSON_OBJECT || !version || version->type != JSON_STRING
		    || strcmp(version->text, "2.0") != 0 || !method || method->type != JSON_STRING || !c.id) {
			rpc_error(&c, E_REQUEST, "not a JSON-RPC 2.0 request with an id and a method");
		} else if (c.params && c.params->type != JSON_OBJECT) {
			rpc_error(&c, E_PARAMS, "params must be an object");
		} else {
			static const struct json no_params = { .type = JSON_OBJECT };
			if (!c.params)
				c.params = &no_params;
			const struct method *m = find_method(methods, sizeof(methods) / sizeof(methods[0]), method->text);
			if (!m)
				m = find_method(arch_methods, arch_nmethods, method->text);
			if (m) {
				watchdog_begin(method->text);   /* ended once the answer is written (protocol_serve) */
				m->handler(&c);
			} else {
				size_t i;
				for (i = 0; i < sizeof(foreign_methods) / sizeof(foreign_methods[0]); i++)
					if (strcmp(foreign_methods[i], method->text) == 0)
						break;
				if (i < sizeof(foreign_methods) / sizeof(foreign_methods[0]))
					rpc_error(&c, E_UNSUPPORTED, "%s has no %s vCPUs (%s)", arch_provider_id,
						  strncmp(method->text, "x86.", 4) == 0 ? "x86" : "arm64", method->text);
				else
					rpc_error(&c, E_METHOD, "unknown method %s", method->text);
			}
		}
	}
	if (!c.answered)
		rpc_error(&c, E_FAILED, "internal error: no answer");
	json_free(doc);
}

/* ------------------------------------------------------------------------- the stream */

/*
 * Waits until fd is ready for events (a non-blocking channel said EAGAIN). The wait is bounded (AWAIT_MS) and repeated: poll's last
 * look at the channel is a fresh check of its state, so a wakeup the virtio-serial driver never
 * delivers costs AWAIT_MS instead of the session. Such a wakeup is logged (the first few): poll
 * woke by its timeout and found the channel ready.
 */
#define AWAIT_MS 250
static int await_ready(int fd, short events)
{
	static unsigned lost_wakeups;
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		uint64_t t0 = now_ns();
		int n = poll(&p, 1, AWAIT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			continue;
		if (now_ns() - t0 >= AWAIT_MS * 1000000ull && lost_wakeups++ < 5)
			logf_("poll(%s) on the protocol channel woke by its %d ms timeout and found it ready: a lost wakeup, recovered",
			      events == POLLIN ? "POLLIN" : "POLLOUT", AWAIT_MS);
		return 0;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && await_ready(fd, POLLOUT) == 0)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int protocol_serve(int in_fd, int out_fd, const char *unavailable_reason)
{
	unavailable = unavailable_reason;
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	int discarding = 0;      /* inside an over-long line: skip to its end */
	if (!buf)
		return -1;
	for (;;) {
		if (len == cap) {
			if (cap >= MAX_LINE) {
				discarding = 1;
				len = 0;
			} else {
				char *b = realloc(buf, cap * 2);
				if (!b) {
					discarding = 1;
					len = 0;
				} else {
					buf = b;
					cap *= 2;
				}
			}
		}
		ssize_t n = read(in_fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && await_ready(in_fd, POLLIN) == 0)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		char *start = buf, *nl;
		while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
			struct jbuf out;
			jb_init(&out);
			size_t line = (size_t)(nl - start);
			if (line && start[line - 1] == '\r')
				line--;
			if (discarding) {
				struct call c = { NULL, NULL, &out, 0 };
				rpc_error(&c, E_REQUEST, "request line longer than %u bytes", MAX_LINE);
				discarding = 0;
			} else if (line > 0) {
				watchdog_note(start, line);
				protocol_handle_line(start, line, &out);
			}
			int failed = out.oom || (out.len && write_all(out_fd, out.data, out.len));
			watchdog_end();
			if (out.len)
				watchdog_note(out.data, out.len);   /* the note keeps its start only */
			if (failed) {
				logf_("cannot answer (%s)", out.oom ? "out of memory" : strerror(errno));
				jb_free(&out);
				free(buf);
				return -1;
			}
			jb_free(&out);
			start = nl + 1;
		}
		len -= (size_t)(start - buf);
		memmove(buf, start, len);
	}
	free(buf);
	protocol_reset();
	return 0;
}
