/*
 * json_fuzz.c - hammers the C adapter's JSON reader (src/main/native/kvm/json.c)
 * with malformed input: truncations and byte flips of real requests, binary garbage, deep nesting,
 * huge numbers and strings, bad escapes. Built for the host with AddressSanitizer and
 * UndefinedBehaviorSanitizer (any memory error aborts). Every parsed document is written back
 * with the writer and must parse again to the same text. Exit 0 and "json_fuzz: N inputs" on success.
 *   json_fuzz [ITERATIONS] [SEED]
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *seeds[] = {
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hello\",\"params\":{\"protocol\":1,\"tck\":\"0.1.0\",\"shared_dir\":\"/tmp/x/\"}}",
	"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"open\",\"params\":{\"architecture\":\"ARM64\",\"vcpus\":2,"
	"\"ram\":[{\"gpa\":0,\"size\":1048576},{\"gpa\":4294967296,\"size\":65536}],\"steal_time_offered\":true}}",
	"{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"arm64.smccc\",\"params\":{\"vm\":1,\"vcpu\":0,\"function_id\":3305111554,\"args\":[18446744073709551615]}}",
	"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"memory.write\",\"params\":{\"vm\":1,\"gpa\":65536,\"bytes\":\"00ff\\u0041\\ud83d\\ude00\"}}",
	"[1.5e-3,-0,true,false,null,\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]",
};

static unsigned long long rng = 88172645463325252ull;
static unsigned rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)rng;
}

static long parsed, rejected;

static void check(const char *buf, size_t len)
{
	struct json_doc *doc;
	const char *err;
	struct json *v = json_parse(buf, len, &doc, &err);
	if (!v) {
		if (!err) {
			fprintf(stderr, "json_fuzz: rejected without a reason\n");
			exit(1);
		}
		rejected++;
		json_free(doc);
		return;
	}
	parsed++;
	/* exercise the accessors */
	int64_t i;
	uint64_t u;
	json_i64(json_get(v, "id"), &i);
	json_u64(json_get(json_get(v, "params"), "gpa"), &u);
	struct jbuf a, b;
	jb_init(&a);
	jb_init(&b);
	jb_json(&a, v);
	json_free(doc);
	v = json_parse(a.data, a.len, &doc, &err);
	if (!v) {
		fprintf(stderr, "json_fuzz: written back, it no longer parses (%s): %s\n", err, a.data);
		exit(1);
	}
	jb_json(&b, v);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
		fprintf(stderr, "json_fuzz: round trip differs:\n%s\n%s\n", a.data, b.data);
		exit(1);
	}
	json_free(doc);
	jb_free(&a);
	jb_free(&b);
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 200000;
	if (argc > 2)
		rng = strtoull(argv[2], NULL, 10) | 1;
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	long n = 0;
	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++, n++)
		check(seeds[s], strlen(seeds[s]));
	for (long it = 0; it < iterations; it++, n++) {
		const char *seed = seeds[rnd() % (sizeof(seeds) / sizeof(seeds[0]))];
		size_t len = strlen(seed);
		memcpy(buf, seed, len);
		switch (rnd() % 6) {
		case 0: /* truncation */
			len = rnd() % (len + 1);
			break;
		case 1: /* byte flips */
			for (int k = 1 + (int)(rnd() % 4); k > 0; k--)
				buf[rnd() % len] = (char)rnd();
			break;
		case 2: /* binary garbage */
			len = rnd() % 512;
			for (size_t k = 0; k < len; k++)
				buf[k] = (char)rnd();
			break;
		case 3: { /* deep nesting */
			size_t d = rnd() % 200;
			len = 0;
			for (size_t k = 0; k < d; k++)
				buf[len++] = rnd() % 2 ? '[' : '{';
			break;
		}
		case 4: { /* huge number */
			len = 0;
			buf[len++] = '[';
			if (rnd() % 2)
				buf[len++] = '-';
			for (size_t k = 0, d = 1 + rnd() % 4000; k < d; k++)
				buf[len++] = (char)('0' + rnd() % 10);
			buf[len++] = ']';
			break;
		}
		default: { /* long string with escapes */
			static const char *pieces[] = { "a", "\\n", "\\u00e9", "\\ud800", "\\udc00", "\\", "\"", "\\x", "\xc3\xa9" };
			len = 0;
			buf[len++] = '"';
			for (size_t k = 0, d = rnd() % 2000; k < d && len < cap - 16; k++) {
				const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
				memcpy(buf + len, p, strlen(p));
				len += strlen(p);
			}
			if (rnd() % 2)
				buf[len++] = '"';
			break;
		}
		}
		/* no NUL terminator: the parser must stay inside len */
		char *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		check(exact, len);
		free(exact);
	}
	free(buf);
	printf("json_fuzz: %ld inputs, %ld parsed, %ld rejected\n", n, parsed, rejected);
	return 0;
}
