/*
 * x86-64: the 8250 UART at 0x3f8, CPUID, RDMSR/WRMSR with faults caught (exception table), the
 * TSC as clock (its rate from kvmclock under KVM, else measured against the PIT), HLT woken by
 * the local APIC timer, and the application processors started with INIT-SIPI-SIPI.
 */
#include "guest.h"

const char arch_name[] = "x86_64";
unsigned cpu_count = 1;

/* ---- port I/O, MSRs, CPUID ------------------------------------------------------------------ */
static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/*
 * Faults we expect (RDMSR/WRMSR of an MSR the hypervisor refuses) are caught through an exception
 * table: each entry names an instruction that may fault and where to continue. trap() finds the
 * faulting RIP there, records the vector in the vCPU's struct cpu and resumes at the fixup.
 */
struct extable { uint64_t insn, fixup; };
extern const struct extable __extable_start[], __extable_end[];
#define EXTABLE(insn, fixup) ".pushsection .extable, \"a\"\n.quad " #insn ", " #fixup "\n.popsection\n"
#define NO_FAULT 0xffffffff

struct cpu {
    uint32_t apic_id;
    volatile uint32_t fault;            /* vector of the last caught fault, or NO_FAULT */
};
static struct cpu cpus[MAX_CPUS];
static void verb_cpu_up(uint64_t id, struct out *o);
static void delay_ns(uint64_t ns);

/* ---- local APIC (xAPIC, memory-mapped; the page tables map it uncached) ---------------------- */
#define APIC_BASE 0xfee00000UL
#define APIC_ID 0x20
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3e0
#define WAKE_VECTOR 0xef                /* the APIC timer and the kick IPI */
#define SPURIOUS_VECTOR 0xff

static inline uint32_t apic_read(unsigned reg) { return *(volatile uint32_t *)(APIC_BASE + reg); }
static inline void apic_write(unsigned reg, uint32_t v) { *(volatile uint32_t *)(APIC_BASE + reg) = v; }

static struct cpu *this_cpu(void)
{
    uint32_t id = apic_read(APIC_ID) >> 24;
    for (unsigned i = 0; i < cpu_count; i++)
        if (cpus[i].apic_id == id)
            return &cpus[i];
    return &cpus[0];
}

/* ---- serial port: 8250 at 0x3f8, 115200 8N1, polled ------------------------------------------ */
#define COM1 0x3f8

static void serial_init(void)
{
    outb(COM1 + 1, 0x00);               /* no interrupts */
    outb(COM1 + 3, 0x80);               /* DLAB: divisor follows */
    outb(COM1 + 0, 0x01);               /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);               /* 8N1 */
    outb(COM1 + 4, 0x03);               /* DTR, RTS */
    /* the FIFO control register stays as it is: changing it empties the receive FIFO, and the
       host may have sent its first request already */
}

void arch_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))     /* transmit holding register empty */
        ;
    outb(COM1, (uint8_t)c);
}

int arch_getc(void)
{
    while (!(inb(COM1 + 5) & 0x01))     /* data ready */
        asm volatile("pause");
    return inb(COM1);
}

static void panic(const char *what, uint64_t a, uint64_t b)
{
    char buf[120];
    struct out o = { buf, buf + sizeof(buf) - 2 };
    out_str(&o, "panic ");
    out_str(&o, what);
    out_str(&o, " ");
    out_hex(&o, a);
    out_str(&o, " ");
    out_hex(&o, b);
    *o.p++ = '\n';
    *o.p = 0;
    console_puts(buf);
    for (;;)
        asm volatile("cli; hlt");
}

/* ---- interrupts and exceptions --------------------------------------------------------------- */
struct regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

struct idt_entry {
    uint16_t offset_lo, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_hi, zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
extern const uint64_t trap_stubs[];     /* entry.S: pairs (vector, stub), ended by -1 */

void trap(struct regs *r);
void trap(struct regs *r)
{
    if (r->vector == WAKE_VECTOR) {
        apic_write(APIC_EOI, 0);
        return;
    }
    if (r->vector == SPURIOUS_VECTOR)
        return;
    for (const struct extable *e = __extable_start; e < __extable_end; e++) {
        if (e->insn == r->rip) {
            this_cpu()->fault = (uint32_t)r->vector;
            r->rip = e->fixup;
            return;
        }
    }
    panic("exception vector/rip", r->vector, r->rip);
}

static void idt_load(void)
{
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = { sizeof(idt) - 1, (uint64_t)idt };
    asm volatile("lidt %0" : : "m"(d));
}

static void idt_init(void)
{
    for (const uint64_t *s = trap_stubs; s[0] != (uint64_t)-1; s += 2) {
        struct idt_entry *e = &idt[s[0]];
        e->offset_lo = (uint16_t)s[1];
        e->selector = 0x08;
        e->type = 0x8e;                 /* present, ring 0, 64-bit interrupt gate */
        e->offset_mid = (uint16_t)(s[1] >> 16);
        e->offset_hi = (uint32_t)(s[1] >> 32);
    }
    idt_load();
}

/* ---- clock: the TSC, its rate measured against PIT channel 2 --------------------------------- */
static uint64_t tsc_khz;
static uint64_t ns_per_tsc_q32;         /* nanoseconds per TSC tick, 32.32 fixed point */
static uint64_t apic_timer_khz;         /* local APIC timer ticks per ms (divide by 1) */

uint64_t arch_now_ns(void)
{
    return (uint64_t)(((unsigned __int128)rdtsc() * ns_per_tsc_q32) >> 32);
}

void arch_relax(void)
{
    asm volatile("pause");
}

static const char *tsc_rate_from = "pit";

/* 50 ms of PIT channel 2 (1193182 Hz, mode 0, gate on, speaker off) counted in TSC ticks. */
static void calibrate_tsc_pit(void)
{
    const uint16_t count = 1193182 / 20;
    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
    outb(0x43, 0xb0);                   /* channel 2, low byte then high byte, mode 0 */
    outb(0x42, count & 0xff);
    outb(0x42, count >> 8);
    uint64_t t0 = rdtsc();
    while (!(inb(0x61) & 0x20))         /* OUT2 goes high when the count reaches 0 */
        ;
    uint64_t t1 = rdtsc();
    tsc_khz = (t1 - t0) / 50;
    ns_per_tsc_q32 = (1000000ULL << 32) / tsc_khz;
}

/* KVM's paravirtual clock (kvmclock) states the TSC's rate exactly: ns = (ticks << shift) * mul
   >> 32. Registered on vCPU 0 just long enough to read it once. Returns 0 when there is none. */
struct pvclock {
    uint32_t version, pad0;
    uint64_t tsc_timestamp, system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags, pad[2];
};
static struct pvclock pvclock __attribute__((aligned(64)));
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1 << 3)

static uint32_t wrmsr_safe(uint32_t msr, uint64_t value);

static int tsc_rate_from_kvmclock(void)
{
    uint32_t r[4];
    cpuid(0x40000000, 0, r);
    if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d)      /* "KVMKVMKVM\0\0\0" */
        return 0;
    cpuid(0x40000001, 0, r);
    if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2))
        return 0;
    if (wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)&pvclock | 1) != NO_FAULT)
        return 0;
    uint32_t version, mul;
    int8_t shift;
    do {
        version = __atomic_load_n(&pvclock.version, __ATOMIC_ACQUIRE);
        mul = pvclock.tsc_to_system_mul;
        shift = pvclock.tsc_shift;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != pvclock.version || mul == 0);
    wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, 0);
    ns_per_tsc_q32 = shift >= 0 ? (uint64_t)mul << shift : (uint64_t)mul >> -shift;
    tsc_khz = (1000000ULL << 32) / ns_per_tsc_q32;
    tsc_rate_from = "kvmclock";
    return 1;
}

/* The APIC timer's rate: a 10 ms countdown read against the (calibrated) TSC. */
static void calibrate_apic_timer(void)
{
    apic_write(APIC_TIMER_DIV, 0xb);    /* divide by 1 */
    apic_write(APIC_LVT_TIMER, 1 << 16 | WAKE_VECTOR);      /* masked while we measure */
    uint64_t end = arch_now_ns() + 10000000;
    apic_write(APIC_TIMER_INIT, 0xffffffff);
    while (arch_now_ns() < end)
        ;
    apic_timer_khz = (0xffffffffULL - apic_read(APIC_TIMER_CUR)) / 10;
    apic_write(APIC_TIMER_INIT, 0);
    apic_write(APIC_LVT_TIMER, WAKE_VECTOR);                /* one-shot, unmasked */
}

static void apic_init(void)
{
    apic_write(APIC_SVR, 0x100 | SPURIOUS_VECTOR);          /* software enable */
    apic_write(APIC_TIMER_DIV, 0xb);
    apic_write(APIC_LVT_TIMER, WAKE_VECTOR);
}

/* HLT until ns have passed on the TSC; the APIC timer (one-shot) ends each HLT. */
uint64_t arch_idle(uint64_t ns)
{
    uint64_t end = arch_now_ns() + ns, wakeups = 0, now;
    while ((now = arch_now_ns()) < end) {
        uint64_t ticks = (end - now) * apic_timer_khz / 1000000 + 1;
        apic_write(APIC_TIMER_INIT, ticks > 0xffffffff ? 0xffffffff : (uint32_t)ticks);
        asm volatile("sti; hlt; cli");  /* STI's one-instruction shadow: no wake-up is lost */
        wakeups++;
    }
    apic_write(APIC_TIMER_INIT, 0);
    return wakeups;
}

void arch_kick(unsigned cpu)
{
    apic_write(APIC_ICR_HI, cpus[cpu].apic_id << 24);
    apic_write(APIC_ICR_LO, WAKE_VECTOR);                   /* fixed, physical destination */
}

void arch_wait(void)
{
    asm volatile("sti; hlt; cli");
}

/* Returns only if nothing turned the machine off within a second (under KVM the vCPU runs on
   for a moment after the write that asks the VMM to stop). */
void arch_power_off(void)
{
    outw(0x604, 0x2000);        /* ACPI PM1a control, SLP_EN with S5 type 0 (QEMU pc and q35, PM base 0x600) */
    outb(0xf4, 0);              /* isa-debug-exit, where the VMM has one */
    uint64_t end = arch_now_ns() + 1000000000;
    while (arch_now_ns() < end)
        asm volatile("pause");
}

/* ---- memory: guest-physical = virtual below 4 GiB -------------------------------------------- */
/* No fault to catch: under KVM an address without RAM or a device reads as all ones (QEMU's
   unassigned memory) and writes vanish. */
static int in_map(uint64_t gpa, size_t len)
{
    return gpa < (1ULL << 32) && len <= (1ULL << 32) - gpa;
}

/* 8-byte aligned ranges move 8 bytes at a time (one load or store each), others byte by byte. */
static void copy(volatile void *dst, const volatile void *src, size_t len)
{
    if (((uintptr_t)dst | (uintptr_t)src | len) % 8 == 0) {
        for (size_t i = 0; i < len / 8; i++)
            ((volatile uint64_t *)dst)[i] = ((const volatile uint64_t *)src)[i];
    } else {
        for (size_t i = 0; i < len; i++)
            ((volatile uint8_t *)dst)[i] = ((const volatile uint8_t *)src)[i];
    }
}

int arch_read(uint64_t gpa, void *buf, size_t len, struct out *o)
{
    if (!in_map(gpa, len)) {
        out_str(o, "err address not mapped");
        return -1;
    }
    copy(buf, (const volatile void *)gpa, len);
    return 0;
}

int arch_write(uint64_t gpa, const void *buf, size_t len, struct out *o)
{
    if (!in_map(gpa, len)) {
        out_str(o, "err address not mapped");
        return -1;
    }
    copy((volatile void *)gpa, buf, len);
    return 0;
}

/* ---- the architecture's verbs ---------------------------------------------------------------- */
static const char *vector_name(uint32_t v)
{
    switch (v) {
    case 0: return "#DE";
    case 6: return "#UD";
    case 13: return "#GP";
    case 14: return "#PF";
    default: return "#EXC";
    }
}

/* RDMSR and WRMSR that return NO_FAULT, or the vector of the exception they raised. */
static uint32_t rdmsr_safe(uint32_t msr, uint64_t *value)
{
    uint32_t lo = 0, hi = 0;
    struct cpu *c = this_cpu();
    c->fault = NO_FAULT;
    asm volatile("1: rdmsr\n2:\n" EXTABLE(1b, 2b) : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    *value = (uint64_t)hi << 32 | lo;
    return c->fault;
}

static uint32_t wrmsr_safe(uint32_t msr, uint64_t value)
{
    struct cpu *c = this_cpu();
    c->fault = NO_FAULT;
    asm volatile("1: wrmsr\n2:\n" EXTABLE(1b, 2b)
                 : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
    return c->fault;
}

static void fault_or_ok(struct out *o, uint32_t fault)
{
    out_str(o, fault == NO_FAULT ? "ok" : vector_name(fault));
}

int arch_request(const char *verb, char **argv, int argc, struct out *o)
{
    uint64_t a, b;
    if (streq(verb, "cpu-up") && argc == 1) {
        if (parse_u64(argv[0], &a))
            out_str(o, "err bad number");
        else
            verb_cpu_up(a, o);
        return 1;
    }
    if (streq(verb, "cpuid") && argc == 2) {
        uint32_t r[4];
        if (parse_u64(argv[0], &a) || parse_u64(argv[1], &b) || a > 0xffffffff || b > 0xffffffff) {
            out_str(o, "err bad number");
            return 1;
        }
        cpuid((uint32_t)a, (uint32_t)b, r);
        out_str(o, "ok");
        for (int i = 0; i < 4; i++) {
            out_str(o, " ");
            out_hex(o, r[i]);
        }
        return 1;
    }
    if (streq(verb, "rdmsr") && argc == 1) {
        uint64_t v;
        if (parse_u64(argv[0], &a) || a > 0xffffffff) {
            out_str(o, "err bad number");
            return 1;
        }
        uint32_t fault = rdmsr_safe((uint32_t)a, &v);
        fault_or_ok(o, fault);
        if (fault == NO_FAULT) {
            out_str(o, " ");
            out_hex(o, v);
        }
        return 1;
    }
    if (streq(verb, "wrmsr") && argc == 2) {
        if (parse_u64(argv[0], &a) || parse_u64(argv[1], &b) || a > 0xffffffff) {
            out_str(o, "err bad number");
            return 1;
        }
        fault_or_ok(o, wrmsr_safe((uint32_t)a, b));
        return 1;
    }
    return 0;
}

/* ---- boot ------------------------------------------------------------------------------------ */
/* PVH's struct hvm_start_info (version 1 has the memory map). */
struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};
struct hvm_memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

extern char _end[];
static uint64_t free_start, free_end;   /* RAM the guest leaves alone, for the TCK's structures */

/* The RAM range (memory-map type 1) holding the image; free RAM is what follows the image. */
static void find_free_ram(const struct hvm_start_info *si)
{
    free_start = ((uint64_t)_end + 0x1fffff) & ~0x1fffffULL;       /* next 2 MiB boundary */
    if (si->magic != 0x336ec578 || si->version < 1)
        return;
    const struct hvm_memmap_entry *m = (const void *)si->memmap_paddr;
    for (uint32_t i = 0; i < si->memmap_entries; i++)
        if (m[i].type == 1 && m[i].addr <= free_start && free_start < m[i].addr + m[i].size)
            free_end = m[i].addr + m[i].size;
    if (free_end > (1ULL << 32))
        free_end = 1ULL << 32;
}

void arch_hello(struct out *o)
{
    out_str(o, " apic_id=");
    out_hex(o, this_cpu()->apic_id);
    out_str(o, " clock=tsc tsc_khz=");
    out_dec(o, tsc_khz);
    out_str(o, " tsc_rate_from=");
    out_str(o, tsc_rate_from);
    out_str(o, " apic_timer_khz=");
    out_dec(o, apic_timer_khz);
    out_str(o, " boot=pvh free=");
    out_hex(o, free_start);
    out_str(o, "-");
    out_hex(o, free_end);
}

/* ---- application processors ------------------------------------------------------------------ */
#define AP_TRAMPOLINE 0x8000            /* SIPI vector 0x08 */
extern const char ap_trampoline[], ap_trampoline_end[];
static volatile uint8_t ap_ready[MAX_CPUS];    /* slot n's struct cpu is written */
static volatile uint32_t aps_go;       /* set once cpus[] is in its final order */
static volatile uint32_t ap_taken_in[MAX_CPUS]; /* slot n: the vCPU index "cpu-up" gave it (a hot-plugged vCPU) */

/* An AP after INIT-SIPI-SIPI: slot is the order it arrived in (its stack). It waits until vCPU 0
   has sorted cpus[] by APIC ID, then serves as vCPU n, n its place in that order: the VMM's
   vCPU index where APIC IDs follow it (QEMU's do). One that came too late parks. */
void ap_main(unsigned slot);
void ap_main(unsigned slot)
{
    uint32_t id = apic_read(APIC_ID) >> 24;
    idt_load();
    cpus[slot].apic_id = id;
    cpus[slot].fault = NO_FAULT;
    apic_init();
    __atomic_store_n(&ap_ready[slot], 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&aps_go, __ATOMIC_ACQUIRE))
        asm volatile("pause");
    for (unsigned n = 1; n < cpu_count; n++)
        if (cpus[n].apic_id == id)
            guest_secondary(n);
    /* not one of them: a vCPU added later, which waits for "cpu-up" to take it in (or parks) */
    for (;;) {
        unsigned n = __atomic_load_n(&ap_taken_in[slot], __ATOMIC_ACQUIRE);
        if (n)
            guest_secondary(n);
        arch_wait();
    }
}

/* "cpu-up APIC_ID": INIT-SIPI-SIPI to a processor the VMM added while the guest runs (hot-plug);
   once it checked in, it becomes vCPU cpu_count, the next index (QEMU's cpu index where vCPUs are
   added in order). Answers "ok vcpu=N". */
static void verb_cpu_up(uint64_t id, struct out *o)
{
    if (id > 0xfe || cpu_count >= MAX_CPUS) {
        out_str(o, id > 0xfe ? "err bad APIC ID" : "err no room for another vCPU");
        return;
    }
    for (unsigned n = 0; n < cpu_count; n++)
        if (cpus[n].apic_id == id) {
            out_str(o, "err that APIC ID is up already");
            return;
        }
    apic_write(APIC_ICR_HI, (uint32_t)id << 24);
    apic_write(APIC_ICR_LO, 0x4500);    /* INIT, assert, to that APIC ID */
    delay_ns(10000000);
    for (int i = 0; i < 2; i++) {
        apic_write(APIC_ICR_HI, (uint32_t)id << 24);
        apic_write(APIC_ICR_LO, 0x4600 | (AP_TRAMPOLINE >> 12));   /* STARTUP */
        delay_ns(200000);
    }
    uint64_t end = arch_now_ns() + 2000000000;
    for (;;) {
        for (unsigned s = 1; s < MAX_CPUS; s++) {
            if (!__atomic_load_n(&ap_ready[s], __ATOMIC_ACQUIRE) || cpus[s].apic_id != id || ap_taken_in[s])
                continue;
            unsigned n = cpu_count;
            if (s != n)
                cpus[n] = cpus[s];
            __atomic_store_n(&cpu_count, n + 1, __ATOMIC_RELEASE);
            __atomic_store_n(&ap_taken_in[s], n, __ATOMIC_RELEASE);
            arch_kick(n);
            out_str(o, "ok vcpu=");
            out_dec(o, n);
            return;
        }
        if (arch_now_ns() > end)
            break;
        delay_ns(1000000);
    }
    out_str(o, "err no processor with that APIC ID checked in within 2 s");
}

static void delay_ns(uint64_t ns)
{
    uint64_t end = arch_now_ns() + ns;
    while (arch_now_ns() < end)
        asm volatile("pause");
}

/* ---- how many processors: the ACPI MADT's enabled local APICs ------------------------------- */
struct acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_revision, creator, creator_revision;
} __attribute__((packed));

static int sig_is(const char *p, const char *sig, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] != sig[i])
            return 0;
    return 1;
}

/* The RSDP: where PVH's start_info says, else found in the BIOS area as the ACPI spec says. */
static const uint8_t *find_rsdp(const struct hvm_start_info *si)
{
    if (si->magic == 0x336ec578 && si->rsdp_paddr)
        return (const uint8_t *)si->rsdp_paddr;
    for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
        if (sig_is((const char *)a, "RSD PTR ", 8))
            return (const uint8_t *)a;
    return 0;
}

/* Enabled processors in the MADT (local APIC and x2APIC entries), or 0 when there is no MADT. */
static unsigned madt_cpus(const struct hvm_start_info *si)
{
    const uint8_t *rsdp = find_rsdp(si);
    if (!rsdp)
        return 0;
    uint64_t xsdt = rsdp[15] >= 2 ? *(const uint64_t *)(rsdp + 24) : 0;
    const struct acpi_header *root = (const void *)(xsdt ? xsdt : *(const uint32_t *)(rsdp + 16));
    unsigned entry_size = xsdt ? 8 : 4, cpus = 0;
    for (uint32_t off = sizeof(*root); off + entry_size <= root->length; off += entry_size) {
        const uint8_t *e = (const uint8_t *)root + off;
        uint64_t table = entry_size == 8 ? *(const uint64_t *)e : *(const uint32_t *)e;
        const struct acpi_header *t = (const void *)table;
        if (!sig_is(t->signature, "APIC", 4))
            continue;
        for (uint32_t p = sizeof(*t) + 8; p + 2 <= t->length; p += ((const uint8_t *)t)[p + 1]) {
            const uint8_t *sub = (const uint8_t *)t + p;
            if (sub[1] == 0)
                break;                  /* a zero length would loop */
            if ((sub[0] == 0 && (*(const uint32_t *)(sub + 4) & 1))         /* local APIC, enabled */
                || (sub[0] == 9 && (*(const uint32_t *)(sub + 8) & 1)))     /* x2APIC, enabled */
                cpus++;
        }
    }
    return cpus;
}

/* INIT, then two STARTUPs, to every other processor; waits (up to 2 s) for as many as the MADT
   lists (at most MAX_CPUS; without a MADT, for 100 ms). */
static void start_aps(unsigned expected)
{
    memcpy((void *)AP_TRAMPOLINE, ap_trampoline, (size_t)(ap_trampoline_end - ap_trampoline));
    apic_write(APIC_ICR_HI, 0);
    apic_write(APIC_ICR_LO, 0xc4500);   /* all excluding self, INIT, assert */
    delay_ns(10000000);
    for (int i = 0; i < 2; i++) {
        apic_write(APIC_ICR_LO, 0xc4600 | (AP_TRAMPOLINE >> 12));  /* all excluding self, STARTUP */
        delay_ns(200000);
    }
    if (expected == 0 || expected > MAX_CPUS)
        expected = MAX_CPUS;
    uint64_t end = arch_now_ns() + (expected == MAX_CPUS ? 100000000 : 2000000000);
    unsigned up = 1;
    while (arch_now_ns() < end) {
        while (up < MAX_CPUS && __atomic_load_n(&ap_ready[up], __ATOMIC_ACQUIRE))
            up++;                       /* slots 1..up-1 have checked in */
        if (up == expected)
            break;
        delay_ns(1000000);
    }
    cpu_count = up;
    /* vCPU 0 stays first; the APs in APIC ID order (insertion sort, a handful of entries) */
    for (unsigned i = 2; i < cpu_count; i++)
        for (unsigned j = i; j > 1 && cpus[j - 1].apic_id > cpus[j].apic_id; j--) {
            struct cpu t = cpus[j];
            cpus[j] = cpus[j - 1];
            cpus[j - 1] = t;
        }
    __atomic_store_n(&aps_go, 1, __ATOMIC_RELEASE);
}

void guest_main(const struct hvm_start_info *si);
void guest_main(const struct hvm_start_info *si)
{
    serial_init();
    find_free_ram(si);
    idt_init();
    outb(0x21, 0xff);                   /* the legacy PICs stay masked: only the local APIC wakes us */
    outb(0xa1, 0xff);
    cpus[0].apic_id = apic_read(APIC_ID) >> 24;
    cpus[0].fault = NO_FAULT;
    apic_init();
    if (!tsc_rate_from_kvmclock())
        calibrate_tsc_pit();
    calibrate_apic_timer();
    start_aps(madt_cpus(si));
    guest_serve();
}
