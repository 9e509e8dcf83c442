/*
 * danejob.c - DANE before MTA-STS (DANE-1..6): a lookup job's DANE phase
 * and what a dane zone answers.  The phase asks a validating resolver on
 * loopback with DO=1 and trusts its AD bit (DANE-2): the MX RRset, then
 * for each MX host A and AAAA, and for hosts with authenticated addresses
 * the TLSA RRset at _25._tcp.<host> (DANE-3).  The decision (dane.c)
 * goes to the domain's cache entry, with the smallest TTL seen, so
 * cached domains are answered at once and refreshed in the background.
 */
#include <stdio.h>
#include <string.h>

#include "daemon.h"

enum { DP_MX, DP_ADDR, DP_TLSA };

static uint32_t
mono_sec(msec_t now)
{
	return (uint32_t)(now / 1000);
}

int
danejob_wanted(struct daemon *d, const char *domain, const struct zone *z)
{
	const struct cache_entry *e;

	if (!z->dane || !d->dane_ok)
		return 0;
	e = cache_find(&d->cache, domain);
	return e == NULL || e->dane == DANE_UNKNOWN ||
	    (int32_t)(e->dane_until - mono_sec(d->now)) <= 0;
}

static void
ttl_min(struct job *j, const struct dns_result *r)
{
	uint32_t t = r->status == DNS_DATA ? r->ttl : DANE_NEG_TTL;

	if (t < j->dttl)
		j->dttl = t;
}

/* The phase is over: the decision into the cache entry (a CE_DANE entry
 * when the domain has none), then lookup.c goes on. */
static void
dane_finish(struct daemon *d, struct job *j, enum dane_state st)
{
	struct cache_entry *e = cache_find(&d->cache, j->domain);
	uint32_t ttl = st == DANE_FAILED ? DANE_FAIL_TTL : j->dttl;

	dns_query_abort(&j->q[0]);
	dns_query_abort(&j->q[1]);
	if (ttl < DANE_TTL_MIN)
		ttl = DANE_TTL_MIN;
	if (ttl > DANE_TTL_MAX)
		ttl = DANE_TTL_MAX;
	j->dane = (uint8_t)st;
	if (e == NULL)
		e = cache_store(&d->cache, j->domain, CE_DANE, NULL, 0, d->now);
	if (e != NULL) {
		/* news only when it changes; most domains have no DANE */
		if (e->dane != st)
			log_msg(st == DANE_NONE ? LOG_LVL_DEBUG : LOG_LVL_INFO, "%s: DANE %s%s%s",
			    j->domain, dane_state_str(st),
			    j->dane_why[0] != '\0' ? ": " : "", j->dane_why);
		e->dane = (uint8_t)st;
		e->dane_until = mono_sec(d->now) + ttl;
		d->cache_changes++;
	}
	if (st == DANE_FAILED)
		snprintf(j->why, sizeof j->why, "dnssec lookup failed: %s", j->dane_why);
	else
		snprintf(j->why, sizeof j->why, "DANE: %s (%d MX host%s%s, ttl %u s)",
		    dane_state_str(st), j->nhost, j->nhost == 1 ? "" : "s",
		    j->hmore ? " examined, more left out" : "", ttl);
	lookup_dane_done(d, j);
}

/* A DNSSEC query failed (SERVFAIL from the validator, timeout): DANE-5 */
static void
dane_fail(struct daemon *d, struct job *j, const struct dns_query *q)
{
	char why[JOB_STEP_TEXT], name[48];

	dns_query_explain(q, d->now, why, sizeof why);
	/* one line without control characters: it ends up in an answer */
	log_safe(q->qname, strnlen(q->qname, 40), name, sizeof name);
	snprintf(j->dane_why, sizeof j->dane_why, "%.47s: %.46s", name, why);
	dane_finish(d, j, DANE_FAILED);
}

/* Ask about host hi: its addresses, or go to the decision after the last */
static void
host_next(struct daemon *d, struct job *j)
{
	if (j->hi >= j->nhost) {
		dane_finish(d, j, dane_decide(j->hres, j->nhost, j->hmore));
		return;
	}
	j->dphase = DP_ADDR;
	dns_query_start_dnssec(&j->q[0], &d->servers, j->dhost[j->hi], DNS_T_A, d->now,
	    j->ddeadline);
	dns_query_start_dnssec(&j->q[1], &d->servers, j->dhost[j->hi], DNS_T_AAAA, d->now,
	    j->ddeadline);
	j->qbusy[0] = j->qbusy[1] = 1;
}

void
danejob_start(struct daemon *d, struct job *j)
{
	/* the DANE phase leaves a quarter of the time, so that a failure
	 * is answered before the request's own deadline */
	j->ddeadline = d->now + (msec_t)j->zone->timeout * 750;
	j->dttl = UINT32_MAX;
	j->nhost = j->hi = j->hmore = 0;
	j->dane_why[0] = '\0';
	j->state = JOB_DANE;
	j->dphase = DP_MX;
	j->qbusy[0] = 1;
	j->qbusy[1] = 0;
	dns_query_start_dnssec(&j->q[0], &d->servers, j->domain, DNS_T_MX, d->now,
	    j->ddeadline);
}

static void
mx_done(struct daemon *d, struct job *j)
{
	const struct dns_result *r = &j->q[0].result;
	int more;

	if (r->status == DNS_FAIL) {
		dane_fail(d, j, &j->q[0]);
		return;
	}
	ttl_min(j, r);
	if (!r->ad) {                  /* an insecure MX RRset: no DANE */
		snprintf(j->dane_why, sizeof j->dane_why, "%s not authenticated (AD=0)",
		    r->status == DNS_DATA ? "MX RRset" : "no-MX answer");
		dane_finish(d, j, DANE_NONE);
		return;
	}
	if (r->status == DNS_DATA) {
		/* the null MX (RFC 7505) leaves no host: no DANE either */
		j->nhost = (uint8_t)dane_mx_hosts(r, j->dhost, DANE_HOSTS_MAX, &more);
		j->hmore = (uint8_t)more;
		if (j->nhost == 0)
			snprintf(j->dane_why, sizeof j->dane_why, "null MX: no host");
	} else {                        /* no MX: the domain is the host */
		strlcpy_m(j->dhost[0], j->domain, sizeof j->dhost[0]);
		j->nhost = 1;
	}
	host_next(d, j);
}

static void
addr_done(struct daemon *d, struct job *j)
{
	char qname[DOMAIN_MAX + 10];
	int k, data = 0, insecure = 0;

	for (k = 0; k < 2; k++) {
		const struct dns_result *r = &j->q[k].result;
		if (r->status == DNS_FAIL) {
			dane_fail(d, j, &j->q[k]);
			return;
		}
		ttl_min(j, r);
		data += r->status == DNS_DATA;
		insecure += r->status == DNS_DATA && !r->ad;
	}
	if (data == 0 || insecure > 0) {
		j->hres[j->hi++] = data == 0 ? DH_NO_ADDR : DH_ADDR_INSECURE;
		host_next(d, j);
		return;
	}
	j->dphase = DP_TLSA;
	snprintf(qname, sizeof qname, "_25._tcp.%s", j->dhost[j->hi]);
	dns_query_start_dnssec(&j->q[0], &d->servers, qname, DNS_T_TLSA, d->now, j->ddeadline);
	j->qbusy[0] = 1;
}

static void
tlsa_done(struct daemon *d, struct job *j)
{
	const struct dns_result *r = &j->q[0].result;
	uint8_t h = DH_NO_TLSA;
	int k;

	if (r->status == DNS_FAIL) {
		dane_fail(d, j, &j->q[0]);
		return;
	}
	ttl_min(j, r);
	if (!r->ad) {
		h = DH_TLSA_INSECURE;
	} else if (r->status == DNS_DATA) {
		h = DH_UNUSABLE;
		for (k = 0; k < r->ntxt; k++)
			if (dane_tlsa_usable(r->txtbuf + r->txt[k].off, r->txt[k].len))
				h = DH_USABLE;
	}
	j->hres[j->hi++] = h;
	host_next(d, j);
}

int
danejob_poll(const struct job *j, int which, int *fd, short *events, msec_t *deadline)
{
	if (!j->qbusy[which])
		return 0;
	*fd = dns_query_poll(&j->q[which], events, deadline);
	return 1;
}

void
danejob_step(struct daemon *d, struct job *j, int which, short revents)
{
	struct dns_query *q = &j->q[which];

	if (!j->qbusy[which] || !dns_query_step(q, revents, d->now))
		return;
	d->metrics.dns_queries += q->nsent;
	d->metrics.dns_timeouts += q->ntimeout;
	d->metrics.dns_tcp += q->ntcp;
	j->qbusy[which] = 0;
	if (j->qbusy[0] || j->qbusy[1])
		return;                 /* the other address query is still out */
	if (j->dphase == DP_MX)
		mx_done(d, j);
	else if (j->dphase == DP_ADDR)
		addr_done(d, j);
	else
		tlsa_done(d, j);
}

int
danejob_cached(struct daemon *d, struct cache_entry *e, const char *domain,
    const struct zone *z)
{
	enum lookup_start_result res;
	int decides;

	if (!d->dane_ok)
		return -1;
	if (e == NULL || e->dane == DANE_UNKNOWN)
		return 0;               /* never known: the lookup waits */
	decides = e->dane == DANE_SOME || e->dane == DANE_ALL ||
	    (e->dane == DANE_FAILED && z->dane_failure == 0);
	if ((int32_t)(e->dane_until - mono_sec(d->now)) <= 0) {
		/* stale: the last decision stands while it is refreshed */
		if (lookup_start(d, domain, z, &res) == NULL && res == LOOKUP_NO_SLOT)
			log_debug("%s: no free lookup slot for the DANE refresh", domain);
		if (!decides)
			return e->kind == CE_DANE ? 0 : -1;
	}
	return decides ? 1 : -1;
}

size_t
danejob_answer(struct daemon *d, const struct request *r, char *out, size_t cap)
{
	const struct cache_entry *e;
	const char *why = "";
	int st = DANE_UNKNOWN, n;

	if (!d->dane_ok)
		return 0;
	if (r->kind == REQ_JOB && r->job->state == JOB_DONE && r->job->dane != DANE_UNKNOWN) {
		st = r->job->dane;
		why = r->job->dane_why;
	} else if ((r->kind == REQ_JOB || r->kind == REQ_CACHE) &&
	    (e = cache_find(&d->cache, r->domain)) != NULL) {
		st = e->dane;
	}
	switch (st) {
	case DANE_ALL:
		n = snprintf(out, cap, "OK dane-only");
		break;
	case DANE_SOME:
		n = snprintf(out, cap, "OK dane");
		break;
	case DANE_FAILED:
		if (d->conf.zone[r->zone].dane_failure != 0)
			return 0;       /* dane_failure = sts */
		/* DANE-5; the reason has no control characters (log_safe) */
		n = snprintf(out, cap, "TEMP dnssec lookup failed%s%s", why[0] ? ": " : "", why);
		break;
	case DANE_UNKNOWN:
		/* joined a lookup that a dane = no zone started: no DANE
		 * decision yet, so no MTA-STS answer either (DANE-1);
		 * smtp_tls_security_level applies this once */
		if (r->kind != REQ_JOB)
			return 0;
		n = snprintf(out, cap, "NOTFOUND ");
		break;
	default:
		return 0;
	}
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

void
danejob_print(const struct job *j)
{
	int i;

	if (j->dane == DANE_UNKNOWN)
		return;
	printf("dane: %s%s%s\n", dane_state_str((enum dane_state)j->dane),
	    j->dane_why[0] ? ": " : "", j->dane_why);
	for (i = 0; i < j->nhost && i < j->hi; i++)
		printf("dane host: %s: %s\n", j->dhost[i],
		    dane_host_str((enum dane_host)j->hres[i]));
	if (j->hmore)
		printf("dane host: (more than %d MX hosts: the rest count as without DANE)\n",
		    DANE_HOSTS_MAX);
}
