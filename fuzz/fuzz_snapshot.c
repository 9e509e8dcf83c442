/* fuzz_snapshot.c - the snapshot loader on arbitrary files: never crashes,
 * and every record it hands out is valid and loads into a cache. */
#include <stdlib.h>
#include <string.h>
#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cache cache;

static void
check(void *arg, const struct snap_record *r)
{
	char domain[DOMAIN_MAX + 1];
	const char *mx[MX_MAX];
	char answer[16384];
	int i;

	(void)arg;
	if (key_normalize(r->domain, strlen(r->domain), domain) != KEY_OK ||
	    strcmp(domain, r->domain) != 0)
		abort();
	if (r->dane != DANE_UNKNOWN) {  /* a "D" record: a DANE decision */
		if (r->dane > DANE_FAILED || r->dane_until <= 1800000000LL ||
		    r->dane_until > 1800000000LL + DANE_TTL_MAX + SNAP_CLOCK_SKEW)
			abort();
		return;
	}
	if (r->id[0] == '\0' || strlen(r->id) > TXT_ID_MAX || r->pol.nmx > MX_MAX ||
	    r->pol.max_age > MAX_AGE_MAX)
		abort();
	for (i = 0; i < r->pol.nmx; i++)
		mx[i] = r->pol.mx[i];
	if (r->pol.mode == STS_ENFORCE &&
	    policy_answer(r->pol.mode, r->pol.nmx, mx, 0, 1, answer, sizeof answer) == 0)
		abort();        /* a loaded enforce policy must produce an answer */
	(void)cache_store(&cache, r->domain, CE_POLICY, mx, r->pol.nmx, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_stats st;

	if (cache.nentries == 0 && cache_init(&cache, 64) < 0)
		abort();
	(void)snapshot_parse((const char *)data, size, 1800000000LL, check, NULL, &st);
	return 0;
}
