/* The few library routines a freestanding guest needs: formatting, parsing, memcpy/memset. */
#include "guest.h"

void *memcpy(void *d, const void *s, size_t n)
{
    char *dp = d;
    const char *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memset(void *d, int c, size_t n)
{
    char *dp = d;
    while (n--)
        *dp++ = (char)c;
    return d;
}

int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

void out_str(struct out *o, const char *s)
{
    while (*s && o->p < o->end)
        *o->p++ = *s++;
}

static void out_digits(struct out *o, uint64_t v, unsigned base)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n && o->p < o->end)
        *o->p++ = tmp[--n];
}

void out_hex(struct out *o, uint64_t v)
{
    out_str(o, "0x");
    out_digits(o, v, 16);
}

void out_dec(struct out *o, uint64_t v)
{
    out_digits(o, v, 10);
}

void out_bytes(struct out *o, const void *src, size_t n)
{
    const uint8_t *b = src;
    for (size_t i = 0; i < n && o->p + 1 < o->end; i++) {
        *o->p++ = "0123456789abcdef"[b[i] >> 4];
        *o->p++ = "0123456789abcdef"[b[i] & 15];
    }
}

int parse_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return -1;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -1;
        if (x > (UINT64_MAX - d) / base)
            return -1;          /* overflow */
        x = x * base + d;
    }
    *v = x;
    return 0;
}

void console_puts(const char *s)
{
    while (*s)
        arch_putc(*s++);
}
