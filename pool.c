/*
 * pool.c - a fixed pool of same-size slots with a free list, for client
 * connections and lookup jobs.  See daemon.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static int *
slot_index(const struct pool *p, void *s)
{
	return (int *)((char *)s + p->index_off);
}

/* One allocation: active[cap], spare[cap], then the slots (16-aligned). */
int
pool_init(struct pool *p, int cap, size_t size, size_t index_off)
{
	size_t lists = 2 * (size_t)cap * sizeof (void *);

	memset(p, 0, sizeof *p);
	if (cap < 0 || (cap > 0 && size > (SIZE_MAX - lists) / (size_t)cap))
		return -1;
	if ((p->active = calloc(1, lists + (size_t)cap * size + 1)) == NULL)
		return -1;
	p->spare = p->active + cap;
	p->slot = (char *)(p->spare + cap);
	p->size = size;
	p->index_off = index_off;
	p->cap = cap;
	return 0;
}

void
pool_free(struct pool *p)
{
	free(p->active);
	memset(p, 0, sizeof *p);
}

void *
pool_get(struct pool *p)
{
	void *s;

	if (p->nspare > 0)
		s = p->spare[--p->nspare];
	else if (p->mark < p->cap)
		s = p->slot + (size_t)p->mark++ * p->size;
	else
		return NULL;
	*slot_index(p, s) = p->nactive;
	p->active[p->nactive++] = s;
	return s;
}

void
pool_put(struct pool *p, void *s)
{
	int i = *slot_index(p, s);

	p->active[i] = p->active[--p->nactive];
	*slot_index(p, p->active[i]) = i;
	p->spare[p->nspare++] = s;
}
