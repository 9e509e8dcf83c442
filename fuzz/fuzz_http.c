/* fuzz_http.c - libFuzzer target for the HTTP response parser.
 *
 * Input: byte 0 = flags (bit 0: EOF is clean, bit 1: no EOF at all),
 * byte 1 = split seed, byte 2 = body cap selector, then the response.
 * The response is parsed twice, whole and in pieces whose sizes come from
 * the seed; both runs must agree exactly, and every bound must hold. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_parser pa, pb;
static uint8_t ba[HTTP_BODY_MAX], bb[HTTP_BODY_MAX];

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static enum http_status
finish(struct http_parser *p, enum http_status st, uint8_t flags)
{
	if (st == HTTP_NEED_MORE && !(flags & 2))
		st = http_eof(p, flags & 1);
	return st;
}

static void
check(const struct http_parser *p, enum http_status st)
{
	REQUIRE(p->body_len <= p->body_cap);
	REQUIRE(p->hdrlen <= HTTP_HEADER_MAX);
	REQUIRE(memchr(p->reason, '\0', sizeof p->reason) != NULL);
	if (st == HTTP_ERROR) {
		REQUIRE(p->reason[0] != '\0');
		REQUIRE(p->err_class == FETCH_ERR_FETCH || p->err_class == FETCH_ERR_POLICY);
	} else {
		REQUIRE(p->reason[0] == '\0');
	}
	if (st == HTTP_DONE)
		REQUIRE(p->status_code == 200);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum http_status sa, sb = HTTP_NEED_MORE;
	size_t cap, used, whole, pos = 0, total = 0;
	uint8_t flags, seed, x;

	if (size < 3)
		return 0;
	flags = data[0];
	seed = data[1];
	cap = data[2] < 128 ? HTTP_BODY_MAX : (size_t)(data[2] - 128);
	data += 3;
	size -= 3;

	http_init(&pa, ba, cap);
	sa = http_feed(&pa, data, size, &whole);
	REQUIRE(whole <= size);
	if (sa != HTTP_ERROR)
		REQUIRE(sa == HTTP_DONE || whole == size);
	sa = finish(&pa, sa, flags);
	check(&pa, sa);

	http_init(&pb, bb, cap);
	x = seed;
	while (pos < size && sb == HTTP_NEED_MORE) {
		size_t n;
		x = (uint8_t)(x * 37 + 11);
		n = seed & 0x80 ? 1 + x % 3 : 1 + x % ((seed & 0x3f) + 1);
		if (n > size - pos)
			n = size - pos;
		sb = http_feed(&pb, data + pos, n, &used);
		REQUIRE(used <= n);
		total += used;
		pos += n;
	}
	if (sb == HTTP_DONE)
		REQUIRE(total == whole);        /* both stop right after the body */
	sb = finish(&pb, sb, flags);
	check(&pb, sb);

	/* pieces or not, the same outcome */
	REQUIRE(sa == sb);
	REQUIRE(pa.err_class == pb.err_class);
	REQUIRE(strcmp(pa.reason, pb.reason) == 0);
	if (sa == HTTP_DONE) {  /* after an error the partial body is moot */
		REQUIRE(pa.body_len == pb.body_len);
		REQUIRE(memcmp(pa.body, pb.body, pa.body_len) == 0);
	}

	/* a finished parser takes nothing more */
	if (sa != HTTP_NEED_MORE) {
		REQUIRE(http_feed(&pa, data, size, &used) == sa && used == 0);
		REQUIRE(http_eof(&pa, 1) == sa);
	}
	return 0;
}
