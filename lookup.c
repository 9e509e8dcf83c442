/*
 * lookup.c - one job per domain being looked up, shared by every request
 * that waits for it: TXT _mta-sts.<d> -> (fetch needed?) -> A + AAAA of
 * mta-sts.<d> -> HTTPS GET -> policy -> cache.  Job slots are allocated
 * once (each holds its DNS queries and its BearSSL fetch context) and
 * reused; a freed slot gives its big buffers back to the kernel.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <arpa/inet.h>

#include "daemon.h"

/* job_free and addr_done hand pages back by address range: q[] and fetch
 * must be the last fields of struct job, in that order (daemon.h). */
_Static_assert(offsetof(struct job, fetch) ==
    offsetof(struct job, q) + sizeof ((struct job *)0)->q,
    "struct job: fetch must follow q[]");
_Static_assert(sizeof (struct job) - offsetof(struct job, fetch) -
    sizeof (struct tls_fetch) < _Alignof(struct job),
    "struct job: fetch must be the last field");

int
lookup_init(struct daemon *d)
{
	d->nwarm = 0;
	return pool_init(&d->jobs, d->conf.max_lookups, sizeof (struct job),
	    offsetof(struct job, slot));
}

void
lookup_free(struct daemon *d)
{
	int k;

	for (k = 0; k < d->jobs.nactive; k++) {
		struct job *j = d->jobs.active[k];
		dns_query_abort(&j->q[0]);
		dns_query_abort(&j->q[1]);
		tls_fetch_abort(&j->fetch);
	}
	pool_free(&d->jobs);
}

static struct job *
job_find(struct daemon *d, const char *domain)
{
	int i;

	for (i = 0; i < d->jobs.nactive; i++) {
		struct job *j = d->jobs.active[i];
		if (!strcmp(j->domain, domain))
			return j;
	}
	return NULL;
}

int
lookup_fetching(const struct daemon *d)
{
	int k;

	for (k = 0; k < d->jobs.nactive; k++)
		if (((const struct job *)d->jobs.active[k])->state == JOB_FETCH)
			return 1;
	return 0;
}

/* Return the whole pages inside [p, p + len) to the kernel; they read
 * back as zeros.  Pages shared with neighbouring fields are kept. */
static void
release_pages(void *p, size_t len)
{
	uintptr_t page = JOB_PAGE;
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);

	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* The pages of a free slot's large buffers back to the kernel. */
static void
job_release_pages(struct job *j)
{
	release_pages(&j->q[0], (size_t)((char *)(j + 1) - (char *)&j->q[0]));
}

/* Hand the pages of the large buffers back, but not one by one in a burst:
 * a free slot on top of spare[] is the next one taken, and a madvise plus
 * the page faults of its reuse cost more than a lookup's own parsing.  So
 * up to JOB_WARM free slots keep their pages while lookups run (beyond
 * that, the one freed first hands them back); when none runs, every slot
 * does, and a burst leaves nothing of its peak in RSS. */
static void
job_free(struct daemon *d, struct job *j)
{
	int k;

	dns_query_abort(&j->q[0]);
	dns_query_abort(&j->q[1]);
	if (j->state == JOB_FETCH)
		tls_fetch_abort(&j->fetch);
	j->state = JOB_FREE;
	pool_put(&d->jobs, j);
	if (d->jobs.nactive == 0) {
		job_release_pages(j);
		for (k = 0; k < d->nwarm; k++)
			job_release_pages(d->warm[k]);
		d->nwarm = 0;
		return;
	}
	if (d->nwarm == JOB_WARM) {
		job_release_pages(d->warm[0]);
		memmove(d->warm, d->warm + 1, (JOB_WARM - 1) * sizeof d->warm[0]);
		d->nwarm--;
	}
	d->warm[d->nwarm++] = j;
}

struct job *
lookup_slot(struct daemon *d)
{
	struct job *j = pool_get(&d->jobs);
	int k;

	for (k = 0; j != NULL && k < d->nwarm; k++) {
		if (d->warm[k] == j) {
			memmove(d->warm + k, d->warm + k + 1,
			    (size_t)(d->nwarm - k - 1) * sizeof d->warm[0]);
			d->nwarm--;
			break;
		}
	}
	return j;
}

void
lookup_release(struct daemon *d, struct job *j)
{
	if (--j->refs == 0 && j->state == JOB_DONE)
		job_free(d, j);
}

/* The MTA-STS part begins: TXT _mta-sts.<domain> */
static void
txt_start(struct daemon *d, struct job *j)
{
	char qname[DOMAIN_MAX + 12];   /* too long a name fails the query */

	snprintf(qname, sizeof qname, "_mta-sts.%s", j->domain);
	j->state = JOB_TXT;
	dns_query_start(&j->q[0], &d->servers, qname, DNS_T_TXT, d->now,
	    d->now + (msec_t)j->zone->timeout * 1000);
}

struct job *
lookup_start(struct daemon *d, const char *domain, const struct zone *z,
    enum lookup_start_result *res)
{
	struct job *j = job_find(d, domain);

	if (j != NULL) {
		*res = j->state == JOB_DONE ? LOOKUP_JUST_DONE : LOOKUP_JOINED;
		return j->state == JOB_DONE ? NULL : j;
	}
	if ((j = lookup_slot(d)) == NULL) {
		*res = LOOKUP_NO_SLOT;
		return NULL;
	}
	*res = LOOKUP_STARTED;
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
	j->code[0] = '\0';
	j->failed = 0;
	j->used = 0;
	j->fail_wall = 0;
	j->nsteps = 0;
	j->pol.nmx = 0;
	j->dane = DANE_UNKNOWN;
	strlcpy_m(j->domain, domain, sizeof j->domain);
	snprintf(j->host, sizeof j->host, "mta-sts.%s", domain);
	/* An interface, not just a message: with job_done's "lookup done
	 * in" line it brackets every lookup at -v 3, and the end-to-end
	 * tests count the pairs to wait until the daemon is idle. */
	log_debug("%s: lookup started", domain);
	if (danejob_wanted(d, domain, z))
		danejob_start(d, j);
	else
		txt_start(d, j);
	return j;
}

/* ---- deciding what a TXT answer means ------------------------------------ */

enum fetch_need
lookup_need_fetch(const struct cache_entry *e, const char *id, int force,
    msec_t now, int64_t wall)
{
	if (e != NULL && !strcmp(e->failed_id, id) && now < e->retry_after)
		return FETCH_BACKING_OFF;  /* HTTP-14: this id failed recently */
	if (e == NULL || !cache_usable(e, now))
		return FETCH_NEEDED;
	if (strcmp(e->id, id) != 0 || force)
		return FETCH_NEEDED;    /* the policy changed, or a proactive refresh */
	if (wall - e->fetched_wall >= FRESH_AGE_SEC)
		return FETCH_NEEDED;    /* RFC 8461 10.2: refresh daily */
	if ((e->expires - now) < (msec_t)e->max_age * 1000 / 4)
		return FETCH_NEEDED;    /* nearing the end of max_age */
	return FETCH_NOT_NEEDED;
}

/* Revalidate after cache_grace; after failures back off, doubling from
 * cache_grace up to backoff_max, so a broken domain costs at most one
 * lookup per period however many requests name it. */
msec_t
lookup_check_wait(int cache_grace, int backoff_max, unsigned fails, int failed)
{
	msec_t wait = (msec_t)cache_grace * 1000, cap = (msec_t)backoff_max * 1000;
	unsigned k;

	if (!failed)
		return wait;
	k = fails < BACKOFF_DOUBLINGS ? fails : BACKOFF_DOUBLINGS;
	if (wait < BACKOFF_MIN_MS)
		wait = BACKOFF_MIN_MS;
	while (k-- > 1 && wait < cap)
		wait *= 2;
	return wait > cap ? cap : wait;
}

static void
schedule_check(struct daemon *d, const struct job *j, struct cache_entry *e, int failed)
{
	if (!failed)
		e->fails = 0;
	e->next_check = d->now + lookup_check_wait(d->conf.cache_grace, d->conf.backoff_max,
	    e->fails, failed);
	e->checked_wall = (uint32_t)wall_now();   /* for the control socket's dump */
	if (j->used)
		e->used_wall = e->checked_wall;
	d->cache_changes++;
}

/* One step of the lookup and how long it took, for -v 3 and -j */
static void job_step(struct job *j, const char *name, int64_t ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
job_step(struct job *j, const char *name, int64_t ms, const char *fmt, ...)
{
	struct job_step *st;
	va_list ap;

	if (j->nsteps == JOB_STEPS_MAX)
		return;
	st = &j->steps[j->nsteps++];
	st->name = name;
	st->ms = ms < 0 ? 0 : ms;
	va_start(ap, fmt);
	vsnprintf(st->result, sizeof st->result, fmt, ap);
	va_end(ap);
}

/* FNV-1a of the failure (its id and reason code, or its text), folded
 * to 16 bits; never 0, which means "none logged" */
static uint16_t
why_hash(const char *a, const char *b)
{
	uint32_t h = 2166136261u;

	for (; *a != '\0'; a++)
		h = (h ^ (uint8_t)*a) * 16777619u;
	for (; *b != '\0'; b++)
		h = (h ^ (uint8_t)*b) * 16777619u;
	h ^= h >> 16;
	return (uint16_t)h != 0 ? (uint16_t)h : 1;
}

size_t
lookup_failure_fields(const struct job *j, char *out, size_t cap)
{
	char t[UTC_TIME_MAX], x[UTC_TIME_MAX];
	int n;

	utc_time(j->fail_wall, t);
	utc_time(j->kept_expires, x);
	n = snprintf(out, cap, "time=%s domain=%s id=%s result=%s reason=%s ip=%s cached=%s%s%s",
	    t, j->domain, j->id, http_class_str(j->fail_cls), j->reason,
	    j->fail_ip[0] != '\0' ? j->fail_ip : "-",
	    j->kept_mode < 0 ? "none" : policy_mode_str((enum sts_mode)j->kept_mode),
	    j->kept_mode < 0 ? "" : " expires=", j->kept_mode < 0 ? "" : x);
	return n < 0 ? 0 : (size_t)n;
}

/* Log a failure once per domain and failure (RPT-3): again only when it
 * changes or after a success (e: the domain's cache entry, or NULL).  A
 * failed fetch is one line with the RPT-3 fields after "; failure: ";
 * a warning when a cached policy other than mode none is kept (CACHE-9). */
static void
report_failure(struct job *j, struct cache_entry *e, const struct cache_entry *kept,
    msec_t now)
{
	uint16_t h = j->code[0] != '\0' ? why_hash(j->id, j->code) : why_hash(j->why, "");
	char f[JOB_WHY_MAX];

	if (e != NULL && e->why_hash == h) {
		log_debug("%s: still no new policy: %s", j->domain, j->why);
		return;
	}
	if (e != NULL)
		e->why_hash = h;
	if (j->code[0] == '\0') {      /* no TXT, DNS failure: nothing to report */
		log_info("%s: no policy: %s", j->domain, j->why);
		return;
	}
	lookup_failure_fields(j, f, sizeof f);
	if (kept == NULL)
		log_info("%s: no policy: %s; failure: %s", j->domain, j->why, f);
	else if (kept->mode == STS_NONE)
		log_debug("%s: %s; cached mode none kept; failure: %s", j->domain, j->why, f);
	else
		log_warnx("%s: policy refresh failed: %s; cached %s policy (id %s) kept, "
		    "expires in %ld s; failure: %s", j->domain, j->why,
		    policy_mode_str((enum sts_mode)kept->mode), kept->id,
		    (long)((kept->expires - now) / 1000), f);
}

static void
job_done(struct daemon *d, struct job *j)
{
	int k;

	j->state = JOB_DONE;
	dns_query_abort(&j->q[0]);
	dns_query_abort(&j->q[1]);
	d->wake_clients = 1;
	for (k = 0; k < j->nsteps; k++)
		log_debug("%s: step %s: %lld ms: %s", j->domain, j->steps[k].name,
		    (long long)j->steps[k].ms, j->steps[k].result);
	/* see lookup_start: keep the wording of this line */
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
	j->failed = 1;
	if (e != NULL && cache_usable(e, d->now)) {
		log_debug("%s: %s; keeping the cached policy (id %s)", j->domain, why, e->id);
	} else {
		e = cache_store(&d->cache, j->domain, CE_NOPOLICY, NULL, 0, d->now);
		report_failure(j, e, NULL, d->now);
	}
	if (e != NULL) {
		if (failed) {
			e->fails++;
			e->fail_class = FETCH_OK;   /* not a fetch: dumped as dns-error */
		}
		schedule_check(d, j, e, failed);
	}
	job_done(d, j);
}

/* why: the explanation (NULL: the reason code is all there is) */
static void
finish_fetch_failed(struct daemon *d, struct job *j, enum fetch_class cls, const char *reason,
    const char *why)
{
	struct cache_entry *e = cache_find(&d->cache, j->domain);
	const struct tls_fetch *f = &j->fetch;

	d->metrics.fetches[cls]++;      /* once per failed fetch, logged or not */
	snprintf(j->code, sizeof j->code, "%s %s", http_class_str(cls), reason);
	snprintf(j->why, sizeof j->why, "%s", why != NULL && why[0] != '\0' ? why : j->code);
	j->failed = 1;
	j->fail_wall = wall_now();
	j->fail_cls = cls;
	strlcpy_m(j->reason, reason, sizeof j->reason);
	/* the fetch's fields are this job's only once it got that far */
	strlcpy_m(j->fail_ip, j->state == JOB_FETCH && f->t_connect != 0 ? f->peer : "",
	    sizeof j->fail_ip);
	j->kept_mode = -1;
	if (e != NULL && cache_usable(e, d->now)) {
		j->kept_mode = e->mode;
		j->kept_expires = e->fetched_wall + e->max_age;
		report_failure(j, e, e, d->now);
	} else {
		e = cache_store(&d->cache, j->domain, CE_NOPOLICY, NULL, 0, d->now);
		report_failure(j, e, NULL, d->now);
	}
	if (e != NULL) {
		e->fails++;
		e->fail_class = (uint8_t)cls;
		schedule_check(d, j, e, 1);
		/* HTTP-14: the same id is not fetched again for 5 minutes */
		strlcpy_m(e->failed_id, j->id, sizeof e->failed_id);
		e->retry_after = e->next_check > d->now + LOOKUP_BACKOFF_MS ?
		    e->next_check : d->now + LOOKUP_BACKOFF_MS;
	}
	job_done(d, j);
}

/* A valid policy in j->pol, fetched at fetched_wall: by this lookup, or
 * by another instance when it came from the shared cache (shared). */
static void
finish_policy(struct daemon *d, struct job *j, int64_t fetched_wall, int shared)
{
	const struct policy *p = &j->pol;
	struct cache_entry *e;
	int64_t left = fetched_wall + (int64_t)p->max_age - wall_now();

	j->have_policy = 1;
	if (shared) {
		snprintf(j->why, sizeof j->why, "policy from the shared cache (id %s, mode %s, "
		    "max_age %u, fetched %lld s ago)", j->id, policy_mode_str(p->mode), p->max_age,
		    (long long)(wall_now() - fetched_wall));
	} else {
		d->metrics.fetches[FETCH_OK]++;
		snprintf(j->why, sizeof j->why, "policy fetched (id %s, mode %s, max_age %u)",
		    j->id, policy_mode_str(p->mode), p->max_age);
		redis_put(d, j->domain, j->id, fetched_wall, p->max_age, j->fetch.http.body,
		    j->fetch.http.body_len);
	}
	if ((e = cache_find(&d->cache, j->domain)) != NULL)
		e->why_hash = 0;        /* a later failure is news again */
	log_info("%s: %s", j->domain, j->why);
	if (p->max_age == 0) {          /* answers this lookup, is not cached */
		if ((e = cache_find(&d->cache, j->domain)) != NULL)
			cache_drop(&d->cache, e);
		job_done(d, j);
		return;
	}
	e = cache_store_policy(&d->cache, j->domain, p, j->id, fetched_wall,
	    d->now + (msec_t)left * 1000, d->now);
	if (e == NULL)
		log_warnx("%s: policy could not be cached (cache full)", j->domain);
	else
		schedule_check(d, j, e, 0);
	job_done(d, j);
}

static void fetch_begin(struct daemon *d, struct job *j);

static void
txt_done(struct daemon *d, struct job *j)
{
	const struct dns_result *r = &j->q[0].result;
	struct cache_entry *e;
	struct txt_error te;
	char txtname[DOMAIN_MAX + 12], why[JOB_WHY_MAX];
	int64_t ms = d->now - j->q[0].started;

	snprintf(txtname, sizeof txtname, "_mta-sts.%s", j->domain);
	if (r->status == DNS_FAIL) {
		dns_query_explain(&j->q[0], d->now, why, sizeof why);
		job_step(j, "TXT query", ms, "%s", why);
		finish_without_policy(d, j, why, 1);
		return;
	}
	if (r->status != DNS_DATA) {
		job_step(j, "TXT query", ms, "%s", r->rcode == 3 ? "NXDOMAIN" : "no TXT record");
		snprintf(why, sizeof why, "no TXT record %s", txtname);
		finish_without_policy(d, j, why, 0);
		return;
	}
	job_step(j, "TXT query", ms, "%d TXT record%s", r->ntxt, r->ntxt == 1 ? "" : "s");
	if (policy_txt_select(r, j->id, &te) != TXT_FOUND) {
		policy_txt_explain(&te, txtname, why, sizeof why);
		finish_without_policy(d, j, why, 0);
		return;
	}
	e = cache_find(&d->cache, j->domain);
	switch (lookup_need_fetch(e, j->id, j->force, d->now, wall_now())) {
	case FETCH_NOT_NEEDED:
		if (e != NULL)
			schedule_check(d, j, e, 0);
		snprintf(j->why, sizeof j->why, "TXT id %s: cached policy still current", j->id);
		job_done(d, j);
		return;
	case FETCH_BACKING_OFF:
		/* the id whose fetch failed is still published: the failure
		 * stands, and the next check waits twice as long */
		e->fails++;
		schedule_check(d, j, e, 1);
		snprintf(j->why, sizeof j->why, "TXT id %s: fetch failed recently, backing off", j->id);
		job_done(d, j);
		return;
	case FETCH_NEEDED:
		break;
	}
	/* another instance may have fetched it: ask the shared cache first */
	if (redis_get(d, j)) {
		j->state = JOB_SHARED;
		j->shared_asked = d->now;
		return;
	}
	fetch_begin(d, j);
}

/* Resolve the policy host, then fetch (addr_done) */
static void
fetch_begin(struct daemon *d, struct job *j)
{
	char qname[DOMAIN_MAX + 2];
	msec_t deadline;

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
		char why[JOB_WHY_MAX], dns[JOB_STEP_TEXT];
		if (j->q[0].result.status == DNS_FAIL) {
			dns_query_explain(&j->q[0], d->now, dns, sizeof dns);
			snprintf(why, sizeof why, "no address for %s: %s", j->host, dns);
		} else {
			snprintf(why, sizeof why, "no address (A or AAAA record) for %s", j->host);
		}
		finish_fetch_failed(d, j, FETCH_ERR_FETCH, "policy-host-not-resolved", why);
		return;
	}
	/* The DNS part is over: give its pages back before the fetch touches
	 * its own, so a lookup's peak is the larger of the two, not the sum. */
	release_pages(&j->q[0], sizeof j->q);
	j->q[0].fd = j->q[1].fd = -1;
	j->state = JOB_FETCH;
	tls_fetch_start(&j->fetch, &d->anchors, j->host, addrs, n, d->now,
	    d->now + (msec_t)j->zone->timeout * 1000);
}

/* Is a record from the shared cache as good as a fetch now?  NULL, or
 * why not.  It must carry the id DNS just gave, and be a policy this
 * lookup would not fetch again (lookup_need_fetch); a proactive refresh
 * takes it only when it is newer than what is cached here. */
static const char *
shared_usable(struct daemon *d, struct job *j, const struct shared_record *rec)
{
	struct cache_entry probe, *e;
	int64_t wall = wall_now();

	if (strcmp(rec->id, j->id) != 0)
		return "a record of another policy id";
	memset(&probe, 0, sizeof probe);
	probe.kind = CE_POLICY;
	probe.max_age = j->pol.max_age;
	probe.fetched_wall = rec->fetched_wall;
	probe.expires = d->now + (rec->fetched_wall + (int64_t)j->pol.max_age - wall) * 1000;
	strlcpy_m(probe.id, rec->id, sizeof probe.id);
	if (lookup_need_fetch(&probe, j->id, 0, d->now, wall) != FETCH_NOT_NEEDED)
		return "the record is too old to use";
	e = cache_find(&d->cache, j->domain);
	if (j->force && e != NULL && e->kind == CE_POLICY && rec->fetched_wall <= e->fetched_wall)
		return "the record is not newer than the cached policy";
	return NULL;
}

void
lookup_shared_result(struct daemon *d, struct job *j, const uint8_t *v, size_t len,
    const char *err)
{
	struct shared_record rec;
	struct policy_error pe;
	const char *why;
	int64_t ms = d->now - j->shared_asked;

	if (j->state != JOB_SHARED)
		return;
	if (v == NULL) {
		d->redis.lookups[err != NULL ? REDIS_FAILED : REDIS_MISS]++;
		job_step(j, "shared cache", ms, "%s", err != NULL ? err : "no record");
		fetch_begin(d, j);
		return;
	}
	if (shared_record_parse(v, len, wall_now(), &rec, &why) == 0) {
		if (policy_parse(rec.body, rec.bodylen, &j->pol, &pe) < 0)
			why = "its policy is invalid";
		else if ((why = shared_usable(d, j, &rec)) == NULL) {
			d->redis.lookups[REDIS_HIT]++;
			job_step(j, "shared cache", ms, "policy fetched by another instance");
			finish_policy(d, j, rec.fetched_wall, 1);
			return;
		}
	}
	d->redis.lookups[REDIS_IGNORED]++;
	log_warnx("%s: shared cache record ignored: %s", j->domain, why);
	job_step(j, "shared cache", ms, "record ignored: %s", why);
	fetch_begin(d, j);
}

/* The fetch's steps: connect, TLS handshake, HTTP response */
static void
fetch_steps(struct daemon *d, struct job *j)
{
	const struct tls_fetch *f = &j->fetch;
	const char *fail = f->why[0] != '\0' ? f->why : f->reason;

	if (f->t_connect == 0) {
		job_step(j, "connect", d->now - f->started, "%s", fail);
		return;
	}
	job_step(j, "connect", f->t_connect - f->started, "connected to %s", f->peer);
	if (f->t_handshake == 0) {
		job_step(j, "TLS handshake", d->now - f->t_connect, "%s", fail);
		return;
	}
	job_step(j, "TLS handshake", f->t_handshake - f->t_connect, "ok");
	if (f->result == FETCH_OK)
		job_step(j, "HTTP response", d->now - f->t_handshake, "HTTP %d, %zu bytes",
		    f->http.status_code, f->http.body_len);
	else
		job_step(j, "HTTP response", d->now - f->t_handshake, "%s", fail);
}

static void
fetch_done(struct daemon *d, struct job *j)
{
	struct tls_fetch *f = &j->fetch;
	struct policy_error pe;
	char reason[TLS_REASON_MAX], why[JOB_WHY_MAX], *sp;
	int64_t us;
	int rc;

	fetch_steps(d, j);
	if (f->result != FETCH_OK) {
		tls_fetch_abort(f);
		finish_fetch_failed(d, j, f->result, f->reason, f->why);
		return;
	}
	us = mono_usec();
	rc = policy_parse(f->http.body, f->http.body_len, &j->pol, &pe);
	us = mono_usec() - us;
	if (rc < 0) {
		policy_error_explain(&pe, why, sizeof why);
		job_step(j, "parse", us / 1000, "%s", why);
		tls_fetch_abort(f);
		if (pe.line > 0)
			snprintf(reason, sizeof reason, "policy:%s:line%d", pe.reason, pe.line);
		else
			snprintf(reason, sizeof reason, "policy:%s", pe.reason);
		while ((sp = strchr(reason, ' ')) != NULL)
			*sp = '-';          /* a reason code is one word */
		finish_fetch_failed(d, j, FETCH_ERR_POLICY, reason, why);
		return;
	}
	job_step(j, "parse", us / 1000, "mode %s, %d mx, max_age %u",
	    policy_mode_str(j->pol.mode), j->pol.nmx, j->pol.max_age);
	tls_fetch_abort(f);
	finish_policy(d, j, wall_now(), 0);
}

static void
addr_step(struct daemon *d, struct job *j, int which)
{
	const struct dns_query *q = &j->q[which];
	const char *name = which == 0 ? "A query" : "AAAA query";
	char why[JOB_STEP_TEXT];

	if (q->result.status == DNS_DATA) {
		job_step(j, name, d->now - q->started, "%d address%s", q->result.naddr,
		    q->result.naddr == 1 ? "" : "es");
	} else if (q->result.status == DNS_FAIL) {
		dns_query_explain(q, d->now, why, sizeof why);
		job_step(j, name, d->now - q->started, "%s", why);
	} else {
		job_step(j, name, d->now - q->started, "no address");
	}
}

int
lookup_poll(const struct job *j, int which, int *fd, short *events, msec_t *deadline)
{
	switch (j->state) {
	case JOB_TXT:
		if (which != 0)
			return 0;
		*fd = dns_query_poll(&j->q[0], events, deadline);
		return 1;
	case JOB_ADDR:
		if (!j->qbusy[which])
			return 0;       /* this query already finished */
		*fd = dns_query_poll(&j->q[which], events, deadline);
		return 1;
	case JOB_FETCH:
		if (which != 0)
			return 0;
		*fd = tls_fetch_poll(&j->fetch, events, deadline);
		return 1;
	case JOB_DANE:
		return danejob_poll(j, which, fd, events, deadline);
	default:
		return 0;
	}
}

/* A query finished: add what it counted to the metrics. */
static void
dns_count(struct daemon *d, const struct dns_query *q)
{
	d->metrics.dns_queries += q->nsent;
	d->metrics.dns_timeouts += q->ntimeout;
	d->metrics.dns_tcp += q->ntcp;
}

void
lookup_step(struct daemon *d, struct job *j, int which, short revents)
{
	switch (j->state) {
	case JOB_TXT:
		if (which == 0 && dns_query_step(&j->q[0], revents, d->now)) {
			dns_count(d, &j->q[0]);
			txt_done(d, j);
		}
		break;
	case JOB_ADDR:
		if (j->qbusy[which] && dns_query_step(&j->q[which], revents, d->now)) {
			dns_count(d, &j->q[which]);
			addr_step(d, j, which);
			j->qbusy[which] = 0;
			if (!j->qbusy[0] && !j->qbusy[1])
				addr_done(d, j);
		}
		break;
	case JOB_FETCH:
		if (which == 0 && tls_fetch_step(&j->fetch, revents, d->now))
			fetch_done(d, j);
		break;
	case JOB_DANE:
		danejob_step(d, j, which, revents);
		break;
	default:
		break;
	}
}

void
lookup_dane_done(struct daemon *d, struct job *j)
{
	const struct cache_entry *e;

	/* a DANE answer, or TEMP for a failure: MTA-STS is not asked
	 * (other zones that need it look it up themselves, see CE_DANE);
	 * a proactive refresh (force) still refreshes the policy */
	if (!j->force && (j->dane == DANE_SOME || j->dane == DANE_ALL ||
	    (j->dane == DANE_FAILED && j->zone->dane_failure == 0))) {
		job_done(d, j);
		return;
	}
	e = cache_find(&d->cache, j->domain);
	if (!j->force && lookup_cache_use(e, d->now) == CACHED_FRESH) {
		snprintf(j->why, sizeof j->why, "cached MTA-STS state still current");
		job_done(d, j);
		return;
	}
	txt_start(d, j);
}

enum lookup_cache_use
lookup_cache_use(const struct cache_entry *e, msec_t now)
{
	if (e == NULL || e->kind == CE_DANE)
		return CACHED_NONE;     /* CE_DANE: MTA-STS never looked up */
	if (e->kind == CE_POLICY && !cache_usable(e, now))
		return CACHED_EXPIRED;
	/* a no-policy entry answers NOTFOUND until its next check too */
	return now >= e->next_check ? CACHED_RECHECK : CACHED_FRESH;
}

int
lookup_cached(struct daemon *d, const char *domain, const struct zone *z)
{
	struct cache_entry *e = cache_find(&d->cache, domain);
	enum lookup_start_result res;
	int n;

	if (e != NULL)                  /* socketmap requests only: in use */
		e->used_wall = (uint32_t)wall_now();
	if (z->dane && (n = danejob_cached(d, e, domain, z)) >= 0)
		return n;               /* DANE decides (DANE-1) */
	switch (lookup_cache_use(e, d->now)) {
	case CACHED_NONE:
		return 0;
	case CACHED_EXPIRED:
		log_info("%s: cached policy (id %s) expired", domain, e->id);
		cache_drop(&d->cache, e);
		d->cache_changes++;
		return 0;
	case CACHED_RECHECK:
		/* revalidate in the background; a running or just finished
		 * job for the domain already does */
		if (lookup_start(d, domain, z, &res) == NULL && res == LOOKUP_NO_SLOT)
			log_debug("%s: no free lookup slot for revalidation", domain);
		return 1;
	case CACHED_FRESH:
		break;
	}
	return 1;
}

int
lookup_in_use(uint32_t used_wall, int unused_after, int64_t wall)
{
	return unused_after == 0 || wall - (int64_t)used_wall < unused_after;
}

int
lookup_refresh_due(const struct cache_entry *e, int64_t age, msec_t now, int64_t wall)
{
	return e->kind == CE_POLICY && cache_usable(e, now) &&
	    wall - e->fetched_wall >= age && now >= e->retry_after;
}

/* Proactive refresh (like the reference's proactive_policy_fetching):
 * policies fetched more than interval/grace_ratio ago are fetched again in
 * the background, at most proactive_concurrency at once and never more
 * than half the lookup slots, so requests always find a slot.  Policies
 * no socketmap request asked for in refresh_unused_after seconds are left
 * alone (CACHE-16): they stay cached until they expire or are evicted. */
void
lookup_proactive(struct daemon *d)
{
	int64_t age = d->conf.proactive_interval / d->conf.proactive_grace_ratio;
	int unused = d->conf.refresh_unused_after < 0 ? d->conf.proactive_interval :
	    d->conf.refresh_unused_after;
	msec_t period = age * 500 < PROACTIVE_TICK_MIN_MS ?
	    PROACTIVE_TICK_MIN_MS : age * 500;   /* twice per age */
	int64_t wall = wall_now();
	int running = 0, limit, k;

	if (!d->conf.proactive_fetch)
		return;
	if (d->proactive_cursor == CACHE_NIL) {
		if (d->now < d->proactive_next)
			return;
		d->proactive_cursor = 0;
		d->proactive_next = d->now + period;
	}
	for (k = 0; k < d->jobs.nactive; k++)
		running += ((struct job *)d->jobs.active[k])->force;
	limit = d->conf.proactive_concurrency < d->jobs.cap / 2 ?
	    d->conf.proactive_concurrency : d->jobs.cap / 2;
	if (limit < 1)
		limit = 1;
	for (; d->proactive_cursor < d->cache.entry_mark; d->proactive_cursor++) {
		struct cache_entry *e = &d->cache.e[d->proactive_cursor];
		char domain[DOMAIN_MAX + 1];
		enum lookup_start_result res;
		struct job *j;

		if (!lookup_refresh_due(e, age, d->now, wall))
			continue;
		if (!lookup_in_use(e->used_wall, unused, wall)) {
			/* once per entry and sweep, and only when one is due */
			if (log_enabled(LOG_LVL_DEBUG)) {
				cache_domain(&d->cache, e, domain);
				log_debug("%s: no proactive refresh: not asked for in %lld s",
				    domain, (long long)(wall - e->used_wall));
			}
			continue;
		}
		if (running >= limit)
			return;             /* resumed when a job ends */
		cache_domain(&d->cache, e, domain);
		if ((j = lookup_start(d, domain, &d->conf.zone[0], &res)) == NULL) {
			if (res == LOOKUP_NO_SLOT)
				return;     /* resumed when a job ends */
			continue;           /* just looked up */
		}
		if (res == LOOKUP_JOINED)
			continue;           /* being looked up */
		j->force = 1;
		running++;
		log_debug("%s: proactive refresh (policy %lld s old)", domain,
		    (long long)(wall - e->fetched_wall));
	}
	d->proactive_cursor = CACHE_NIL;
}

void
lookup_rezone(struct daemon *d, const struct config *nc)
{
	int k;

	for (k = 0; k < d->jobs.nactive; k++) {
		struct job *j = d->jobs.active[k];
		const struct zone *z = conf_zone(nc, j->zone->name, strlen(j->zone->name));
		j->zone = &d->conf.zone[z - nc->zone];
	}
}
