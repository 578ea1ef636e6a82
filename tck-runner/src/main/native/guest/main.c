/*
 * The line protocol (docs/test-guest-protocol.md): vCPU 0 reads one request line from the serial
 * port, has it executed (by itself, or by vCPU n for "@n ..."), and writes one answer line.
 */
#include "guest.h"

static struct mailbox mailbox[MAX_CPUS];

/* Splits line at spaces in place; returns the number of words (at most max). */
static int split(char *line, char **argv, int max)
{
    int n = 0;
    while (*line) {
        while (*line == ' ')
            *line++ = 0;
        if (!*line)
            break;
        if (n == max)
            return max + 1;
        argv[n++] = line;
        while (*line && *line != ' ')
            line++;
    }
    return n;
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Busy: spins on the guest's clock until ns have passed. */
static void verb_run(uint64_t ns, struct out *o)
{
    uint64_t start = arch_now_ns(), now;
    do
        now = arch_now_ns();
    while (now - start < ns);
    out_str(o, "ok elapsed=");
    out_dec(o, now - start);
}

static void verb_idle(uint64_t ns, struct out *o)
{
    uint64_t start = arch_now_ns();
    uint64_t wakeups = arch_idle(ns);
    uint64_t elapsed = arch_now_ns() - start;
    out_str(o, "ok elapsed=");
    out_dec(o, elapsed);
    out_str(o, " wakeups=");
    out_dec(o, wakeups);
}

#define MAX_READ 256    /* bytes per read or write request */

static void verb_read(uint64_t gpa, uint64_t len, struct out *o)
{
    uint8_t buf[MAX_READ];
    if (len == 0 || len > MAX_READ) {
        out_str(o, "err length 1..256");
        return;
    }
    if (arch_read(gpa, buf, len, o))
        return;
    out_str(o, "ok ");
    out_bytes(o, buf, len);
}

static void verb_write(uint64_t gpa, const char *hex, struct out *o)
{
    uint8_t buf[MAX_READ];
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        int hi = hexdigit(hex[0]), lo = hexdigit(hex[1]);
        if (hi < 0 || lo < 0 || n == MAX_READ)
            break;
        buf[n++] = (uint8_t)(hi << 4 | lo);
    }
    if (*hex || n == 0) {
        out_str(o, "err bytes: 1..256 pairs of hex digits");
        return;
    }
    if (arch_write(gpa, buf, n, o))
        return;
    out_str(o, "ok");
}

/* Executes one request (without its "@n") on the calling vCPU, vCPU cpu; the answer goes to o. */
static void execute(unsigned cpu, char *request, struct out *o)
{
    char *argv[12];
    uint64_t a = 0, b = 0;
    int argc = split(request, argv, 12);

    if (argc < 1 || argc > 12) {
        out_str(o, argc ? "err too many words" : "err empty request");
        return;
    }
    const char *verb = argv[0];
    if (streq(verb, "hello") && argc == 1) {
        out_str(o, "ok tck-guest version=");
        out_dec(o, GUEST_VERSION);
        out_str(o, " arch=");
        out_str(o, arch_name);
        out_str(o, " vcpus=");
        out_dec(o, cpu_count);
        out_str(o, " vcpu=");
        out_dec(o, cpu);
        arch_hello(o);
    } else if ((streq(verb, "run") || streq(verb, "idle")) && argc == 2) {
        if (parse_u64(argv[1], &a))
            out_str(o, "err bad number");
        else if (verb[0] == 'r')
            verb_run(a, o);
        else
            verb_idle(a, o);
    } else if (streq(verb, "read") && argc == 3) {
        if (parse_u64(argv[1], &a) || parse_u64(argv[2], &b))
            out_str(o, "err bad number");
        else
            verb_read(a, b, o);
    } else if (streq(verb, "write") && argc == 3) {
        if (parse_u64(argv[1], &a))
            out_str(o, "err bad number");
        else
            verb_write(a, argv[2], o);
    } else if (streq(verb, "off") && argc == 1) {
        arch_power_off();
        out_str(o, "err power off failed");
    } else if (!arch_request(verb, argv + 1, argc - 1, o)) {
        out_str(o, "err unknown request (or wrong number of arguments)");
    }
}

/* Hands request to vCPU cpu and waits for its answer. */
static void delegate(unsigned cpu, const char *request, struct out *o)
{
    struct mailbox *m = &mailbox[cpu];
    size_t n = 0;
    while (request[n] && n < LINE) {
        m->request[n] = request[n];
        n++;
    }
    m->request[n] = 0;
    __atomic_store_n(&m->state, MB_REQUEST, __ATOMIC_RELEASE);
    arch_kick(cpu);
    while (__atomic_load_n(&m->state, __ATOMIC_ACQUIRE) != MB_DONE)
        arch_relax();
    out_str(o, m->answer);
    __atomic_store_n(&m->state, MB_IDLE, __ATOMIC_RELAXED);
}

/* Reads one line (CR or LF ends it); returns its length, or -1 when it was too long. */
static int read_line(char *buf)
{
    int n = 0, too_long = 0;
    for (;;) {
        int c = arch_getc();
        if (c == '\n' || c == '\r') {
            if (n == 0 && !too_long)
                continue;           /* empty lines (and the LF of CR LF) are skipped */
            buf[n] = 0;
            return too_long ? -1 : n;
        }
        if (n < LINE)
            buf[n++] = (char)c;
        else
            too_long = 1;
    }
}

void guest_serve(void)
{
    static char line[LINE + 1], answer[LINE + 1];

    console_puts("ready tck-guest ");
    console_puts(arch_name);
    console_puts("\n");
    for (;;) {
        struct out o = { answer, answer + LINE };
        int n = read_line(line);
        char *request = line;
        if (n < 0) {
            out_str(&o, "err line too long");
        } else if (line[0] == '@') {
            /* "@n request": vCPU n executes it */
            char *sp = line + 1;
            uint64_t cpu;
            while (*sp && *sp != ' ')
                sp++;
            if (*sp)
                *sp++ = 0;
            request = sp;
            if (parse_u64(line + 1, &cpu) || cpu >= cpu_count)
                out_str(&o, "err no such vCPU");
            else if (cpu == 0)
                execute(0, request, &o);
            else
                delegate((unsigned)cpu, request, &o);
        } else {
            execute(0, request, &o);
        }
        *o.p = 0;
        console_puts(answer);
        console_puts("\n");
    }
}

void guest_secondary(unsigned cpu)
{
    struct mailbox *m = &mailbox[cpu];
    for (;;) {
        while (__atomic_load_n(&m->state, __ATOMIC_ACQUIRE) != MB_REQUEST)
            arch_wait();
        struct out o = { m->answer, m->answer + LINE };
        execute(cpu, m->request, &o);
        *o.p = 0;
        __atomic_store_n(&m->state, MB_DONE, __ATOMIC_RELEASE);
    }
}
