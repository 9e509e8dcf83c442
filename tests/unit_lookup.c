/* unit_lookup.c - the decisions of lookup.c that are pure given the clock:
 * when the cache answers and when TXT is checked again, when a policy is
 * fetched, the failure backoff, when a proactive refresh is due; the
 * lookup_poll convention; and when a finished job's pages go back. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "daemon.h"
#include "unit.h"

#define MIN 60000           /* ms */

static void
policy_entry(struct cache_entry *e, const char *id, msec_t expires, uint32_t max_age,
    int64_t fetched_wall)
{
	memset(e, 0, sizeof *e);
	e->kind = CE_POLICY;
	e->mode = STS_ENFORCE;
	strcpy(e->id, id);
	e->expires = expires;
	e->max_age = max_age;
	e->fetched_wall = fetched_wall;
}

static void
test_cache_use(void)
{
	struct cache_entry e;

	CHECK_INT(lookup_cache_use(NULL, 0), CACHED_NONE);
	policy_entry(&e, "a", 100000, 1000, 0);
	e.next_check = 5000;
	CHECK_INT(lookup_cache_use(&e, 0), CACHED_FRESH);
	CHECK_INT(lookup_cache_use(&e, 4999), CACHED_FRESH);
	CHECK_INT(lookup_cache_use(&e, 5000), CACHED_RECHECK);   /* TXT again */
	CHECK_INT(lookup_cache_use(&e, 99999), CACHED_RECHECK);
	CHECK_INT(lookup_cache_use(&e, 100000), CACHED_EXPIRED);  /* max_age over */
	/* "no policy" answers NOTFOUND from the cache until its next check */
	memset(&e, 0, sizeof e);
	e.kind = CE_NOPOLICY;
	e.next_check = 5000;
	CHECK_INT(lookup_cache_use(&e, 4999), CACHED_FRESH);
	CHECK_INT(lookup_cache_use(&e, 5000), CACHED_RECHECK);
	CHECK_INT(lookup_cache_use(&e, 1000000000), CACHED_RECHECK);
}

static void
test_need_fetch(void)
{
	struct cache_entry e;
	int64_t wall = 1700000000;

	CHECK_INT(lookup_need_fetch(NULL, "a", 0, 0, wall), FETCH_NEEDED);
	memset(&e, 0, sizeof e);
	e.kind = CE_NOPOLICY;
	CHECK_INT(lookup_need_fetch(&e, "a", 0, 0, wall), FETCH_NEEDED);

	/* max_age 1000 s, fetched now, expires in 1000 s */
	policy_entry(&e, "a", 1000 * 1000, 1000, wall);
	CHECK_INT(lookup_need_fetch(&e, "a", 0, 0, wall), FETCH_NOT_NEEDED);
	CHECK_INT(lookup_need_fetch(&e, "b", 0, 0, wall), FETCH_NEEDED);  /* new id */
	CHECK_INT(lookup_need_fetch(&e, "a", 1, 0, wall), FETCH_NEEDED);  /* proactive */
	CHECK_INT(lookup_need_fetch(&e, "a", 0, 1000 * 1000, wall), FETCH_NEEDED); /* expired */
	/* the last quarter of max_age: refetch before it runs out */
	CHECK_INT(lookup_need_fetch(&e, "a", 0, 750 * 1000, wall), FETCH_NOT_NEEDED);
	CHECK_INT(lookup_need_fetch(&e, "a", 0, 750 * 1000 + 1, wall), FETCH_NEEDED);
	/* RFC 8461 10.2: at least daily, however long max_age is */
	policy_entry(&e, "a", (msec_t)1000000 * 1000, 1000000, wall - FRESH_AGE_SEC + 1);
	CHECK_INT(lookup_need_fetch(&e, "a", 0, 0, wall), FETCH_NOT_NEEDED);
	policy_entry(&e, "a", (msec_t)1000000 * 1000, 1000000, wall - FRESH_AGE_SEC);
	CHECK_INT(lookup_need_fetch(&e, "a", 0, 0, wall), FETCH_NEEDED);

	/* HTTP-14: an id whose fetch failed is not fetched again before
	 * retry_after, whatever else holds; another id is */
	policy_entry(&e, "a", 1000 * 1000, 1000, wall);
	strcpy(e.failed_id, "b");
	e.retry_after = 300000;
	CHECK_INT(lookup_need_fetch(&e, "b", 0, 0, wall), FETCH_BACKING_OFF);
	CHECK_INT(lookup_need_fetch(&e, "b", 1, 299999, wall), FETCH_BACKING_OFF);
	CHECK_INT(lookup_need_fetch(&e, "b", 0, 300000, wall), FETCH_NEEDED);
	CHECK_INT(lookup_need_fetch(&e, "c", 0, 0, wall), FETCH_NEEDED);
	CHECK_INT(lookup_need_fetch(&e, "a", 0, 0, wall), FETCH_NOT_NEEDED);
	memset(&e, 0, sizeof e);
	e.kind = CE_NOPOLICY;
	strcpy(e.failed_id, "b");
	e.retry_after = 300000;
	CHECK_INT(lookup_need_fetch(&e, "b", 0, 0, wall), FETCH_BACKING_OFF);
}

static void
test_check_wait(void)
{
	/* success: cache_grace, whatever failed before */
	CHECK_INT(lookup_check_wait(60, 3600, 0, 0), MIN);
	CHECK_INT(lookup_check_wait(60, 3600, 9, 0), MIN);
	/* failures: cache_grace, then doubling, capped at backoff_max */
	CHECK_INT(lookup_check_wait(60, 3600, 1, 1), MIN);
	CHECK_INT(lookup_check_wait(60, 3600, 2, 1), 2 * MIN);
	CHECK_INT(lookup_check_wait(60, 3600, 3, 1), 4 * MIN);
	CHECK_INT(lookup_check_wait(60, 3600, 6, 1), 32 * MIN);
	CHECK_INT(lookup_check_wait(60, 3600, 7, 1), 60 * MIN);
	CHECK_INT(lookup_check_wait(60, 3600, 65535, 1), 60 * MIN);
	/* cache_grace 0: failures still wait, from BACKOFF_MIN_MS */
	CHECK_INT(lookup_check_wait(0, 3600, 0, 0), 0);
	CHECK_INT(lookup_check_wait(0, 3600, 1, 1), BACKOFF_MIN_MS);
	CHECK_INT(lookup_check_wait(0, 3600, 3, 1), 4 * BACKOFF_MIN_MS);
	/* the cap wins over cache_grace after a failure */
	CHECK_INT(lookup_check_wait(60, 10, 1, 1), 10000);
	/* doublings are bounded: no overflow with a huge cap */
	CHECK_INT(lookup_check_wait(1, 2000000000, 65535, 1),
	    (msec_t)1000 << (BACKOFF_DOUBLINGS - 1));
}

static void
test_refresh_due(void)
{
	struct cache_entry e;
	int64_t wall = 1700000000;

	policy_entry(&e, "a", 100000, 1000, wall - 3600);
	CHECK_INT(lookup_refresh_due(&e, 3600, 0, wall), 1);
	CHECK_INT(lookup_refresh_due(&e, 3601, 0, wall), 0);     /* not old enough */
	CHECK_INT(lookup_refresh_due(&e, 3600, 100000, wall), 0);/* expired */
	e.retry_after = 5000;                                   /* backing off */
	CHECK_INT(lookup_refresh_due(&e, 3600, 4999, wall), 0);
	CHECK_INT(lookup_refresh_due(&e, 3600, 5000, wall), 1);
	e.kind = CE_NOPOLICY;
	CHECK_INT(lookup_refresh_due(&e, 0, 5000, wall), 0);
}

/* CACHE-16: a policy Postfix no longer asks for is not refreshed */
static void
test_in_use(void)
{
	int64_t wall = 1700000000;

	CHECK_INT(lookup_in_use((uint32_t)wall, 3600, wall), 1);        /* asked now */
	CHECK_INT(lookup_in_use((uint32_t)(wall - 3599), 3600, wall), 1);
	CHECK_INT(lookup_in_use((uint32_t)(wall - 3600), 3600, wall), 0);/* a full period ago */
	CHECK_INT(lookup_in_use((uint32_t)(wall - 90000), 3600, wall), 0);
	CHECK_INT(lookup_in_use(0, 3600, wall), 0);                     /* never asked */
	/* 0: every policy is refreshed, asked for or not */
	CHECK_INT(lookup_in_use(0, 0, wall), 1);
	CHECK_INT(lookup_in_use((uint32_t)(wall - 90000), 0, wall), 1);
	/* the clock stepped back: asked "in the future" counts as in use */
	CHECK_INT(lookup_in_use((uint32_t)(wall + 10), 3600, wall), 1);
}

/* RPT-3: the fields of a failure's log line and query mode */
static void
test_failure_fields(void)
{
	static struct job j;
	char out[JOB_WHY_MAX];
	size_t n;

	strlcpy_m(j.domain, "example.com", sizeof j.domain);
	strlcpy_m(j.id, "20261202", sizeof j.id);
	j.fail_wall = 1764691200;               /* 2025-12-02T16:00:00Z */
	j.fail_cls = FETCH_ERR_WEBPKI;
	strlcpy_m(j.reason, "BR_ERR_X509_EXPIRED", sizeof j.reason);
	strlcpy_m(j.fail_ip, "192.0.2.7", sizeof j.fail_ip);
	j.kept_mode = -1;
	n = lookup_failure_fields(&j, out, sizeof out);
	CHECK_STR(out, "time=2025-12-02T16:00:00Z domain=example.com id=20261202 "
	    "result=sts-webpki-invalid reason=BR_ERR_X509_EXPIRED ip=192.0.2.7 cached=none");
	CHECK_INT(n, strlen(out));
	/* not connected, an enforce policy kept until its expiry */
	j.fail_ip[0] = '\0';
	j.fail_cls = FETCH_ERR_FETCH;
	strlcpy_m(j.reason, "http-status-404", sizeof j.reason);
	j.kept_mode = STS_ENFORCE;
	j.kept_expires = 1764777600;
	lookup_failure_fields(&j, out, sizeof out);
	CHECK_STR(out, "time=2025-12-02T16:00:00Z domain=example.com id=20261202 "
	    "result=sts-policy-fetch-error reason=http-status-404 ip=- cached=enforce "
	    "expires=2025-12-03T16:00:00Z");
	j.kept_mode = STS_NONE;
	j.fail_cls = FETCH_ERR_POLICY;
	strlcpy_m(j.reason, "policy:missing-max_age", sizeof j.reason);
	lookup_failure_fields(&j, out, sizeof out);
	CHECK(strstr(out, " result=sts-policy-invalid reason=policy:missing-max_age ip=- "
	    "cached=none expires=2025-12-03T16:00:00Z") != NULL);
	/* cut to the buffer, the full length returned */
	n = lookup_failure_fields(&j, out, sizeof out);
	CHECK_INT(lookup_failure_fields(&j, out, 10), n);
	CHECK_STR(out, "time=2025");
}

static void
test_poll(void)
{
	static struct job j;
	msec_t dl = 7;
	short ev = 3;
	int fd = 5;

	/* parts with nothing running report 0 and leave the outputs alone */
	j.state = JOB_DONE;
	CHECK_INT(lookup_poll(&j, 0, &fd, &ev, &dl), 0);
	j.state = JOB_FREE;
	CHECK_INT(lookup_poll(&j, 1, &fd, &ev, &dl), 0);
	j.state = JOB_TXT;
	CHECK_INT(lookup_poll(&j, 1, &fd, &ev, &dl), 0);
	j.state = JOB_FETCH;
	CHECK_INT(lookup_poll(&j, 1, &fd, &ev, &dl), 0);
	j.state = JOB_ADDR;
	j.qbusy[0] = 1;
	j.qbusy[1] = 0;
	CHECK_INT(lookup_poll(&j, 1, &fd, &ev, &dl), 0);
	CHECK(fd == 5 && ev == 3 && dl == 7);
}

/* how many of the whole pages in the body buffer of j are resident */
static int
body_pages_resident(struct job *j)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)j->fetch.body + pg - 1) & ~(pg - 1);
	uintptr_t hi = ((uintptr_t)j->fetch.body + sizeof j->fetch.body) & ~(pg - 1);
	unsigned char vec[64];
	size_t i;
	int n = 0;

	if (hi <= lo || (hi - lo) / pg > sizeof vec || mincore((void *)lo, hi - lo, vec) < 0)
		return -1;
	for (i = 0; i < (hi - lo) / pg; i++)
		n += vec[i] & 1;
	return n;
}

/* a job as lookup_start leaves it, done, with one request on it and its
 * body buffer written */
static struct job *
busy_job(struct daemon *d)
{
	struct job *j = lookup_slot(d);

	if (j == NULL)
		return NULL;
	j->q[0].fd = j->q[1].fd = j->fetch.fd = -1;
	j->q[0].state = j->q[1].state = 0;     /* done (dns.c's Q_DONE) */
	j->state = JOB_DONE;
	j->refs = 1;
	memset(j->fetch.body, 'x', sizeof j->fetch.body);
	return j;
}

/* During a burst a finished job's pages stay for the next job (no madvise,
 * no page faults per job), for JOB_WARM free slots at most, the one freed
 * first going first; a slot taken again is no longer warm; when the last
 * job ends, every slot hands its pages back. */
static void
test_release(void)
{
	static struct daemon d;
	struct job *a, *b, *c, *w[JOB_WARM + 1];
	int all, k, n;

	d.conf.max_lookups = JOB_WARM + 3;
	if (lookup_init(&d) < 0 || (a = busy_job(&d)) == NULL || (b = busy_job(&d)) == NULL) {
		CHECK(0);
		return;
	}
	all = body_pages_resident(a);
	CHECK(all > 8);
	CHECK_INT(body_pages_resident(b), all);
	lookup_release(&d, a);
	CHECK_INT(body_pages_resident(a), all);        /* b still runs */
	CHECK_INT(d.nwarm, 1);
	lookup_release(&d, b);
	CHECK_INT(body_pages_resident(a), 0);
	CHECK_INT(body_pages_resident(b), 0);
	CHECK_INT(d.nwarm, 0);
	c = busy_job(&d);                               /* b's slot again */
	CHECK(c == b);
	lookup_release(&d, c);
	CHECK_INT(body_pages_resident(c), 0);
	CHECK_INT(d.jobs.nspare, 2);

	/* a runs on while JOB_WARM + 1 others end: the first of them to end
	 * hands its pages back, the JOB_WARM later ones keep theirs */
	a = busy_job(&d);
	for (k = 0; k <= JOB_WARM; k++)
		if ((w[k] = busy_job(&d)) == NULL)
			return;
	for (k = 0; k <= JOB_WARM; k++)
		lookup_release(&d, w[k]);
	CHECK_INT(d.nwarm, JOB_WARM);
	CHECK_INT(body_pages_resident(w[0]), 0);
	for (k = 1, n = 0; k <= JOB_WARM; k++)
		n += body_pages_resident(w[k]) == all;
	CHECK_INT(n, JOB_WARM);
	/* the next lookup takes the slot freed last, warm, and out of the list */
	c = busy_job(&d);
	CHECK(c == w[JOB_WARM]);
	CHECK_INT(d.nwarm, JOB_WARM - 1);
	for (k = 0; k < d.nwarm; k++)
		CHECK(d.warm[k] != c);
	lookup_release(&d, c);
	CHECK_INT(d.nwarm, JOB_WARM);
	lookup_release(&d, a);
	for (k = 0, n = 0; k <= JOB_WARM; k++)
		n += body_pages_resident(w[k]);
	CHECK_INT(n + body_pages_resident(a), 0);
	CHECK_INT(d.nwarm, 0);
	lookup_free(&d);
}

int
main(void)
{
	test_cache_use();
	test_need_fetch();
	test_check_wait();
	test_refresh_due();
	test_in_use();
	test_failure_fields();
	test_poll();
	test_release();
	UNIT_DONE();
}
