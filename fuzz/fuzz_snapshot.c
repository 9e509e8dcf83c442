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
	static char answer[NS_REPLY_MAX + 1];
	struct policy_reply pr;

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
	if (r->id[0] == '\0' || strlen(r->id) > TXT_ID_MAX || r->pol.mxlen > sizeof r->pol.mx ||
	    r->pol.max_age > MAX_AGE_MAX)
		abort();
	memset(&pr, 0, sizeof pr);
	pr.mode = r->pol.mode;
	pr.max_age = r->pol.max_age;
	pr.mx = r->pol.mx;
	pr.mxlen = r->pol.mxlen;
	pr.domain = r->domain;
	pr.sni = pr.tlsrpt = 1;
	if (r->pol.mode == STS_ENFORCE && policy_answer(&pr, answer, sizeof answer) == 0)
		abort();        /* a loaded enforce policy must produce an answer */
	(void)cache_store(&cache, r->domain, CE_POLICY, r->pol.mx, r->pol.mxlen, 0);
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
