/*
 * json.c - see json.h. A recursive-descent parser (RFC 8259) over a bounded input.
 */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

/* ------------------------------------------------------------------------- arena */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct json_doc {
	struct chunk *chunks;
};

static void *arena_alloc(struct json_doc *d, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	struct chunk *c = d->chunks;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = d->chunks;
		d->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

void json_free(struct json_doc *d)
{
	if (!d)
		return;
	while (d->chunks) {
		struct chunk *next = d->chunks->next;
		free(d->chunks);
		d->chunks = next;
	}
	free(d);
}

/* ------------------------------------------------------------------------- parser */

struct parser {
	const char *p, *end;
	struct json_doc *doc;
	const char *err;
	int depth;
};

static struct json *fail(struct parser *ps, const char *why)
{
	if (!ps->err)
		ps->err = why;
	return NULL;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json *node(struct parser *ps, enum json_type t)
{
	struct json *j = arena_alloc(ps->doc, sizeof(*j));
	if (!j)
		return fail(ps, "out of memory");
	memset(j, 0, sizeof(*j));
	j->type = t;
	return j;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return 0;
	ps->p += n;
	return 1;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
		else return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) { o[0] = (char)cp; return 1; }
	if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f)); return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string starting at the opening quote; the decoded text is never longer than the source. */
static struct json *parse_string(struct parser *ps)
{
	const char *s = ++ps->p;
	const char *q = s;
	while (q < ps->end && *q != '"') {
		if (*q == '\\')
			q++;
		q++;
	}
	if (q >= ps->end)
		return fail(ps, "unterminated string");
	struct json *j = node(ps, JSON_STRING);
	char *out = j ? arena_alloc(ps->doc, (size_t)(q - s) + 1) : NULL;
	if (!out)
		return fail(ps, "out of memory");
	size_t n = 0;
	while (ps->p < q) {
		unsigned char c = (unsigned char)*ps->p++;
		if (c < 0x20)
			return fail(ps, "control character in string");
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		char e = *ps->p++;
		switch (e) {
		case '"': out[n++] = '"'; break;
		case '\\': out[n++] = '\\'; break;
		case '/': out[n++] = '/'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (q - ps->p < 4 || hex4(ps->p, &cp))
				return fail(ps, "bad \\u escape");
			ps->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (q - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo)
				    || lo < 0xdc00 || lo >= 0xe000)
					return fail(ps, "unpaired surrogate");
				ps->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return fail(ps, "unpaired surrogate");
			}
			/* 6 source bytes ("\uXXXX") always cover up to 3 output bytes; 12 cover 4 */
			n += put_utf8(out + n, cp);
			break;
		}
		default:
			return fail(ps, "bad escape in string");
		}
	}
	out[n] = '\0';
	ps->p = q + 1;
	j->text = out;
	j->len = n;
	return j;
}

static struct json *parse_number(struct parser *ps)
{
	const char *s = ps->p;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return fail(ps, "bad number");
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	struct json *j = node(ps, JSON_NUMBER);
	char *t = j ? arena_alloc(ps->doc, (size_t)(ps->p - s) + 1) : NULL;
	if (!t)
		return fail(ps, "out of memory");
	memcpy(t, s, (size_t)(ps->p - s));
	t[ps->p - s] = '\0';
	j->text = t;
	j->len = (size_t)(ps->p - s);
	return j;
}

static struct json *parse_value(struct parser *ps);

/* Arrays and objects: elements collected in a temporary list, then copied into the arena. */
static struct json *parse_container(struct parser *ps, int object)
{
	if (++ps->depth > MAX_DEPTH)
		return fail(ps, "nesting too deep");
	ps->p++;
	struct json *j = node(ps, object ? JSON_OBJECT : JSON_ARRAY);
	if (!j)
		return NULL;
	size_t cap = 8, n = 0;
	struct json_member *tmp = malloc(cap * sizeof(*tmp));
	if (!tmp)
		return fail(ps, "out of memory");
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
		ps->p++;
		goto done;
	}
	for (;;) {
		struct json_member m = { NULL, NULL };
		skip_ws(ps);
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"') { fail(ps, "object key must be a string"); goto bad; }
			struct json *k = parse_string(ps);
			if (!k)
				goto bad;
			m.key = k->text;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') { fail(ps, "':' expected"); goto bad; }
			ps->p++;
		}
		m.value = parse_value(ps);
		if (!m.value)
			goto bad;
		if (n == cap) {
			struct json_member *t = realloc(tmp, 2 * cap * sizeof(*tmp));
			if (!t) { fail(ps, "out of memory"); goto bad; }
			tmp = t;
			cap *= 2;
		}
		tmp[n++] = m;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
		if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) { ps->p++; break; }
		fail(ps, object ? "',' or '}' expected" : "',' or ']' expected");
		goto bad;
	}
done:
	j->n = n;
	if (object) {
		j->members = arena_alloc(ps->doc, (n ? n : 1) * sizeof(*j->members));
		if (j->members)
			memcpy(j->members, tmp, n * sizeof(*tmp));
	} else {
		j->items = arena_alloc(ps->doc, (n ? n : 1) * sizeof(*j->items));
		if (j->items)
			for (size_t i = 0; i < n; i++)
				j->items[i] = tmp[i].value;
	}
	free(tmp);
	ps->depth--;
	if (!j->members && !j->items)
		return fail(ps, "out of memory");
	return j;
bad:
	free(tmp);
	return NULL;
}

static struct json *parse_value(struct parser *ps)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "value expected");
	switch (*ps->p) {
	case '{': return parse_container(ps, 1);
	case '[': return parse_container(ps, 0);
	case '"': return parse_string(ps);
	case 't': case 'f': case 'n': {
		struct json *j;
		if (literal(ps, "true")) { j = node(ps, JSON_BOOL); if (j) j->boolean = 1; return j; }
		if (literal(ps, "false")) return node(ps, JSON_BOOL);
		if (literal(ps, "null")) return node(ps, JSON_NULL);
		return fail(ps, "unknown literal");
	}
	default:
		return parse_number(ps);
	}
}

struct json *json_parse(const char *text, size_t len, struct json_doc **doc, const char **err)
{
	struct parser ps = { text, text + len, calloc(1, sizeof(struct json_doc)), NULL, 0 };
	*doc = ps.doc;
	if (!ps.doc) {
		*err = "out of memory";
		return NULL;
	}
	struct json *v = parse_value(&ps);
	if (v) {
		skip_ws(&ps);
		if (ps.p != ps.end) {
			v = NULL;
			fail(&ps, "trailing characters after the value");
		}
	}
	*err = v ? NULL : ps.err;
	return v;
}

const struct json *json_get(const struct json *o, const char *key)
{
	if (!o || o->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->members[i].key, key) == 0)
			return o->members[i].value;
	return NULL;
}

/* Integer text: optional '-', then decimal digits or 0x hex digits, nothing else. */
static int parse_int_text(const char *s, int *negative, uint64_t *mag)
{
	*negative = 0;
	if (*s == '-') {
		*negative = 1;
		s++;
	}
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -1;
	uint64_t v = 0;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9') d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f') d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F') d = (unsigned)(*s - 'A' + 10);
		else return -1;
		if (v > (UINT64_MAX - d) / (uint64_t)base)
			return -1;   /* out of range */
		v = v * (uint64_t)base + d;
	}
	*mag = v;
	return 0;
}

static int int_of(const struct json *v, int *neg, uint64_t *mag)
{
	if (!v || (v->type != JSON_NUMBER && v->type != JSON_STRING))
		return -1;
	if (v->type == JSON_STRING && strlen(v->text) != v->len)
		return -1;
	return parse_int_text(v->text, neg, mag);
}

int json_i64(const struct json *v, int64_t *out)
{
	int neg;
	uint64_t mag;
	if (int_of(v, &neg, &mag))
		return -1;
	if (neg) {
		if (mag > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = (int64_t)(0 - mag);
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return -1;
		*out = (int64_t)mag;
	}
	return 0;
}

/* Unsigned 64-bit; a negative value is accepted as its two's complement (e.g. -1 = all ones). */
int json_u64(const struct json *v, uint64_t *out)
{
	int neg;
	uint64_t mag;
	if (int_of(v, &neg, &mag))
		return -1;
	if (neg && mag > (uint64_t)INT64_MAX + 1)
		return -1;
	*out = neg ? 0 - mag : mag;
	return 0;
}

/* ------------------------------------------------------------------------- writer */

void jb_init(struct jbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void jb_free(struct jbuf *b)
{
	free(b->data);
	jb_init(b);
}

static int jb_reserve(struct jbuf *b, size_t n)
{
	if (b->oom)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d) {
		b->oom = 1;
		return -1;
	}
	b->data = d;
	b->cap = cap;
	return 0;
}

void jb_raw(struct jbuf *b, const char *s, size_t n)
{
	if (jb_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void jb_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || jb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void jb_string(struct jbuf *b, const char *s, size_t n)
{
	jb_raw(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			jb_raw(b, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			jb_printf(b, "\\u%04x", c);
		} else {
			jb_raw(b, (const char *)&c, 1);
		}
	}
	jb_raw(b, "\"", 1);
}

void jb_cstring(struct jbuf *b, const char *s)
{
	jb_string(b, s, strlen(s));
}

void jb_u64(struct jbuf *b, uint64_t v)
{
	char digits[20];
	int n = 0;
	do {
		digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	jb_raw(b, digits + sizeof(digits) - n, (size_t)n);
}

void jb_json(struct jbuf *b, const struct json *v)
{
	if (!v) {
		jb_raw(b, "null", 4);
		return;
	}
	switch (v->type) {
	case JSON_NULL: jb_raw(b, "null", 4); break;
	case JSON_BOOL: jb_printf(b, "%s", v->boolean ? "true" : "false"); break;
	case JSON_NUMBER: jb_raw(b, v->text, v->len); break;
	case JSON_STRING: jb_string(b, v->text, v->len); break;
	case JSON_ARRAY:
		jb_raw(b, "[", 1);
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				jb_raw(b, ",", 1);
			jb_json(b, v->items[i]);
		}
		jb_raw(b, "]", 1);
		break;
	case JSON_OBJECT:
		jb_raw(b, "{", 1);
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				jb_raw(b, ",", 1);
			jb_cstring(b, v->members[i].key);
			jb_raw(b, ":", 1);
			jb_json(b, v->members[i].value);
		}
		jb_raw(b, "}", 1);
		break;
	}
}
