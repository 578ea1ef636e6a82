/*
 * arm64: the PL011 and GICv3 the device tree names, the MMU on with RAM (and everything but the
 * devices we drive) Normal write-back, SMCCC calls by HVC with exceptions caught (exception
 * table), the virtual counter as clock, WFI woken by the virtual timer through the GIC, and the
 * other vCPUs started with PSCI CPU_ON.
 */
#include "guest.h"

const char arch_name[] = "arm64";
unsigned cpu_count = 1;

#define sysreg_read(r) ({ uint64_t v_; asm volatile("mrs %0, " #r : "=r"(v_)); v_; })
#define sysreg_write(r, v) asm volatile("msr " #r ", %0" : : "r"((uint64_t)(v)))
#define isb() asm volatile("isb" : : : "memory")

static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint64_t mmio_read64(uint64_t a) { return *(volatile uint64_t *)a; }

/* What the device tree says (QEMU virt's values until it is read). */
static uint64_t uart = 0x09000000, gicd, gicr, gicr_size, ram_start, ram_size;
static int psci_smc;                    /* PSCI conduit: 0 = HVC, 1 = SMC */
static uint64_t dtb_start, dtb_end;     /* where the device tree lies (not free RAM) */
static uint64_t mpidr[MAX_CPUS];        /* the vCPUs' MPIDR affinities, in device-tree order */
static unsigned dt_cpus;
static uint64_t vcpu_mpidr[MAX_CPUS];   /* vCPU n's affinity (those that were started) */

/* ---- flattened device tree (read with the MMU off: byte loads only) -------------------------- */
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint64_t cells(const uint8_t *p, unsigned n)
{
    return n == 2 ? (uint64_t)be32(p) << 32 | be32(p + 4) : be32(p);
}
static size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static int starts(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}
/* Whether a compatible property (NUL-separated strings) holds name. */
static int has_compatible(const uint8_t *p, uint32_t len, const char *name)
{
    for (uint32_t i = 0; i < len; i += (uint32_t)slen((const char *)p + i) + 1)
        if (streq((const char *)p + i, name))
            return 1;
    return 0;
}

struct dt_node {
    const char *name;
    const uint8_t *compatible, *reg, *status, *device_type, *method, *ranges;
    uint32_t compatible_len, reg_len, ranges_len;
    unsigned address_cells, size_cells; /* what this node says of its children */
};

static int dt_disabled(const struct dt_node *n)
{
    return n->status && !streq((const char *)n->status, "okay") && !streq((const char *)n->status, "ok");
}

/* Called for a node once all its properties are read; parent gives the cell sizes of reg. */
static void dt_node_done(const struct dt_node *stack, int depth, void *ctx)
{
    const struct dt_node *n = &stack[depth], *parent = &stack[depth - 1];
    unsigned ac = parent->address_cells, sc = parent->size_cells;
    unsigned entry = 4 * (ac + sc);
    (void)ctx;
    if (dt_disabled(n))
        return;
    if (n->device_type && streq((const char *)n->device_type, "memory") && n->reg && n->reg_len >= entry && !ram_size) {
        ram_start = cells(n->reg, ac);
        ram_size = cells(n->reg + 4 * ac, sc);
    } else if (n->device_type && streq((const char *)n->device_type, "cpu") && n->reg && dt_cpus < MAX_CPUS) {
        mpidr[dt_cpus++] = cells(n->reg, ac);
    } else if (n->compatible && has_compatible(n->compatible, n->compatible_len, "arm,pl011") && n->reg && uart == 0x09000000) {
        uart = cells(n->reg, ac);
    } else if (n->compatible && has_compatible(n->compatible, n->compatible_len, "arm,gic-v3") && n->reg && n->reg_len >= 2 * entry) {
        gicd = cells(n->reg, ac);
        gicr = cells(n->reg + entry, ac);
        gicr_size = cells(n->reg + entry + 4 * ac, sc);
    } else if (n->compatible && starts(n->name, "psci") && n->method) {
        psci_smc = streq((const char *)n->method, "smc");
    }
}

/* Calls done(stack, depth, ctx) for every node below the root once its properties are read. */
static void dt_walk(const uint8_t *fdt, void (*done)(const struct dt_node *, int, void *), void *ctx)
{
    const uint8_t *p = fdt + be32(fdt + 8);
    const char *strings = (const char *)fdt + be32(fdt + 12);
    struct dt_node stack[8];
    int depth = -1;
    for (;;) {
        uint32_t token = be32(p);
        p += 4;
        if (token == 1) {               /* FDT_BEGIN_NODE, then the name */
            if (++depth == 8)
                return;
            memset(&stack[depth], 0, sizeof(stack[depth]));
            stack[depth].name = (const char *)p;
            stack[depth].address_cells = 2;
            stack[depth].size_cells = 1;
            p += (slen((const char *)p) + 4) & ~3UL;
        } else if (token == 2) {        /* FDT_END_NODE */
            if (depth > 0)
                done(stack, depth, ctx);
            depth--;
        } else if (token == 3) {        /* FDT_PROP: length, name offset, value */
            uint32_t len = be32(p);
            const char *name = strings + be32(p + 4);
            const uint8_t *v = p + 8;
            struct dt_node *n = &stack[depth];
            p += 8 + ((len + 3) & ~3U);
            if (streq(name, "compatible")) { n->compatible = v; n->compatible_len = len; }
            else if (streq(name, "reg")) { n->reg = v; n->reg_len = len; }
            else if (streq(name, "status")) n->status = v;
            else if (streq(name, "device_type")) n->device_type = v;
            else if (streq(name, "method")) n->method = v;
            else if (streq(name, "ranges")) { n->ranges = v; n->ranges_len = len; }
            else if (streq(name, "#address-cells")) n->address_cells = be32(v);
            else if (streq(name, "#size-cells")) n->size_cells = be32(v);
        } else if (token == 4) {        /* FDT_NOP */
        } else {                        /* FDT_END, or garbage */
            return;
        }
    }
}

static void dt_parse(const uint8_t *fdt)
{
    if (be32(fdt) != 0xd00dfeed)
        return;                         /* no device tree: QEMU virt's addresses stay */
    dtb_start = (uint64_t)fdt;
    dtb_end = dtb_start + be32(fdt + 4);
    dt_walk(fdt, dt_node_done, 0);
}

/* ---- the "dt N" request: the address ranges the device tree describes, one per request -------- */
#define DT_PATH 160
struct dt_cursor {
    unsigned want, emitted;             /* the range asked for; ranges answered so far */
    struct out *o;
    int found, pending;
    const char *kind;                   /* the pending range: kind, path, extent, */
    char path[DT_PATH];
    size_t prefix;                      /* the path up to its last node's unit address ('@') */
    uint64_t base, size;
    unsigned more;                      /* and how many other nodes alike it took in */
};

static void dt_flush(struct dt_cursor *c)
{
    if (!c->pending)
        return;
    c->pending = 0;
    if (c->found || c->emitted++ != c->want)
        return;
    c->found = 1;
    out_str(c->o, "ok ");
    out_str(c->o, c->kind);
    out_str(c->o, " ");
    out_str(c->o, c->path);
    if (c->more) {
        out_str(c->o, "+");
        out_dec(c->o, c->more);
    }
    out_str(c->o, " ");
    out_hex(c->o, c->base);
    out_str(c->o, " ");
    out_hex(c->o, c->size);
}

/* One range; a range right after the pending one, of a node alike (same kind, same path but for
   the unit address: QEMU's 32 virtio_mmio transports) joins it, so answers stay few (every byte
   of the serial line costs a trap). */
static void dt_range(struct dt_cursor *c, const char *kind, const struct dt_node *stack, int depth, uint64_t base, uint64_t size)
{
    char path[DT_PATH];
    size_t n = 0, prefix;
    for (int i = 1; i <= depth && n < DT_PATH - 1; i++) {
        path[n++] = '/';
        for (const char *p = stack[i].name; *p && n < DT_PATH - 1; p++)
            path[n++] = *p;
    }
    path[n] = 0;
    for (prefix = n; prefix > 0 && path[prefix - 1] != '/' && path[prefix - 1] != '@'; prefix--)
        ;
    if (!prefix || path[prefix - 1] != '@')
        prefix = n;
    size_t same = 0;
    while (same < prefix && c->path[same] == path[same])
        same++;
    if (c->pending && streq(c->kind, kind) && c->prefix == prefix && same == prefix && base == c->base + c->size) {
        c->size += size;
        c->more += !streq(c->path, path);       /* another node, not another reg entry of this one */
        return;
    }
    dt_flush(c);
    c->pending = 1;
    c->kind = kind;
    memcpy(c->path, path, n + 1);
    c->prefix = prefix;
    c->base = base;
    c->size = size;
    c->more = 0;
}

/* Every reg entry of a node whose addresses are the CPU's: memory nodes ("memory"), children of
   /reserved-memory ("reserved"), other nodes ("device"); a PCI host bridge's ranges ("window": the
   guest places BARs there). Nodes under a bus that translates addresses (non-empty ranges), or
   whose reg is no address (#size-cells 0, cpus), are left out. */
static void dt_ranges_of(const struct dt_node *stack, int depth, void *ctx)
{
    struct dt_cursor *c = ctx;
    const struct dt_node *n = &stack[depth], *parent = &stack[depth - 1];
    for (int i = 0; i <= depth; i++)
        if (dt_disabled(&stack[i]))
            return;
    for (int i = 1; i < depth; i++)
        if (!stack[i].ranges || stack[i].ranges_len)
            return;
    unsigned ac = parent->address_cells, sc = parent->size_cells;
    const char *kind = "device";
    if (n->device_type && streq((const char *)n->device_type, "memory"))
        kind = "memory";
    else if (depth == 2 && streq(parent->name, "reserved-memory"))
        kind = "reserved";
    if (sc && n->reg && !(n->device_type && streq((const char *)n->device_type, "cpu")))
        for (uint32_t off = 0; off + 4 * (ac + sc) <= n->reg_len; off += 4 * (ac + sc))
            dt_range(c, kind, stack, depth, cells(n->reg + off, ac), cells(n->reg + off + 4 * ac, sc));
    if (n->device_type && streq((const char *)n->device_type, "pci") && n->ranges && n->address_cells == 3) {
        unsigned entry = 4 * (3 + ac + n->size_cells);
        for (uint32_t off = 0; off + entry <= n->ranges_len; off += entry)
            dt_range(c, "window", stack, depth, cells(n->ranges + off + 12, ac), cells(n->ranges + off + 4 * (3 + ac), n->size_cells));
    }
}

/* "dt N": range N of the device tree ("ok KIND PATH BASE SIZE", PATH ending "+K" where K more
   nodes alike were joined in), the /memreserve/ entries first ("reserved /memreserve"); "ok end"
   past the last. */
static void verb_dt(uint64_t want, struct out *o)
{
    if (!dtb_start) {
        out_str(o, "err no device tree");
        return;
    }
    const uint8_t *fdt = (const uint8_t *)dtb_start;
    struct dt_cursor c = { .want = (unsigned)want, .o = o };
    struct dt_node memreserve[2] = { { .name = "" }, { .name = "memreserve" } };
    for (const uint8_t *r = fdt + be32(fdt + 16); cells(r, 2) || cells(r + 8, 2); r += 16)
        dt_range(&c, "reserved", memreserve, 1, cells(r, 2), cells(r + 8, 2));
    dt_walk(fdt, dt_ranges_of, &c);
    dt_flush(&c);
    if (!c.found)
        out_str(o, "ok end");
}

/* ---- page tables: identity map of 512 GiB ---------------------------------------------------- */
/* Everything is Normal write-back (RAM, and also what a VMM reserves beside it, such as QEMU's
   PV-time region at 0x090a0000: DEN0057 wants the structure mapped Normal WB), except the devices
   this guest drives (the UART's page, the GIC), mapped Device-nGnRnE. */
#define PT_VALID 1UL
#define PT_TABLE 3UL                    /* next-level table (levels 1, 2) or page (level 3) */
#define PT_AF (1UL << 10)
#define PT_INNER_SHAREABLE (3UL << 8)
#define PT_NORMAL (1UL << 2 | PT_INNER_SHAREABLE | PT_AF)     /* MAIR index 1 */
#define PT_DEVICE (0UL << 2 | PT_AF | 3UL << 53)              /* MAIR index 0, never executable */
#define POOL 16

uint64_t l1_table[512] __attribute__((aligned(4096)));
static uint64_t pool[POOL][512] __attribute__((aligned(4096)));
static unsigned pool_used;

/* Replaces the block descriptor *e (covering size bytes) by a table of 512 entries that map the
   same addresses with the same attributes, one level down. */
static uint64_t *split(uint64_t *e, uint64_t size, int last_level)
{
    if ((*e & 3) == PT_TABLE)
        return (uint64_t *)(*e & 0xfffffffff000UL);
    if (pool_used == POOL)
        return 0;
    uint64_t *t = pool[pool_used++];
    uint64_t base = *e & 0xfffffffff000UL & ~(size - 1);
    uint64_t attrs = *e & ~0xfffffffff000UL & ~3UL;
    for (uint64_t i = 0; i < 512; i++)
        t[i] = (base + i * (size / 512)) | attrs | (last_level ? PT_TABLE : PT_VALID);
    *e = (uint64_t)t | PT_TABLE;
    return t;
}

/* Maps [base, base + size) Device-nGnRnE: 2 MiB blocks where they fit, else 4 KiB pages. */
static void map_device(uint64_t base, uint64_t size)
{
    for (uint64_t a = base & ~0xfffUL; a < base + size;) {
        uint64_t *l2 = split(&l1_table[a >> 30], 1UL << 30, 0);
        if (!l2)
            return;
        uint64_t *e2 = &l2[(a >> 21) & 511];
        if ((a & 0x1fffff) == 0 && a + 0x200000 <= base + size) {
            *e2 = a | PT_DEVICE | PT_VALID;
            a += 0x200000;
            continue;
        }
        uint64_t *l3 = split(e2, 1UL << 21, 1);
        if (!l3)
            return;
        l3[(a >> 12) & 511] = a | PT_DEVICE | PT_TABLE;
        a += 0x1000;
    }
}

extern char _head[], _end[];
void mmu_on(uint64_t *l1);

static void build_page_tables(void)
{
    for (uint64_t i = 0; i < 512; i++)
        l1_table[i] = i << 30 | PT_NORMAL | PT_VALID;
    map_device(uart, 0x1000);
    if (gicd)
        map_device(gicd, 0x10000);
    if (gicr)
        map_device(gicr, gicr_size);
    /* The tables (and all else) were written with the MMU off, straight to memory: drop any
       stale cache line over the image before the walker and the code read through the caches. */
    for (uint64_t a = (uint64_t)_head & ~63UL; a < (uint64_t)_end; a += 64)
        asm volatile("dc ivac, %0" : : "r"(a) : "memory");
    asm volatile("dsb sy" : : : "memory");
}

/* ---- per-vCPU state and exceptions ----------------------------------------------------------- */
struct cpu {
    volatile uint64_t fault;            /* ESR of the last caught exception, or NO_FAULT */
    uint64_t gicr_sgi;                  /* this vCPU's redistributor SGI/PPI frame */
};
#define NO_FAULT (~0UL)
static struct cpu cpus[MAX_CPUS];
static struct cpu *this_cpu(void) { return &cpus[sysreg_read(tpidr_el1)]; }

struct regs {
    uint64_t x[31], elr, spsr, pad;
};

/* An instruction that may fault, and where to go on: offsets from the entry's own fields, so
   the table stays valid wherever the Image is loaded. */
struct extable { int32_t insn, fixup; };
extern const struct extable __extable_start[], __extable_end[];
#define EXTABLE(insn, fixup) ".pushsection .extable, \"a\"\n.long " #insn " - ., " #fixup " - .\n.popsection\n"

void arch_putc(char c)
{
    while (mmio_read32(uart + 0x18) & (1 << 5))     /* FR.TXFF */
        ;
    mmio_write32(uart, (uint8_t)c);
}

int arch_getc(void)
{
    while (mmio_read32(uart + 0x18) & (1 << 4))     /* FR.RXFE */
        asm volatile("yield");
    return (int)(mmio_read32(uart) & 0xff);
}

static void panic(const char *what, uint64_t a, uint64_t b, uint64_t c)
{
    char buf[160];
    struct out o = { buf, buf + sizeof(buf) - 2 };
    out_str(&o, "panic ");
    out_str(&o, what);
    uint64_t v[3] = { a, b, c };
    for (int i = 0; i < 3; i++) {
        out_str(&o, " ");
        out_hex(&o, v[i]);
    }
    *o.p++ = '\n';
    *o.p = 0;
    console_puts(buf);
    for (;;)
        asm volatile("wfi");
}

void trap(struct regs *r, uint64_t vector);
void trap(struct regs *r, uint64_t vector)
{
    uint64_t esr = sysreg_read(esr_el1);
    if (vector == 4) {                  /* synchronous, current EL */
        for (const struct extable *e = __extable_start; e < __extable_end; e++) {
            if ((uint64_t)&e->insn + e->insn == r->elr) {
                this_cpu()->fault = esr;
                r->elr = (uint64_t)&e->fixup + e->fixup;
                return;
            }
        }
    }
    panic("exception vector/esr/elr", vector, esr, r->elr);
}

/* ---- clock, GIC, timer ------------------------------------------------------------------------ */
static uint64_t counter_hz, ns_per_tick_q32;

uint64_t arch_now_ns(void)
{
    isb();                              /* the counter is read in program order */
    return (uint64_t)(((unsigned __int128)sysreg_read(cntvct_el0) * ns_per_tick_q32) >> 32);
}

void arch_relax(void)
{
    asm volatile("yield");
}

#define TIMER_INTID 27                  /* the EL1 virtual timer's PPI */
#define KICK_INTID 1                    /* an SGI */

/* Distributor: affinity routing, group 1 on. Interrupts are never taken (PSTATE.I stays set):
   a pending one ends WFI, and is acknowledged afterwards. */
static void gic_init_distributor(void)
{
    if (!gicd)
        return;
    mmio_write32(gicd, 1 << 4 | 1 << 1);    /* GICD_CTLR: ARE, EnableGrp1 */
}

/* This vCPU's redistributor (found by its affinity), the timer PPI and kick SGI enabled, and the
   CPU interface: system registers, all priorities allowed, group 1 on. */
static void gic_init_cpu(struct cpu *c)
{
    uint64_t m = sysreg_read(mpidr_el1);
    uint64_t aff = (m & 0xffffff) | (m >> 32 & 0xff) << 24;
    if (!gicr)
        return;
    for (uint64_t f = gicr; f < gicr + gicr_size;) {
        uint64_t typer = mmio_read64(f + 8);
        if ((typer >> 32) == aff) {
            mmio_write32(f + 0x14, mmio_read32(f + 0x14) & ~2U);    /* GICR_WAKER: awake */
            while (mmio_read32(f + 0x14) & 4)
                ;
            c->gicr_sgi = f + 0x10000;
            break;
        }
        if (typer & (1 << 4))           /* Last */
            break;
        f += (typer & 2) ? 0x40000 : 0x20000;   /* GICv4 frames have two more pages */
    }
    if (!c->gicr_sgi)
        return;
    mmio_write32(c->gicr_sgi + 0x80, ~0U);      /* GICR_IGROUPR0: all group 1 */
    *(volatile uint8_t *)(c->gicr_sgi + 0x400 + TIMER_INTID) = 0x80;   /* priorities */
    *(volatile uint8_t *)(c->gicr_sgi + 0x400 + KICK_INTID) = 0x80;
    mmio_write32(c->gicr_sgi + 0x100, 1U << TIMER_INTID | 1U << KICK_INTID);  /* ISENABLER0 */
    sysreg_write(S3_0_C12_C12_5, sysreg_read(S3_0_C12_C12_5) | 1);     /* ICC_SRE_EL1.SRE */
    isb();
    sysreg_write(S3_0_C4_C6_0, 0xff);   /* ICC_PMR_EL1 */
    sysreg_write(S3_0_C12_C12_7, 1);    /* ICC_IGRPEN1_EL1 */
    isb();
}

/* Acknowledges what is pending (a kick), so that the next WFI waits again. Bounded: a level
   interrupt still asserted (the timer before it is disabled) would come back at once. */
static void gic_drain(void)
{
    if (!this_cpu()->gicr_sgi)
        return;
    for (int i = 0; i < 16; i++) {
        uint64_t intid = sysreg_read(S3_0_C12_C12_0) & 0xffffff;    /* ICC_IAR1_EL1 */
        if (intid >= 1020)
            return;
        sysreg_write(S3_0_C12_C12_1, intid);                        /* ICC_EOIR1_EL1 */
    }
}

/* WFI until ns have passed on the counter; the virtual timer, due at the end, ends the WFI. The
   timer's interrupt is never acknowledged: disabling the timer withdraws it. */
uint64_t arch_idle(uint64_t ns)
{
    uint64_t end = arch_now_ns() + ns, wakeups = 0;
    uint64_t end_ticks = sysreg_read(cntvct_el0) + (uint64_t)((unsigned __int128)ns * counter_hz / 1000000000);
    sysreg_write(cntv_cval_el0, end_ticks + 1);
    sysreg_write(cntv_ctl_el0, 1);      /* enabled, not masked */
    isb();
    while (arch_now_ns() < end) {
        asm volatile("dsb sy; wfi" : : : "memory");
        wakeups++;
    }
    sysreg_write(cntv_ctl_el0, 0);
    isb();
    gic_drain();
    return wakeups;
}

void arch_kick(unsigned cpu)
{
    uint64_t m = vcpu_mpidr[cpu];
    uint64_t sgi = (uint64_t)KICK_INTID << 24 | (m >> 32 & 0xff) << 48 | (m >> 16 & 0xff) << 32
                 | (m >> 8 & 0xff) << 16 | 1UL << (m & 0xf);
    asm volatile("dsb sy" : : : "memory");
    sysreg_write(S3_0_C12_C11_5, sgi);  /* ICC_SGI1R_EL1 */
    isb();
}

void arch_wait(void)
{
    asm volatile("dsb sy; wfi" : : : "memory");
    gic_drain();
}

/* ---- SMCCC ------------------------------------------------------------------------------------ */
/* One SMCCC call by HVC (or SMC); r[0..7] in, x0..x3 out. Returns NO_FAULT, or the ESR of the
   exception the call raised (HVC where nothing handles it is undefined). */
static uint64_t smccc(int smc, uint64_t r[8])
{
    register uint64_t x0 asm("x0") = r[0], x1 asm("x1") = r[1], x2 asm("x2") = r[2], x3 asm("x3") = r[3];
    register uint64_t x4 asm("x4") = r[4], x5 asm("x5") = r[5], x6 asm("x6") = r[6], x7 asm("x7") = r[7];
    struct cpu *c = this_cpu();
    c->fault = NO_FAULT;
    if (smc)
        asm volatile("1: smc #0\n2:\n" EXTABLE(1b, 2b)
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7)
                     : : "memory", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17");
    else
        asm volatile("1: hvc #0\n2:\n" EXTABLE(1b, 2b)
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7)
                     : : "memory", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17");
    r[0] = x0;
    r[1] = x1;
    r[2] = x2;
    r[3] = x3;
    return c->fault;
}

void arch_power_off(void)
{
    uint64_t r[8] = { 0x84000008 };     /* PSCI SYSTEM_OFF */
    smccc(psci_smc, r);
}

int arch_request(const char *verb, char **argv, int argc, struct out *o)
{
    if (streq(verb, "dt") && argc == 1) {
        uint64_t n;
        if (parse_u64(argv[0], &n))
            out_str(o, "err bad number");
        else
            verb_dt(n, o);
        return 1;
    }
    if (!streq(verb, "smccc") || argc < 1 || argc > 8)
        return 0;
    uint64_t r[8] = { 0 };
    for (int i = 0; i < argc; i++) {
        if (parse_u64(argv[i], &r[i])) {
            out_str(o, "err bad number");
            return 1;
        }
    }
    uint64_t esr = smccc(0, r);
    if (esr != NO_FAULT) {
        out_str(o, (esr >> 26) == 0 ? "#UNDEF esr=" : "#EXC esr=");
        out_hex(o, esr);
        return 1;
    }
    out_str(o, "ok");
    for (int i = 0; i < 4; i++) {
        out_str(o, " ");
        out_hex(o, r[i]);
    }
    return 1;
}

/* ---- memory ----------------------------------------------------------------------------------- */
/* Loads and stores of 8 or 1 bytes that report an abort (an address with nothing behind it: an
   external abort under TCG) instead of stopping the guest. */
#define SAFE_ACCESS(name, insn, type, dir)                                                     \
    static uint64_t name(uint64_t addr, type *v)                                                \
    {                                                                                           \
        struct cpu *c = this_cpu();                                                             \
        c->fault = NO_FAULT;                                                                    \
        asm volatile("1: " insn " %w0, [%1]\n2:\n" EXTABLE(1b, 2b) : dir(*v) : "r"(addr) : "memory"); \
        return c->fault;                                                                        \
    }
SAFE_ACCESS(load8, "ldrb", uint8_t, "=r")
SAFE_ACCESS(store8, "strb", uint8_t, "+r")
#undef SAFE_ACCESS

static uint64_t load64(uint64_t addr, uint64_t *v)
{
    struct cpu *c = this_cpu();
    c->fault = NO_FAULT;
    asm volatile("1: ldr %0, [%1]\n2:\n" EXTABLE(1b, 2b) : "=r"(*v) : "r"(addr) : "memory");
    return c->fault;
}

static uint64_t store64(uint64_t addr, uint64_t *v)
{
    struct cpu *c = this_cpu();
    c->fault = NO_FAULT;
    asm volatile("1: str %0, [%1]\n2:\n" EXTABLE(1b, 2b) : : "r"(*v), "r"(addr) : "memory");
    return c->fault;
}

/* Copies between guest-physical gpa and buf: 8-byte aligned ranges 8 bytes at a time (one
   load or store each), others byte by byte. Returns 0, or writes the failure to o. */
static int access(uint64_t gpa, uint8_t *buf, size_t len, int write, struct out *o)
{
    uint64_t esr = NO_FAULT;
    if (gpa >= (1ULL << 39) || len > (1ULL << 39) - gpa) {
        out_str(o, "err address not mapped");
        return -1;
    }
    if ((gpa | len) % 8 == 0) {
        for (size_t i = 0; i < len && esr == NO_FAULT; i += 8) {
            uint64_t v;
            if (write) {
                memcpy(&v, buf + i, 8);
                esr = store64(gpa + i, &v);
            } else {
                esr = load64(gpa + i, &v);
                memcpy(buf + i, &v, 8);
            }
        }
    } else {
        for (size_t i = 0; i < len && esr == NO_FAULT; i++)
            esr = write ? store8(gpa + i, &buf[i]) : load8(gpa + i, &buf[i]);
    }
    if (esr == NO_FAULT)
        return 0;
    out_str(o, "#EXC esr=");
    out_hex(o, esr);
    return -1;
}

int arch_read(uint64_t gpa, void *buf, size_t len, struct out *o)
{
    return access(gpa, buf, len, 0, o);
}

int arch_write(uint64_t gpa, const void *buf, size_t len, struct out *o)
{
    return access(gpa, (uint8_t *)buf, len, 1, o);
}

void arch_hello(struct out *o)
{
    /* free: from the 2 MiB boundary after the image to the end of RAM, or to the device tree
       where the loader put it above the image (QEMU: RAM base + 128 MiB, or the top of RAM) */
    uint64_t free_start = ((uint64_t)_end + 0x1fffff) & ~0x1fffffUL, free_end = ram_start + ram_size;
    if (dtb_start >= free_start && dtb_start < free_end)
        free_end = dtb_start & ~0xfffUL;
    else if (dtb_start < free_start && dtb_end > free_start)
        free_start = (dtb_end + 0x1fffff) & ~0x1fffffUL;
    out_str(o, " mpidr=");
    out_hex(o, sysreg_read(mpidr_el1) & 0xff00ffffffUL);
    out_str(o, " clock=cntvct counter_hz=");
    out_dec(o, counter_hz);
    out_str(o, " boot=image free=");
    out_hex(o, free_start);
    out_str(o, "-");
    out_hex(o, free_end);
    out_str(o, " uart=");
    out_hex(o, uart);
    out_str(o, " gic=");
    out_str(o, gicd && gicr ? "v3" : "none");
}

/* ---- boot ------------------------------------------------------------------------------------- */
extern char secondary_entry[];
static volatile uint32_t secondaries_up;

void secondary_main(unsigned index);
void secondary_main(unsigned index)
{
    sysreg_write(tpidr_el1, index);
    cpus[index].fault = NO_FAULT;
    gic_init_cpu(&cpus[index]);
    __atomic_fetch_add(&secondaries_up, 1, __ATOMIC_RELEASE);
    guest_secondary(index);
}

/* PSCI CPU_ON for every other vCPU of the device tree, numbered in its order (QEMU: cpu index). */
static void start_secondaries(void)
{
    uint64_t self = sysreg_read(mpidr_el1) & 0xff00ffffffUL;
    unsigned n = 1;
    for (unsigned i = 0; i < dt_cpus && n < MAX_CPUS; i++) {
        if (mpidr[i] == self)
            continue;
        uint64_t r[8] = { 0xc4000003, mpidr[i], (uint64_t)secondary_entry, n };  /* CPU_ON */
        if (smccc(psci_smc, r) != NO_FAULT || r[0] != 0)
            continue;
        vcpu_mpidr[n++] = mpidr[i];
    }
    vcpu_mpidr[0] = self;
    uint64_t end = arch_now_ns() + 2000000000;       /* up to 2 s for every one started */
    while (__atomic_load_n(&secondaries_up, __ATOMIC_ACQUIRE) < n - 1 && arch_now_ns() < end)
        arch_relax();
    cpu_count = 1 + __atomic_load_n(&secondaries_up, __ATOMIC_ACQUIRE);
}

void guest_main(const uint8_t *dtb);
void guest_main(const uint8_t *dtb)
{
    sysreg_write(tpidr_el1, 0);
    cpus[0].fault = NO_FAULT;
    dt_parse(dtb);
    build_page_tables();
    mmu_on(l1_table);
    counter_hz = sysreg_read(cntfrq_el0);
    ns_per_tick_q32 = (1000000000ULL << 32) / counter_hz;
    gic_init_distributor();
    gic_init_cpu(&cpus[0]);
    start_secondaries();
    guest_serve();
}
