/*
 * pool.c - a fixed pool of same-size slots with a free list, for client
 * connections and lookup jobs.  See daemon.h.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static int *
slot_index(const struct pool *p, void *s)
{
	return (int *)((char *)s + p->index_off);
}

int
pool_init(struct pool *p, int cap, size_t size, size_t index_off)
{
	memset(p, 0, sizeof *p);
	p->size = size;
	p->index_off = index_off;
	p->slot = calloc((size_t)cap, size);
	p->active = calloc((size_t)cap, sizeof *p->active);
	p->spare = calloc((size_t)cap, sizeof *p->spare);
	if (p->slot == NULL || p->active == NULL || p->spare == NULL) {
		pool_free(p);
		return -1;
	}
	p->cap = cap;
	return 0;
}

void
pool_free(struct pool *p)
{
	free(p->slot);
	free(p->active);
	free(p->spare);
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
