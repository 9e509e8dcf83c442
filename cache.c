/*
 * cache.c - the policy cache: a fixed table of entries found through a
 * chained hash, and a byte-bounded store of 64-byte blocks for the
 * variable part (domain and mx patterns), so a one-mx domain costs one
 * block and the largest valid policy (MX_DATA_MAX) about 520.  Everything is allocated once
 * by cache_init; memory never grows with traffic.  Slots and blocks are
 * handed out from a high-water mark first, so pages never used are never
 * touched (and never counted in RSS).
 *
 * Two LRU lists: entries without a policy go first when room is needed,
 * then the least recently used policy.  Pure: the caller passes `now`.
 */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

static uint32_t
hash_name(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

int
cache_init(struct cache *c, uint32_t entries)
{
	uint32_t nb = CACHE_BUCKETS_MIN;

	memset(c, 0, sizeof *c);
	while (nb < entries && nb < (1u << 30))
		nb <<= 1;
	c->nentries = entries;
	c->nbuckets = nb;
	c->nblocks = entries * CACHE_BLOCKS_PER_ENTRY;
	/* buckets hold index + 1, so the zeroed table is empty as it comes */
	c->bucket = calloc(nb, sizeof *c->bucket);
	c->e = calloc(entries, sizeof *c->e);
	c->block_next = calloc(c->nblocks, sizeof *c->block_next);
	c->block = calloc(c->nblocks, CACHE_BLOCK);
	if (c->bucket == NULL || c->e == NULL || c->block_next == NULL || c->block == NULL) {
		cache_free(c);
		return -1;
	}
	c->free_entry = c->free_block = CACHE_NIL;
	c->lru_head[0] = c->lru_head[1] = CACHE_NIL;
	c->lru_tail[0] = c->lru_tail[1] = CACHE_NIL;
	return 0;
}

void
cache_free(struct cache *c)
{
	free(c->bucket);
	free(c->e);
	free(c->block_next);
	free(c->block);
	memset(c, 0, sizeof *c);
}

static uint32_t
idx(const struct cache *c, const struct cache_entry *e)
{
	return (uint32_t)(e - c->e);
}

static int
lru_list(const struct cache_entry *e)
{
	return e->kind == CE_POLICY;
}

static void
lru_unlink(struct cache *c, struct cache_entry *e)
{
	int l = lru_list(e);

	if (e->lru_prev != CACHE_NIL)
		c->e[e->lru_prev].lru_next = e->lru_next;
	else
		c->lru_head[l] = e->lru_next;
	if (e->lru_next != CACHE_NIL)
		c->e[e->lru_next].lru_prev = e->lru_prev;
	else
		c->lru_tail[l] = e->lru_prev;
	e->lru_prev = e->lru_next = CACHE_NIL;
}

static void
lru_push(struct cache *c, struct cache_entry *e)
{
	int l = lru_list(e);
	uint32_t i = idx(c, e);

	e->lru_prev = CACHE_NIL;
	e->lru_next = c->lru_head[l];
	if (c->lru_head[l] != CACHE_NIL)
		c->e[c->lru_head[l]].lru_prev = i;
	else
		c->lru_tail[l] = i;
	c->lru_head[l] = i;
}

static void
blocks_release(struct cache *c, uint32_t b)
{
	while (b != CACHE_NIL) {
		uint32_t next = c->block_next[b];
		c->block_next[b] = c->free_block;
		c->free_block = b;
		c->used_blocks--;
		b = next;
	}
}

static int
block_take(struct cache *c, uint32_t *out)
{
	if (c->free_block != CACHE_NIL) {
		*out = c->free_block;
		c->free_block = c->block_next[*out];
	} else if (c->block_mark < c->nblocks) {
		*out = c->block_mark++;
	} else
		return -1;
	c->block_next[*out] = CACHE_NIL;
	c->used_blocks++;
	return 0;
}

/* Compare an entry's stored domain (its data up to the first NUL). */
static int
domain_equal(const struct cache *c, const struct cache_entry *e, const char *d, size_t len)
{
	uint32_t b = e->block;
	size_t off = 0;

	if (e->domainlen != len)
		return 0;
	while (off < len && b != CACHE_NIL) {
		size_t n = len - off < CACHE_BLOCK ? len - off : CACHE_BLOCK;
		if (memcmp(c->block[b], d + off, n) != 0)
			return 0;
		off += n;
		b = c->block_next[b];
	}
	return off == len;
}

struct cache_entry *
cache_find(struct cache *c, const char *domain)
{
	size_t len = strlen(domain);
	uint32_t h = hash_name(domain, len);
	uint32_t i;

	if (c->nentries == 0)
		return NULL;
	for (i = c->bucket[h & (c->nbuckets - 1)] - 1; i != CACHE_NIL; i = c->e[i].chain) {
		struct cache_entry *e = &c->e[i];
		if (e->hash == h && domain_equal(c, e, domain, len)) {
			if (c->lru_head[lru_list(e)] != i) {
				lru_unlink(c, e);
				lru_push(c, e);
			}
			return e;
		}
	}
	return NULL;
}

void
cache_drop(struct cache *c, struct cache_entry *e)
{
	uint32_t i = idx(c, e);
	uint32_t *head = &c->bucket[e->hash & (c->nbuckets - 1)];

	if (*head == i + 1) {
		*head = e->chain + 1;   /* CACHE_NIL + 1 wraps to 0: empty */
	} else {
		uint32_t *p = &c->e[*head - 1].chain;
		while (*p != CACHE_NIL && *p != i)
			p = &c->e[*p].chain;
		if (*p == i)
			*p = e->chain;
	}
	lru_unlink(c, e);
	blocks_release(c, e->block);
	memset(e, 0, sizeof *e);
	e->kind = CE_FREE;
	e->chain = c->free_entry;
	c->free_entry = i;
	c->count--;
}

/* Make room by dropping one entry: no-policy entries first, then the least
 * recently used policy, but never a usable policy for a no-policy entry. */
static int
evict_one(struct cache *c, int for_policy, msec_t now)
{
	uint32_t i = c->lru_tail[0];

	if (i == CACHE_NIL) {
		i = c->lru_tail[1];
		if (i == CACHE_NIL)
			return -1;
		if (c->e[i].expires > now) {
			if (!for_policy)
				return -1;
			c->evicted_usable++;
		}
	}
	cache_drop(c, &c->e[i]);
	c->evictions++;
	return 0;
}

/* Store data (domain NUL mx NUL mx NUL ...) into fresh blocks. */
static int
store_data(struct cache *c, struct cache_entry *e, const char *domain,
    const char *mx, size_t mxlen, int for_policy, msec_t now)
{
	size_t dlen = strlen(domain), total = dlen + 1 + mxlen, off = 0;
	uint32_t need, *link = &e->block;

	if (total > CACHE_DATA_MAX || (mxlen > 0 && mx[mxlen - 1] != '\0'))
		return -1;
	need = (uint32_t)((total + CACHE_BLOCK - 1) / CACHE_BLOCK);
	if (need > c->nblocks)
		return -1;
	while (c->nblocks - c->used_blocks < need)
		if (evict_one(c, for_policy, now) < 0)
			return -1;
	e->block = CACHE_NIL;
	while (off < total) {
		uint32_t b = CACHE_NIL;
		size_t k, n = total - off < CACHE_BLOCK ? total - off : CACHE_BLOCK;
		(void)block_take(c, &b);   /* cannot fail: room checked above */
		*link = b;
		link = &c->block_next[b];
		for (k = 0; k < n; k++, off++)   /* the domain, its NUL, then mx */
			c->block[b][k] = off < dlen ? domain[off] : off == dlen ? '\0' :
			    mx[off - dlen - 1];
	}
	e->datalen = (uint16_t)total;
	e->domainlen = (uint16_t)dlen;
	return 0;
}

struct cache_entry *
cache_store(struct cache *c, const char *domain, enum cache_kind kind,
    const char *mx, size_t mxlen, msec_t now)
{
	struct cache_entry *e = cache_find(c, domain);
	uint32_t i;

	if (c->nentries == 0)
		return NULL;
	if (e != NULL) {
		/* keep the entry's slot and metadata; replace its data */
		lru_unlink(c, e);
		blocks_release(c, e->block);
		e->block = CACHE_NIL;
		e->kind = kind;
		if (store_data(c, e, domain, mx, mxlen, kind == CE_POLICY, now) < 0) {
			lru_push(c, e);     /* data-less entries are dropped below */
			cache_drop(c, e);
			return NULL;
		}
		lru_push(c, e);
		return e;
	}
	if (c->free_entry == CACHE_NIL && c->entry_mark == c->nentries)
		if (evict_one(c, kind == CE_POLICY, now) < 0)
			return NULL;
	if (c->free_entry != CACHE_NIL) {
		i = c->free_entry;
		c->free_entry = c->e[i].chain;
	} else
		i = c->entry_mark++;
	e = &c->e[i];
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->block = CACHE_NIL;
	e->lru_prev = e->lru_next = CACHE_NIL;
	if (store_data(c, e, domain, mx, mxlen, kind == CE_POLICY, now) < 0) {
		e->kind = CE_FREE;
		e->chain = c->free_entry;
		c->free_entry = i;
		return NULL;
	}
	e->hash = hash_name(domain, strlen(domain));
	e->chain = c->bucket[e->hash & (c->nbuckets - 1)] - 1;
	c->bucket[e->hash & (c->nbuckets - 1)] = i + 1;
	lru_push(c, e);
	c->count++;
	return e;
}

struct cache_entry *
cache_store_policy(struct cache *c, const char *domain, const struct policy *p,
    const char *id, int64_t fetched_wall, msec_t expires, msec_t now)
{
	struct cache_entry *e = cache_store(c, domain, CE_POLICY, p->mx, p->mxlen, now);

	if (e == NULL)
		return NULL;
	e->mode = (uint8_t)p->mode;
	e->max_age = p->max_age;
	e->fetched_wall = fetched_wall;
	e->expires = expires;
	strlcpy_m(e->id, id, sizeof e->id);
	e->failed_id[0] = '\0';
	e->retry_after = 0;
	return e;
}

/* Copy len bytes of an entry's data, from its start, into out. */
static size_t
data_copy(const struct cache *c, const struct cache_entry *e, char *out, size_t len)
{
	uint32_t b = e->block;
	size_t off = 0;

	while (off < len && b != CACHE_NIL) {
		size_t n = len - off < CACHE_BLOCK ? len - off : CACHE_BLOCK;
		memcpy(out + off, c->block[b], n);
		off += n;
		b = c->block_next[b];
	}
	return off;
}

size_t
cache_domain(const struct cache *c, const struct cache_entry *e, char out[DOMAIN_MAX + 1])
{
	size_t n = data_copy(c, e, out, e->domainlen);

	out[n] = '\0';
	return n;
}

int
cache_read(const struct cache *c, const struct cache_entry *e, char *buf, size_t cap,
    const char **mx, size_t *mxlen)
{
	size_t off, p;
	int n = 0;

	if (e->datalen > cap || e->datalen <= e->domainlen)
		return -1;
	off = data_copy(c, e, buf, e->datalen);
	if (off != e->datalen || buf[off - 1] != '\0')
		return -1;
	/* domain first, then the patterns */
	*mx = buf + e->domainlen + 1;
	*mxlen = off - e->domainlen - 1;
	for (p = e->domainlen + 1; p < off; p += strlen(buf + p) + 1)
		n++;
	return n;
}

int
cache_usable(const struct cache_entry *e, msec_t now)
{
	return e->kind == CE_POLICY && now < e->expires;
}
