/*
 * json.h - a small JSON reader and writer for the adapter protocol (one JSON object per line).
 *
 * Reader: json_parse() turns one line into a tree of struct json nodes allocated from an arena
 * that json_free() releases at once. It never trusts its input: depth, length and number ranges
 * are bounded, every malformed input yields NULL and a one-line reason, never a crash.
 * Writer: struct jbuf, a growing byte buffer with helpers that emit valid JSON.
 */
#ifndef TCK_JSON_H
#define TCK_JSON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json;

struct json_member {
	const char *key;
	struct json *value;
};

struct json {
	enum json_type type;
	int boolean;                 /* JSON_BOOL */
	const char *text;            /* JSON_NUMBER: the literal; JSON_STRING: decoded, NUL-terminated */
	size_t len;                  /* JSON_STRING: decoded length (may contain NUL bytes) */
	size_t n;                    /* JSON_ARRAY / JSON_OBJECT: element count */
	struct json **items;         /* JSON_ARRAY */
	struct json_member *members; /* JSON_OBJECT */
};

struct json_doc;                 /* the arena behind one parsed line */

/* Parses exactly one JSON value (surrounding whitespace allowed). NULL on error, *err says why. */
struct json *json_parse(const char *text, size_t len, struct json_doc **doc, const char **err);
void json_free(struct json_doc *doc);

/* Member of an object by key, or NULL (also when o is not an object). */
const struct json *json_get(const struct json *o, const char *key);

/* Integers: a JSON number without fraction/exponent, or a string "0x..." / decimal. 0 on success. */
int json_i64(const struct json *v, int64_t *out);
int json_u64(const struct json *v, uint64_t *out);

/* Writer */
struct jbuf {
	char *data;
	size_t len, cap;
	int oom;                     /* set once an allocation failed; the buffer is then unusable */
};

void jb_init(struct jbuf *b);
void jb_free(struct jbuf *b);
void jb_raw(struct jbuf *b, const char *s, size_t n);
#define jb_lit(b, literal) jb_raw((b), literal, sizeof(literal) - 1)   /* a string literal */
void jb_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jb_string(struct jbuf *b, const char *s, size_t n);   /* a quoted, escaped JSON string */
void jb_cstring(struct jbuf *b, const char *s);
void jb_u64(struct jbuf *b, uint64_t v);                    /* decimal, fast (sampled values) */
void jb_json(struct jbuf *b, const struct json *v);        /* re-emits a parsed value (e.g. an id) */

#endif
