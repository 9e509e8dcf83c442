/* unit_netstring.c - netstring reader and writer (NS-1..NS-7) */
#include <stdlib.h>

#include "mtasts.h"
#include "unit.h"

/* Feed all of s in pieces of at most step bytes (0 = all at once) and
 * collect the results: each string as "D<payload>|", "O|" for oversize,
 * "E" for an error (then stop).  Returns the bytes consumed. */
static size_t
feed(struct ns_reader *r, const char *s, size_t len, size_t step, char *res, size_t cap)
{
	size_t off = 0, ro = 0;

	res[0] = '\0';
	while (off < len) {
		size_t n = step == 0 || len - off < step ? len - off : step;
		const unsigned char *g = guarded(s + off, n);
		size_t pos = 0;
		while (pos < n) {
			size_t used = 99999;
			enum ns_status st = ns_read(r, g + pos, n - pos, &used);
			if (used > n - pos) {
				snprintf(res + ro, cap - ro, "!used");
				return off + pos;
			}
			pos += used;
			if (st == NS_DONE) {
				ro += (size_t)snprintf(res + ro, cap - ro, "D%s|", r->payload);
				if (strlen(r->payload) != r->len)
					ro += (size_t)snprintf(res + ro, cap - ro, "!len");
			} else if (st == NS_OVERSIZE) {
				ro += (size_t)snprintf(res + ro, cap - ro, "O|");
			} else if (st == NS_ERROR) {
				snprintf(res + ro, cap - ro, "E");
				return off + pos;
			} else if (pos != n) {
				/* NEED_MORE must consume everything offered */
				snprintf(res + ro, cap - ro, "!need");
				return off + pos;
			} else {
				break;
			}
			if (ro >= cap)
				ro = cap - 1;
		}
		off += n;
	}
	return off;
}

static void
run_case(const char *in, const char *want)
{
	struct ns_reader r;
	char res[4096];

	ns_reader_init(&r);
	feed(&r, in, strlen(in), 0, res, sizeof res);
	CHECK_STR(res, want);
}

static void
test_basic(void)
{
	struct ns_reader r;
	size_t used;
	char res[4096];
	const char *two = "19:postfix example.com,20:postfix .example.com,";

	run_case("19:postfix example.com,", "Dpostfix example.com|");
	run_case("0:,", "D|");
	run_case("0:,0:,", "D|D|");
	run_case("3:abc,", "Dabc|");
	run_case("10:0123456789,", "D0123456789|");
	run_case(two, "Dpostfix example.com|Dpostfix .example.com|");
	/* binary payload: NUL and comma inside are data */
	{
		static const char bin[] = "5:a\0,:b,";
		ns_reader_init(&r);
		CHECK_INT(ns_read(&r, (const uint8_t *)bin, 8, &used), NS_DONE);
		CHECK_INT(used, 8);
		CHECK_INT(r.len, 5);
		CHECK(memcmp(r.payload, "a\0,:b", 6) == 0);
	}

	/* stops right after each string */
	ns_reader_init(&r);
	CHECK_INT(ns_read(&r, (const uint8_t *)two, strlen(two), &used), NS_DONE);
	CHECK_INT(used, 23);
	CHECK_STR(r.payload, "postfix example.com");
	CHECK_INT(r.len, 19);
	CHECK_INT(ns_read(&r, (const uint8_t *)two + used, strlen(two) - used, &used), NS_DONE);
	CHECK_INT(used, 24);
	CHECK_STR(r.payload, "postfix .example.com");
	CHECK_INT(ns_read(&r, (const uint8_t *)"", 0, &used), NS_NEED_MORE);
	CHECK_INT(used, 0);

	/* NS-3: split request */
	ns_reader_init(&r);
	CHECK_INT(ns_read(&r, (const uint8_t *)"19:postfix exa", 14, &used), NS_NEED_MORE);
	CHECK_INT(used, 14);
	CHECK_INT(ns_read(&r, (const uint8_t *)"mple.com,", 9, &used), NS_DONE);
	CHECK_INT(used, 9);
	CHECK_STR(r.payload, "postfix example.com");

	/* 1-byte feeding of a pipelined stream */
	ns_reader_init(&r);
	feed(&r, two, strlen(two), 1, res, sizeof res);
	CHECK_STR(res, "Dpostfix example.com|Dpostfix .example.com|");
	ns_reader_init(&r);
	feed(&r, "0:,3:abc,0:,", 12, 1, res, sizeof res);
	CHECK_STR(res, "D|Dabc|D|");
}

/* every split point (and every pair of split points) of a valid stream */
static void
test_splits(void)
{
	const char *s = "19:postfix example.com,0:,5:a:b,c,";
	const char *want = "Dpostfix example.com|D|Da:b,c|";
	size_t len = strlen(s), i, j;
	int bad = 0;

	for (i = 0; i <= len; i++) {
		for (j = i; j <= len; j++) {
			struct ns_reader r;
			char res[256], all[512];
			size_t ao;

			ns_reader_init(&r);
			feed(&r, s, i, 0, res, sizeof res);
			ao = (size_t)snprintf(all, sizeof all, "%s", res);
			feed(&r, s + i, j - i, 0, res, sizeof res);
			ao += (size_t)snprintf(all + ao, sizeof all - ao, "%s", res);
			feed(&r, s + j, len - j, 0, res, sizeof res);
			snprintf(all + ao, sizeof all - ao, "%s", res);
			if (strcmp(all, want) != 0) {
				if (bad++ < 5)
					printf("split %zu/%zu: %s\n", i, j, all);
			}
		}
	}
	CHECK_INT(bad, 0);
	/* every prefix of one string is NEED_MORE and consumed whole */
	for (i = 0; i < 23; i++) {
		struct ns_reader r;
		size_t used = 99;
		ns_reader_init(&r);
		if (ns_read(&r, guarded(s, i), i, &used) != NS_NEED_MORE || used != i)
			bad++;
	}
	CHECK_INT(bad, 0);
}

static void
test_errors(void)
{
	struct ns_reader r;
	size_t used;

	run_case("020:postfix .example.com,", "E");   /* NS-2 */
	run_case("00:,", "E");
	run_case("01:a,", "E");
	run_case("19:postfix example.com;", "E");     /* NS-5 */
	run_case("3:abcd", "E");
	run_case(":x,", "E");                          /* NS-6 */
	run_case(" 5:hello,", "E");
	run_case("+5:hello,", "E");
	run_case("-5:hello,", "E");
	run_case("x:", "E");
	run_case("5 :hello,", "E");
	run_case("5x:hello,", "E");
	run_case("99999999:", "E");                    /* NS-4 */
	run_case("10101:", "E");
	run_case("100000:", "E");
	run_case("123456", "E");                       /* sixth digit */
	run_case("0:,,", "D|E");
	run_case("3:abc,\n", "Dabc|E");
	run_case("3:abc,3:a", "Dabc|");                /* incomplete is fine */

	/* where the error is reported, and that it sticks */
	ns_reader_init(&r);
	CHECK_INT(ns_read(&r, (const uint8_t *)"3:abc;", 6, &used), NS_ERROR);
	CHECK_INT(used, 5);
	CHECK_INT(ns_read(&r, (const uint8_t *)"3:abc,", 6, &used), NS_ERROR);
	CHECK_INT(used, 0);
	ns_reader_init(&r);
	CHECK_INT(ns_read(&r, (const uint8_t *)"3:abc,", 6, &used), NS_DONE);
	/* the limit is refused at the digit that passes it, before ':' */
	ns_reader_init(&r);
	CHECK_INT(ns_read(&r, (const uint8_t *)"10101", 5, &used), NS_ERROR);
	CHECK_INT(used, 4);
	ns_reader_init(&r);
	CHECK_INT(ns_read(&r, (const uint8_t *)"10100", 5, &used), NS_NEED_MORE);
	CHECK_INT(used, 5);
}

static void
test_sizes(void)
{
	static char big[20000], res[4096], want[2048];
	struct ns_reader r;
	size_t n, used, k;
	enum ns_status st;

	/* exactly NS_PAYLOAD_MAX is buffered */
	n = (size_t)snprintf(big, sizeof big, "%d:", NS_PAYLOAD_MAX);
	memset(big + n, 'a', NS_PAYLOAD_MAX);
	n += NS_PAYLOAD_MAX;
	big[n++] = ',';
	ns_reader_init(&r);
	CHECK_INT(ns_read(&r, guarded(big, n), n, &used), NS_DONE);
	CHECK_INT(used, n);
	CHECK_INT(r.len, NS_PAYLOAD_MAX);
	CHECK_INT(strlen(r.payload), NS_PAYLOAD_MAX);
	memset(want, 'a', NS_PAYLOAD_MAX);
	want[NS_PAYLOAD_MAX] = '\0';
	CHECK_STR(r.payload, want);

	/* one more is discarded, and the next request is served (NS-4) */
	n = (size_t)snprintf(big, sizeof big, "%d:", NS_PAYLOAD_MAX + 1);
	memset(big + n, 'b', NS_PAYLOAD_MAX + 1);
	n += NS_PAYLOAD_MAX + 1;
	n += (size_t)snprintf(big + n, sizeof big - n, ",19:postfix example.com,");
	ns_reader_init(&r);
	feed(&r, big, n, 0, res, sizeof res);
	CHECK_STR(res, "O|Dpostfix example.com|");
	ns_reader_init(&r);
	feed(&r, big, n, 1, res, sizeof res);
	CHECK_STR(res, "O|Dpostfix example.com|");
	ns_reader_init(&r);
	feed(&r, big, n, 100, res, sizeof res);
	CHECK_STR(res, "O|Dpostfix example.com|");

	/* a 2000-byte key, and the declared length readable after OVERSIZE */
	n = (size_t)snprintf(big, sizeof big, "2008:postfix ");
	memset(big + n, 'k', 2000);
	n += 2000;
	big[n++] = ',';
	ns_reader_init(&r);
	st = ns_read(&r, guarded(big, n), n, &used);
	CHECK_INT(st, NS_OVERSIZE);
	CHECK_INT(used, n);
	CHECK_INT(r.len, 0);
	CHECK_STR(r.payload, "");
	CHECK_INT(r.want, 2008);

	/* NS_DISCARD_MAX is the largest accepted declaration */
	n = (size_t)snprintf(big, sizeof big, "%d:", NS_DISCARD_MAX);
	memset(big + n, 'c', NS_DISCARD_MAX);
	n += NS_DISCARD_MAX;
	big[n++] = ',';
	ns_reader_init(&r);
	feed(&r, big, n, 7, res, sizeof res);
	CHECK_STR(res, "O|");
	/* an oversize body must still end in a comma */
	big[n - 1] = ';';
	ns_reader_init(&r);
	feed(&r, big, n, 0, res, sizeof res);
	CHECK_STR(res, "E");

	/* many strings in one buffer, 1-byte and 3-byte feeding agree */
	n = 0;
	for (k = 0; k < 200; k++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%zu:%.*s,", k % 12,
		    (int)(k % 12), "abcdefghijkl");
	{
		struct ns_reader r1, r3;
		static char res1[8192], res3[8192];
		ns_reader_init(&r1);
		ns_reader_init(&r3);
		feed(&r1, big, n, 1, res1, sizeof res1);
		feed(&r3, big, n, 3, res3, sizeof res3);
		CHECK_STR(res1, res3);
		CHECK(strncmp(res1, "D|Da|Dab|Dabc|", 14) == 0);
	}
}

static void
test_write(void)
{
	char out[64];
	static char big[100020];
	static char payload[100001];

	memset(out, 'x', sizeof out);
	CHECK_INT(ns_write(out, sizeof out, "NOTFOUND ", 9), 12);
	CHECK_MEM(out, 12, "9:NOTFOUND ,");
	CHECK(out[12] == 'x');             /* no NUL written */
	CHECK_INT(ns_write(out, sizeof out, "PERM malformed request", 22), 26);
	CHECK_MEM(out, 26, "22:PERM malformed request,");
	CHECK_INT(ns_write(out, sizeof out, NULL, 0), 3);
	CHECK_MEM(out, 3, "0:,");
	CHECK_INT(ns_write(out, sizeof out, "", 0), 3);
	/* room is exact */
	CHECK_INT(ns_write(out, 12, "NOTFOUND ", 9), 12);
	CHECK_INT(ns_write(out, 11, "NOTFOUND ", 9), 0);
	CHECK_INT(ns_write(out, 0, "NOTFOUND ", 9), 0);
	CHECK_INT(ns_write(NULL, 0, "x", 1), 0);
	CHECK_INT(ns_write(out, sizeof out, NULL, 1), 0);
	/* PFX-1 reply */
	{
		const char *p = "OK secure match=mail.example.com:.example.net servername=hostname";
		CHECK_INT(ns_write(out, sizeof out, p, strlen(p)), 0);   /* 68 > 64 */
		CHECK_INT(ns_write(big, sizeof big, p, strlen(p)), 69);
		CHECK_MEM(big, 69, "65:OK secure match=mail.example.com:.example.net servername=hostname,");
	}
	/* NS-7: at most 100000 payload bytes */
	memset(payload, 'p', sizeof payload);
	CHECK_INT(ns_write(big, sizeof big, payload, 100000), 100008);
	CHECK(memcmp(big, "100000:pp", 9) == 0 && big[100007] == ',');
	CHECK_INT(ns_write(big, sizeof big, payload, 100001), 0);
	CHECK_INT(ns_write(big, sizeof big, payload, 1000), 1006);
	CHECK(memcmp(big, "1000:p", 6) == 0);
	/* what ns_write emits, ns_read accepts */
	{
		struct ns_reader r;
		size_t used, n = ns_write(big, sizeof big, payload, 1024);
		ns_reader_init(&r);
		CHECK_INT(ns_read(&r, guarded(big, n), n, &used), NS_DONE);
		CHECK_INT(used, n);
		CHECK_INT(r.len, 1024);
	}
}

int
main(void)
{
	test_basic();
	test_splits();
	test_errors();
	test_sizes();
	test_write();
	UNIT_DONE();
}
