/* unit_cache.c - hash table, block store, LRU and eviction rules */
#include <stdio.h>
#include "mtasts.h"
#include "unit.h"

#define NMX 32
static char buf[65536];

/* the patterns of domain's entry into mx[]: their count, -2 no entry */
static int
read_mx(struct cache *c, const char *domain, const char **mx)
{
	struct cache_entry *e = cache_find(c, domain);
	const char *p;
	size_t len, k;
	int n, i = 0;

	if (e == NULL)
		return -2;
	n = cache_read(c, e, buf, sizeof buf, &p, &len);
	for (k = 0; n > 0 && k < len && i < NMX; k += strlen(p + k) + 1)
		mx[i++] = p + k;
	CHECK(n < 0 || i == n);
	return n;
}

/* cache_store of mx[0..n) packed as struct policy keeps them */
static struct cache_entry *
store_arr(struct cache *c, const char *domain, enum cache_kind kind, const char *const *mx,
    int n, msec_t now)
{
	static char packed[CACHE_DATA_MAX];
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++) {
		memcpy(packed + len, mx[i], strlen(mx[i]) + 1);
		len += strlen(mx[i]) + 1;
	}
	return cache_store(c, domain, kind, packed, len, now);
}

static struct cache_entry *
put_policy(struct cache *c, const char *domain, const char *mx0, msec_t now, msec_t expires)
{
	const char *mx[1] = { mx0 };
	struct cache_entry *e = store_arr(c, domain, CE_POLICY, mx, 1, now);

	if (e != NULL) {
		e->mode = STS_ENFORCE;
		e->expires = expires;
	}
	return e;
}

/* A policy whose data ("domain\0" and its patterns, each NUL-terminated)
 * fills exactly nblk store blocks. */
static struct cache_entry *
put_blocks(struct cache *c, const char *domain, int nblk, msec_t expires)
{
	static char pat[NMX][128];
	const char *mx[NMX];
	size_t left = (size_t)nblk * CACHE_BLOCK - strlen(domain) - 1;
	struct cache_entry *e;
	int n = 0;

	while (left > 0 && n < NMX) {
		size_t take = left > 201 ? 101 : left > 101 ? left - 101 : left;
		memset(pat[n], 'a' + n % 26, take - 1);
		pat[n][take - 1] = '\0';
		mx[n] = pat[n];
		n++;
		left -= take;
	}
	e = store_arr(c, domain, CE_POLICY, mx, n, 0);
	if (e != NULL) {
		e->mode = STS_ENFORCE;
		e->expires = expires;
	}
	return e;
}

int
main(void)
{
	struct cache c;
	struct cache_entry *e;
	const char *mx[NMX];
	static char names[NMX][MX_PATTERN_MAX + 1];
	const char *many[NMX];
	char d[64];
	int i, n;

	CHECK_INT(cache_init(&c, 4), 0);
	CHECK_INT(c.nblocks, 4 * CACHE_BLOCKS_PER_ENTRY);
	CHECK(cache_find(&c, "example.com") == NULL);

	/* store and read back */
	e = put_policy(&c, "example.com", "mx1.example.com", 0, 1000);
	CHECK(e != NULL);
	CHECK_INT(c.count, 1);
	n = read_mx(&c, "example.com", mx);
	CHECK_INT(n, 1);
	CHECK_STR(mx[0], "mx1.example.com");
	CHECK(cache_find(&c, "example.org") == NULL);
	CHECK(cache_find(&c, "example.co") == NULL);
	CHECK(cache_find(&c, "example.comm") == NULL);
	CHECK(cache_usable(e, 999));
	CHECK(!cache_usable(e, 1000));

	/* replace keeps the slot and its metadata, swaps the data */
	strcpy(e->id, "abc");
	{
		const char *two[2] = { "*.example.net", "mx2.example.com" };
		struct cache_entry *e2 = store_arr(&c, "example.com", CE_POLICY, two, 2, 0);
		CHECK(e2 == e);
		CHECK_STR(e2->id, "abc");
		CHECK_INT(c.count, 1);
		n = read_mx(&c, "example.com", mx);
		CHECK_INT(n, 2);
		CHECK_STR(mx[0], "*.example.net");
		CHECK_STR(mx[1], "mx2.example.com");
	}

	/* a no-policy entry has no patterns */
	e = store_arr(&c, "nopolicy.example", CE_NOPOLICY, NULL, 0, 0);
	CHECK(e != NULL);
	CHECK_INT(read_mx(&c, "nopolicy.example", mx), 0);
	CHECK(!cache_usable(e, 0));

	/* a policy that spans many blocks (32 x 252-char patterns) */
	for (i = 0; i < NMX; i++) {
		memset(names[i], 'a' + (i % 26), 250);
		snprintf(names[i] + 250, 4, ".%c", 'a' + i % 26);
		many[i] = names[i];
	}
	cache_free(&c);
	CHECK_INT(cache_init(&c, 100), 0);
	e = store_arr(&c, "big.example", CE_POLICY, many, NMX, 0);
	CHECK(e != NULL);
	CHECK(c.used_blocks > 100);
	n = read_mx(&c, "big.example", mx);
	CHECK_INT(n, NMX);
	CHECK(n == NMX && strcmp(mx[31], names[31]) == 0);
	CHECK(n == NMX && strcmp(mx[0], names[0]) == 0);
	cache_drop(&c, e);
	CHECK_INT(c.used_blocks, 0);
	CHECK_INT(c.count, 0);
	CHECK(cache_find(&c, "big.example") == NULL);
	cache_free(&c);

	/* eviction: no-policy entries go first, then least recently used */
	CHECK_INT(cache_init(&c, 3), 0);
	put_policy(&c, "a.example", "mx.a.example", 0, 100000);
	put_policy(&c, "b.example", "mx.b.example", 0, 100000);
	store_arr(&c, "neg.example", CE_NOPOLICY, NULL, 0, 0);
	put_policy(&c, "c.example", "mx.c.example", 0, 100000);   /* table full */
	CHECK(cache_find(&c, "neg.example") == NULL);
	CHECK(cache_find(&c, "a.example") != NULL);   /* also makes a recent */
	CHECK(cache_find(&c, "b.example") != NULL);
	CHECK(cache_find(&c, "c.example") != NULL);
	CHECK_INT(c.evicted_usable, 0);
	/* a no-policy entry never pushes out a usable policy */
	CHECK(store_arr(&c, "neg2.example", CE_NOPOLICY, NULL, 0, 0) == NULL);
	CHECK_INT(c.count, 3);
	/* a new policy pushes out the least recently used one (a, touched first) */
	put_policy(&c, "d.example", "mx.d.example", 0, 100000);
	CHECK(cache_find(&c, "a.example") == NULL);
	CHECK_INT(c.evicted_usable, 1);
	CHECK(cache_find(&c, "d.example") != NULL);
	/* once expired, a policy can make room for a no-policy entry */
	CHECK(store_arr(&c, "neg3.example", CE_NOPOLICY, NULL, 0, 200000) != NULL);
	CHECK_INT(c.count, 3);
	cache_free(&c);

	/* The block store is bounded too.  Two entries get 8 blocks; a
	 * policy whose data takes all 8 must push out the 1-block one. */
	CHECK_INT(cache_init(&c, 2), 0);
	CHECK_INT(c.nblocks, 8);
	CHECK(put_blocks(&c, "small.example", 1, 100000) != NULL);
	CHECK_INT(c.used_blocks, 1);
	e = put_blocks(&c, "big.example", 8, 100000);
	CHECK(e != NULL);
	CHECK_INT(c.used_blocks, 8);
	CHECK_INT(c.evictions, 1);
	CHECK_INT(c.evicted_usable, 1);
	CHECK(cache_find(&c, "small.example") == NULL);
	CHECK(e != NULL && read_mx(&c, "big.example", mx) > 0);
	/* and nothing can make room for a 9-block entry */
	CHECK(put_blocks(&c, "huge.example", 9, 100000) == NULL);
	CHECK(cache_find(&c, "big.example") != NULL);
	cache_free(&c);

	/* Under block pressure, no-policy entries go first, then the least
	 * recently used policy, and no more than needed: 32 blocks hold
	 * p1, neg, p2, p3 (31 blocks); p1 is then used, so p4 (10 blocks)
	 * takes the free block, neg's block and p2's 10. */
	CHECK_INT(cache_init(&c, 8), 0);
	CHECK_INT(c.nblocks, 32);
	put_blocks(&c, "p1.example", 10, 100000);
	CHECK(store_arr(&c, "neg.example", CE_NOPOLICY, NULL, 0, 0) != NULL);
	put_blocks(&c, "p2.example", 10, 100000);
	put_blocks(&c, "p3.example", 10, 100000);
	CHECK_INT(c.used_blocks, 31);
	CHECK(cache_find(&c, "p1.example") != NULL);
	CHECK(put_blocks(&c, "p4.example", 10, 100000) != NULL);
	CHECK_INT(c.evictions, 2);
	CHECK_INT(c.evicted_usable, 1);
	CHECK_INT(c.used_blocks, 30);
	CHECK_INT(c.count, 3);
	CHECK(cache_find(&c, "neg.example") == NULL);
	CHECK(cache_find(&c, "p2.example") == NULL);
	CHECK(cache_find(&c, "p1.example") != NULL);
	CHECK(cache_find(&c, "p3.example") != NULL);
	CHECK(cache_find(&c, "p4.example") != NULL);
	cache_free(&c);

	/* A no-policy entry never pushes out a usable policy for blocks
	 * either; an expired one it may. */
	CHECK_INT(cache_init(&c, 8), 0);
	put_blocks(&c, "old.example", 10, 50);      /* least recently used */
	put_blocks(&c, "q2.example", 10, 100000);
	put_blocks(&c, "q3.example", 10, 100000);
	put_blocks(&c, "q4.example", 2, 100000);
	CHECK_INT(c.used_blocks, 32);
	CHECK(store_arr(&c, "neg.example", CE_NOPOLICY, NULL, 0, 10) == NULL);
	CHECK_INT(c.count, 4);
	CHECK_INT(c.evictions, 0);
	CHECK(store_arr(&c, "neg.example", CE_NOPOLICY, NULL, 0, 100) != NULL);
	CHECK_INT(c.evicted_usable, 0);
	CHECK(cache_find(&c, "old.example") == NULL);
	CHECK(cache_find(&c, "q2.example") != NULL);
	CHECK_INT(c.count, 4);
	cache_free(&c);

	/* many domains: every one found, chains intact after drops */
	CHECK_INT(cache_init(&c, 1000), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(d, sizeof d, "d%d.bench.test", i);
		put_policy(&c, d, "mx.bench.test", 0, 100000);
	}
	CHECK_INT(c.count, 1000);
	for (i = 0; i < 1000; i += 2) {
		snprintf(d, sizeof d, "d%d.bench.test", i);
		cache_drop(&c, cache_find(&c, d));
	}
	n = 0;
	for (i = 0; i < 1000; i++) {
		snprintf(d, sizeof d, "d%d.bench.test", i);
		n += (cache_find(&c, d) != NULL) == (i % 2 == 1);
	}
	CHECK_INT(n, 1000);
	CHECK_INT(c.count, 500);
	/* freed slots and blocks are reused before the high-water mark moves */
	{
		uint32_t mark = c.entry_mark, bmark = c.block_mark;
		put_policy(&c, "again.example", "mx.again.example", 0, 100000);
		CHECK_INT(c.entry_mark, mark);
		CHECK_INT(c.block_mark, bmark);
	}
	cache_free(&c);
	/* PFX-8: the largest valid policy's patterns (MX_DATA_MAX bytes) fit
	 * one entry's 16-bit datalen with the longest domain */
	{
		static char big[MX_DATA_MAX], dom[DOMAIN_MAX + 1];
		const char *p;
		size_t o, len;
		int k = 0;

		memset(dom, 'd', DOMAIN_MAX);
		for (o = 63; o < DOMAIN_MAX; o += 64)
			dom[o] = '.';
		for (o = 0; o + 12 <= sizeof big; o += 12, k++)
			snprintf(big + o, 12, "m%06d.x.y", k);
		CHECK_INT(cache_init(&c, 200), 0);        /* 800 blocks */
		e = cache_store(&c, dom, CE_POLICY, big, o, 0);
		CHECK(e != NULL);
		CHECK(e != NULL && e->datalen == DOMAIN_MAX + 1 + o);
		CHECK(e != NULL && cache_read(&c, e, buf, sizeof buf, &p, &len) == k);
		CHECK(len == o && memcmp(p, big, o) == 0);
		CHECK_INT(c.used_blocks, (DOMAIN_MAX + 1 + o + CACHE_BLOCK - 1) / CACHE_BLOCK);
		/* a cut list (no final NUL) is refused */
		CHECK(cache_store(&c, "cut.example", CE_POLICY, "a.b.c", 5, 0) == NULL);
		cache_free(&c);
	}
	UNIT_DONE();
}
