/*
 * lookup.c - one job per domain being looked up, shared by every request
 * that waits for it: TXT _mta-sts.<d> -> (fetch needed?) -> A + AAAA of
 * mta-sts.<d> -> HTTPS GET -> policy -> cache.  Job slots are allocated
 * once (each holds its DNS queries and its BearSSL fetch context) and
 * reused; a freed slot gives its big buffers back to the kernel.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <arpa/inet.h>

#include "mtasts.h"

int
lookup_init(struct daemon *d)
{
	d->njobs = d->conf.max_lookups;
	d->jobs = calloc((size_t)d->njobs, sizeof *d->jobs);
	d->job_active = calloc((size_t)d->njobs, sizeof *d->job_active);
	d->job_spare = calloc((size_t)d->njobs, sizeof *d->job_spare);
	return d->jobs == NULL || d->job_active == NULL || d->job_spare == NULL ? -1 : 0;
}

struct job *
lookup_find(struct daemon *d, const char *domain)
{
	int i;

	for (i = 0; i < d->njob_active; i++)
		if (!strcmp(d->job_active[i]->domain, domain))
			return d->job_active[i];
	return NULL;
}

/* Return the whole pages inside [p, p + len) to the kernel; they read
 * back as zeros.  Pages shared with neighbouring fields are kept. */
static void
release_pages(void *p, size_t len)
{
	uintptr_t page = 4096;
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);

	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static void
job_free(struct daemon *d, struct job *j)
{

	dns_query_abort(&j->q[0]);
	dns_query_abort(&j->q[1]);
	if (j->state == JOB_FETCH)
		tls_fetch_abort(&j->fetch);
	j->state = JOB_FREE;
	d->job_active[j->slot] = d->job_active[--d->njob_active];
	d->job_active[j->slot]->slot = j->slot;
	d->job_spare[d->njob_spare++] = j;
	/* Hand the pages of the large buffers back: a burst of lookups must
	 * not leave its peak in RSS for the rest of the daemon's life. */
	release_pages(&j->q[0], (size_t)((char *)(j + 1) - (char *)&j->q[0]));
}

void
lookup_release(struct daemon *d, struct job *j)
{
	if (--j->refs == 0 && j->state == JOB_DONE)
		job_free(d, j);
}

struct job *
lookup_start(struct daemon *d, const char *domain, const struct zone *z)
{
	struct job *j = lookup_find(d, domain);
	char qname[DOMAIN_MAX + 2];

	if (j != NULL)
		return j->state == JOB_DONE ? NULL : j;
	if (d->njob_spare > 0)
		j = d->job_spare[--d->njob_spare];
	else if (d->job_mark < d->njobs)
		j = &d->jobs[d->job_mark++];
	else
		return NULL;
	j->slot = d->njob_active;
	d->job_active[d->njob_active++] = j;
	/* a slot's sockets are closed when it ends: none is open here */
	j->q[0].fd = j->q[1].fd = j->fetch.fd = -1;
	j->refs = 0;
	j->qbusy[0] = j->qbusy[1] = 0;
	j->zone = z;
	j->started = d->now;
	j->have_policy = 0;
	j->force = 0;
	j->id[0] = '\0';
	j->why[0] = '\0';
	j->pol.nmx = 0;
	strlcpy_m(j->domain, domain, sizeof j->domain);
	snprintf(j->host, sizeof j->host, "mta-sts.%s", domain);
	snprintf(qname, sizeof qname, "_mta-sts.%s", domain);
	j->state = JOB_TXT;
	dns_query_start(&j->q[0], &d->servers, qname, DNS_T_TXT, d->now,
	    d->now + (msec_t)z->timeout * 1000);
	log_debug("%s: lookup started", domain);
	return j;
}

/* ---- deciding what a TXT answer means ------------------------------------ */

enum fetch_need { FETCH_NOT_NEEDED, FETCH_NEEDED, FETCH_BACKING_OFF };

/* Is a fetch needed for TXT id, given what is cached? */
static enum fetch_need
need_fetch(struct daemon *d, const struct cache_entry *e, const char *id, int force)
{
	int64_t age;

	if (e != NULL && !strcmp(e->failed_id, id) && d->now < e->retry_after)
		return FETCH_BACKING_OFF;  /* HTTP-14: this id failed recently */
	if (e == NULL || !cache_usable(e, d->now))
		return FETCH_NEEDED;
	if (strcmp(e->id, id) != 0 || force)
		return FETCH_NEEDED;    /* the policy changed, or a proactive refresh */
	age = wall_now() - e->fetched_wall;
	if (age >= FRESH_AGE_SEC)
		return FETCH_NEEDED;    /* RFC 8461 10.2: refresh daily */
	if ((e->expires - d->now) < (msec_t)e->max_age * 1000 / 4)
		return FETCH_NEEDED;    /* nearing the end of max_age */
	return FETCH_NOT_NEEDED;
}

/* Revalidate after cache_grace; after failures back off, doubling from
 * cache_grace up to backoff_max, so a broken domain costs at most one
 * lookup per period however many requests name it. */
static void
schedule_check(struct daemon *d, struct cache_entry *e, int failed)
{
	msec_t wait = (msec_t)d->conf.cache_grace * 1000;

	if (!failed) {
		e->fails = 0;
	} else {
		int k = e->fails < 30 ? e->fails : 30;
		if (wait < 1000)
			wait = 1000;
		while (--k > 0 && wait < (msec_t)d->conf.backoff_max * 1000)
			wait *= 2;
		if (wait > (msec_t)d->conf.backoff_max * 1000)
			wait = (msec_t)d->conf.backoff_max * 1000;
	}
	e->next_check = d->now + wait;
	d->cache_changes++;
}

static void
job_done(struct daemon *d, struct job *j)
{
	j->state = JOB_DONE;
	dns_query_abort(&j->q[0]);
	dns_query_abort(&j->q[1]);
	d->wake_clients = 1;
	log_debug("%s: lookup done in %lld ms: %s", j->domain,
	    (long long)(d->now - j->started), j->why);
	if (j->refs == 0)
		job_free(d, j);
}

/* Nothing new learned (no TXT, DNS failure): keep a usable policy, else
 * remember "no policy" so lookups do not cost a DNS query each. */
static void
finish_without_policy(struct daemon *d, struct job *j, const char *why, int failed)
{
	struct cache_entry *e = cache_find(&d->cache, j->domain);

	snprintf(j->why, sizeof j->why, "%s", why);
	if (e != NULL && cache_usable(e, d->now)) {
		log_debug("%s: %s; keeping the cached policy (id %s)", j->domain, why, e->id);
	} else {
		e = cache_store(&d->cache, j->domain, CE_NOPOLICY, NULL, 0, d->now);
	}
	if (e != NULL) {
		if (failed)
			e->fails++;
		schedule_check(d, e, failed);
	}
	job_done(d, j);
}

static void
finish_fetch_failed(struct daemon *d, struct job *j, enum fetch_class cls, const char *reason)
{
	struct cache_entry *e = cache_find(&d->cache, j->domain);

	snprintf(j->why, sizeof j->why, "policy fetch failed: %s %s",
	    http_class_str(cls), reason);
	if (e != NULL && cache_usable(e, d->now)) {
		long left = (long)((e->expires - d->now) / 1000);
		if (e->mode == STS_NONE)
			log_debug("%s: id %s: %s %s; cached mode none kept", j->domain, j->id,
			    http_class_str(cls), reason);
		else
			log_warnx("%s: policy refresh failed (id %s): %s %s; cached %s policy "
			    "kept, expires in %ld s", j->domain, j->id, http_class_str(cls),
			    reason, policy_mode_str((enum sts_mode)e->mode), left);
	} else {
		log_info("%s: policy fetch failed (id %s): %s %s", j->domain, j->id,
		    http_class_str(cls), reason);
		e = cache_store(&d->cache, j->domain, CE_NOPOLICY, NULL, 0, d->now);
	}
	if (e != NULL) {
		e->fails++;
		e->fail_class = (uint8_t)cls;
		schedule_check(d, e, 1);
		/* HTTP-14: the same id is not fetched again for 5 minutes */
		strlcpy_m(e->failed_id, j->id, sizeof e->failed_id);
		e->retry_after = e->next_check > d->now + LOOKUP_BACKOFF_MS ?
		    e->next_check : d->now + LOOKUP_BACKOFF_MS;
	}
	job_done(d, j);
}

static void
finish_policy(struct daemon *d, struct job *j)
{
	const struct policy *p = &j->pol;
	const char *mx[MX_MAX];
	struct cache_entry *e;
	int i;

	for (i = 0; i < p->nmx; i++)
		mx[i] = p->mx[i];
	j->have_policy = 1;
	snprintf(j->why, sizeof j->why, "policy fetched (id %s, mode %s, max_age %u)",
	    j->id, policy_mode_str(p->mode), p->max_age);
	log_info("%s: %s", j->domain, j->why);
	if (p->max_age == 0) {          /* answers this lookup, is not cached */
		if ((e = cache_find(&d->cache, j->domain)) != NULL)
			cache_drop(&d->cache, e);
		job_done(d, j);
		return;
	}
	e = cache_store(&d->cache, j->domain, CE_POLICY, mx, p->nmx, d->now);
	if (e == NULL) {
		log_warnx("%s: policy could not be cached (cache full)", j->domain);
	} else {
		e->mode = (uint8_t)p->mode;
		e->max_age = p->max_age;
		e->fetched_wall = wall_now();
		e->expires = d->now + (msec_t)p->max_age * 1000;
		schedule_check(d, e, 0);
		e->failed_id[0] = '\0';
		e->retry_after = 0;
		strlcpy_m(e->id, j->id, sizeof e->id);
	}
	job_done(d, j);
}

static void
txt_done(struct daemon *d, struct job *j)
{
	const struct dns_result *r = &j->q[0].result;
	struct cache_entry *e;
	char qname[DOMAIN_MAX + 2];
	msec_t deadline;

	if (r->status == DNS_FAIL) {
		finish_without_policy(d, j, "TXT lookup failed (DNS error or timeout)", 1);
		return;
	}
	if (r->status != DNS_DATA || policy_txt_select(r, j->id) != TXT_FOUND) {
		finish_without_policy(d, j, r->status == DNS_DATA ?
		    "no valid STSv1 TXT record" : "no TXT record", 0);
		return;
	}
	e = cache_find(&d->cache, j->domain);
	switch (need_fetch(d, e, j->id, j->force)) {
	case FETCH_NOT_NEEDED:
		if (e != NULL)
			schedule_check(d, e, 0);
		snprintf(j->why, sizeof j->why, "TXT id %s: cached policy still current", j->id);
		job_done(d, j);
		return;
	case FETCH_BACKING_OFF:
		/* the id whose fetch failed is still published: the failure
		 * stands, and the next check waits twice as long */
		e->fails++;
		schedule_check(d, e, 1);
		snprintf(j->why, sizeof j->why, "TXT id %s: fetch failed recently, backing off", j->id);
		job_done(d, j);
		return;
	case FETCH_NEEDED:
		break;
	}
	/* the fetch gets a fresh timeout of its own (HTTP-13) */
	deadline = d->now + (msec_t)j->zone->timeout * 1000;
	snprintf(qname, sizeof qname, "%s", j->host);
	dns_query_start(&j->q[0], &d->servers, qname, DNS_T_A, d->now, deadline);
	dns_query_start(&j->q[1], &d->servers, qname, DNS_T_AAAA, d->now, deadline);
	j->qbusy[0] = j->qbusy[1] = 1;
	j->state = JOB_ADDR;
}

static void
addr_done(struct daemon *d, struct job *j)
{
	struct tls_addr addrs[2 * DNS_ADDR_MAX];
	int n = 0, q, i;

	/* IPv4 first: it is what most policy hosts serve and what tests use */
	for (q = 0; q < 2; q++) {
		const struct dns_result *r = &j->q[q].result;
		if (r->status != DNS_DATA)
			continue;
		for (i = 0; i < r->naddr && n < 2 * DNS_ADDR_MAX; i++) {
			struct tls_addr *a = &addrs[n++];
			memset(a, 0, sizeof *a);
			if (r->addr[i].family == AF_INET) {
				struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr, r->addr[i].addr, 4);
				a->len = sizeof *sin;
			} else {
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr, r->addr[i].addr, 16);
				a->len = sizeof *sin6;
			}
		}
	}
	dns_query_abort(&j->q[0]);
	dns_query_abort(&j->q[1]);
	if (n == 0) {
		finish_fetch_failed(d, j, FETCH_ERR_FETCH, "policy-host-not-resolved");
		return;
	}
	/* The DNS part is over: give its pages back before the fetch touches
	 * its own, so a lookup's peak is the larger of the two, not the sum. */
	release_pages(&j->q[0], (size_t)((char *)&j->fetch - (char *)&j->q[0]));
	j->q[0].fd = j->q[1].fd = -1;
	j->state = JOB_FETCH;
	tls_fetch_start(&j->fetch, &d->anchors, j->host, addrs, n, d->now,
	    d->now + (msec_t)j->zone->timeout * 1000);
}

static void
fetch_done(struct daemon *d, struct job *j)
{
	struct tls_fetch *f = &j->fetch;
	struct policy_error pe;
	char reason[96];

	if (f->result != FETCH_OK) {
		tls_fetch_abort(f);
		finish_fetch_failed(d, j, f->result, f->reason);
		return;
	}
	if (policy_parse(f->http.body, f->http.body_len, &j->pol, &pe) < 0) {
		tls_fetch_abort(f);
		if (pe.line > 0)
			snprintf(reason, sizeof reason, "policy:%s:line%d", pe.reason, pe.line);
		else
			snprintf(reason, sizeof reason, "policy:%s", pe.reason);
		finish_fetch_failed(d, j, FETCH_ERR_POLICY, reason);
		return;
	}
	tls_fetch_abort(f);
	finish_policy(d, j);
}

int
lookup_poll(const struct job *j, int which, short *events, msec_t *deadline)
{
	switch (j->state) {
	case JOB_TXT:
		return which == 0 ? dns_query_poll(&j->q[0], events, deadline) : -2;
	case JOB_ADDR:
		if (!j->qbusy[which])
			return -2;      /* this query already finished */
		return dns_query_poll(&j->q[which], events, deadline);
	case JOB_FETCH:
		return which == 0 ? tls_fetch_poll(&j->fetch, events, deadline) : -2;
	default:
		return -2;
	}
}

void
lookup_step(struct daemon *d, struct job *j, int which, short revents)
{
	switch (j->state) {
	case JOB_TXT:
		if (which == 0 && dns_query_step(&j->q[0], revents, d->now))
			txt_done(d, j);
		break;
	case JOB_ADDR:
		if (j->qbusy[which] && dns_query_step(&j->q[which], revents, d->now)) {
			j->qbusy[which] = 0;
			if (!j->qbusy[0] && !j->qbusy[1])
				addr_done(d, j);
		}
		break;
	case JOB_FETCH:
		if (which == 0 && tls_fetch_step(&j->fetch, revents, d->now))
			fetch_done(d, j);
		break;
	default:
		break;
	}
}

int
lookup_cached(struct daemon *d, const char *domain, const struct zone *z)
{
	struct cache_entry *e = cache_find(&d->cache, domain);

	if (e == NULL)
		return 0;
	if (e->kind == CE_POLICY && !cache_usable(e, d->now)) {
		log_info("%s: cached policy (id %s) expired", domain, e->id);
		cache_drop(&d->cache, e);
		d->cache_changes++;
		return 0;
	}
	if (d->now >= e->next_check && lookup_find(d, domain) == NULL) {
		if (lookup_start(d, domain, z) == NULL)
			log_debug("%s: no free lookup slot for revalidation", domain);
	}
	return 1;
}

/* Proactive refresh (like the reference's proactive_policy_fetching):
 * policies fetched more than interval/grace_ratio ago are fetched again in
 * the background, at most proactive_concurrency at once and never more
 * than half the lookup slots, so requests always find a slot. */
msec_t
lookup_proactive(struct daemon *d)
{
	int64_t age = d->conf.proactive_interval / d->conf.proactive_grace_ratio;
	msec_t period = age * 500 < 1000 ? 1000 : age * 500;   /* twice per age */
	int64_t wall = wall_now();
	int running = 0, limit, k;

	if (!d->conf.proactive_fetch)
		return INT64_MAX;
	if (d->proactive_cursor == CACHE_NIL) {
		if (d->now < d->proactive_next)
			return d->proactive_next;
		d->proactive_cursor = 0;
		d->proactive_next = d->now + period;
	}
	for (k = 0; k < d->njob_active; k++)
		running += d->job_active[k]->force;
	limit = d->conf.proactive_concurrency < d->njobs / 2 ?
	    d->conf.proactive_concurrency : d->njobs / 2;
	if (limit < 1)
		limit = 1;
	for (; d->proactive_cursor < d->cache.entry_mark; d->proactive_cursor++) {
		struct cache_entry *e = &d->cache.e[d->proactive_cursor];
		char domain[DOMAIN_MAX + 1];
		struct job *j;
		uint32_t b, off;

		if (e->kind != CE_POLICY || !cache_usable(e, d->now) ||
		    wall - e->fetched_wall < age || d->now < e->retry_after)
			continue;
		if (running >= limit)
			return d->proactive_next;   /* resumed when a job ends */
		/* the domain is the first string of the entry's data */
		for (b = e->block, off = 0; b != CACHE_NIL && off <= e->domainlen;
		    b = d->cache.block_next[b], off += CACHE_BLOCK)
			memcpy(domain + off, d->cache.block[b],
			    e->domainlen + 1 - off < CACHE_BLOCK ? e->domainlen + 1 - off : CACHE_BLOCK);
		if (lookup_find(d, domain) != NULL)
			continue;
		if ((j = lookup_start(d, domain, &d->conf.zone[0])) == NULL)
			return d->proactive_next;
		j->force = 1;
		running++;
		log_debug("%s: proactive refresh (policy %lld s old)", domain,
		    (long long)(wall - e->fetched_wall));
	}
	d->proactive_cursor = CACHE_NIL;
	return d->proactive_next;
}
