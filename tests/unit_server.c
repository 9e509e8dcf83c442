/* unit_server.c - a client's request ring, driven without sockets:
 * netstrings in c->in, answers read from c->out.  Requests are answered
 * strictly in order; the ring takes REQ_QUEUE at a time, wraps, and
 * restarts at q[0] when it empties; a request waiting for a job slot
 * holds back the ones behind it until its deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include "daemon.h"
#include "unit.h"

static struct daemon d;
static char got[REPLY_MAX + 1], want[REPLY_MAX + 1];
static size_t wantlen;

static void
feed(struct client *c, const char *payload)
{
	c->inlen += ns_write((char *)c->in + c->inlen, sizeof c->in - c->inlen,
	    payload, strlen(payload));
}

static void
run(struct client *c)
{
	CHECK_INT(server_client_parse(&d, c), 0);
	server_client_flush(&d, c);
}

/* What the client would read; the output is then taken as written. */
static const char *
take(struct client *c)
{
	memcpy(got, c->out + c->outoff, c->outlen - c->outoff);
	got[c->outlen - c->outoff] = '\0';
	c->outoff = c->outlen = 0;
	return got;
}

static void
expect(const char *answer)
{
	wantlen += ns_write(want + wantlen, sizeof want - wantlen, answer, strlen(answer));
}

static const char *
expected(void)
{
	want[wantlen] = '\0';
	wantlen = 0;
	return want;
}

static struct policy pol;
static char answer_a[256];

static void
setup(void)
{
	struct cache_entry *e;
	struct policy_reply r;

	conf_defaults(&d.conf);
	d.conf.max_lookups = 1;
	d.conf.nzones = 3;
	d.conf.zone[1] = d.conf.zone[2] = d.conf.zone[0];
	strcpy(d.conf.zone[1].name, "one");
	strcpy(d.conf.zone[2].name, "two");
	d.now = 1000000;
	CHECK_INT(cache_init(&d.cache, 16), 0);
	CHECK_INT(lookup_init(&d), 0);
	CHECK_INT(server_init(&d, 2), 0);
	/* a.example: a cached enforce policy, not due for a recheck */
	pol.mode = STS_ENFORCE;
	pol.max_age = 86400;
	pol.nmx = 1;
	pol.mxlen = sizeof "mx.a.example";
	memcpy(pol.mx, "mx.a.example", pol.mxlen);
	e = cache_store_policy(&d.cache, "a.example", &pol, "id1", 1700000000,
	    d.now + 86400000, d.now);
	CHECK(e != NULL);
	if (e != NULL)
		e->next_check = d.now + 86400000;
	memset(&r, 0, sizeof r);
	r.mode = STS_ENFORCE;
	r.mx = pol.mx;
	r.mxlen = pol.mxlen;
	r.sni = d.conf.zone[0].require_sni;
	CHECK(policy_answer(&r, answer_a, sizeof answer_a) > 0);
}

static struct client *
new_client(void)
{
	struct client *c = pool_get(&d.clients);

	c->fd = -1;
	c->eof = 0;
	c->qhead = c->qlen = 0;
	c->inoff = c->inlen = c->outoff = c->outlen = 0;
	ns_reader_init(&c->rd);
	return c;
}

/* Take the only job slot, as a running lookup of domain. */
static struct job *
busy_job(const char *domain)
{
	struct job *j = pool_get(&d.jobs);

	j->state = JOB_TXT;
	j->refs = 0;
	j->zone = &d.conf.zone[0];
	j->q[0].fd = j->q[1].fd = j->fetch.fd = -1;
	j->q[0].state = j->q[1].state = 0;
	strcpy(j->domain, domain);
	return j;
}

static void
test_in_order(struct client *c)
{
	char big[1200];

	feed(c, "x a.example");
	run(c);
	expect(answer_a);
	CHECK_STR(take(c), expected());
	CHECK_INT(c->qlen, 0);
	CHECK_INT(c->qhead, 0);

	/* pipelined: cached, malformed (SM-2), bad key, oversized (NS-4) */
	feed(c, "x a.example");
	feed(c, "nospace");
	feed(c, "x bad..example");
	memset(big, 'b', sizeof big - 1);
	big[0] = 'x';
	big[1] = ' ';
	big[sizeof big - 1] = '\0';
	feed(c, big);
	feed(c, "one A.Example.");
	run(c);
	expect(answer_a);
	expect("PERM malformed request");
	expect("NOTFOUND ");
	expect("NOTFOUND ");
	expect(answer_a);
	CHECK_STR(take(c), expected());
	CHECK_INT(c->qlen, 0);
	CHECK_INT(c->inlen, 0);

	/* MET-1: every answer counted by kind; only the three requests for a
	 * policy domain consulted the cache */
	CHECK_INT(d.metrics.answers[ANSWER_POLICY], 3);
	CHECK_INT(d.metrics.answers[ANSWER_NOTFOUND], 2);
	CHECK_INT(d.metrics.answers[ANSWER_PERM], 1);
	CHECK_INT(d.metrics.answers[ANSWER_TEMP], 0);
	CHECK_INT(d.metrics.cache_hits, 3);
	CHECK_INT(d.metrics.cache_misses, 0);
}

static void
test_ring_full(struct client *c)
{
	int i;

	/* more than the ring holds: parsing stops at REQ_QUEUE */
	for (i = 0; i < REQ_QUEUE + 4; i++)
		feed(c, i % 2 ? "x a.example" : "malformed");
	CHECK_INT(server_client_parse(&d, c), 0);
	CHECK_INT(c->qlen, REQ_QUEUE);
	CHECK(c->inoff < c->inlen);
	server_client_flush(&d, c);
	CHECK_INT(c->qlen, 0);
	CHECK_INT(c->qhead, 0);
	run(c);
	CHECK_INT(c->qlen, 0);
	for (i = 0; i < REQ_QUEUE + 4; i++)
		expect(i % 2 ? answer_a : "PERM malformed request");
	CHECK_STR(take(c), expected());
}

static void
test_wait_for_slot(struct client *c)
{
	struct job *j = busy_job("busy.example");
	struct request *r;
	struct config nc;
	msec_t deadline;
	int i;

	/* 10 answered, then one that must wait for a job slot, then 8 more:
	 * the ring wraps around behind the waiting request */
	for (i = 0; i < 10; i++)
		feed(c, "x a.example");
	feed(c, "two wait.example");
	feed(c, "one busy.example");     /* joins the running job */
	for (i = 0; i < 7; i++)
		feed(c, "x a.example");
	run(c);
	CHECK_INT(c->qhead, 10);
	CHECK_INT(c->qlen, 6);
	CHECK(c->inoff < c->inlen);
	for (i = 0; i < 10; i++)
		expect(answer_a);
	CHECK_STR(take(c), expected());
	run(c);
	CHECK_INT(c->qlen, 9);
	CHECK_INT(c->inlen, 0);
	CHECK_STR(take(c), "");         /* the head still waits */
	r = &c->q[c->qhead];
	CHECK_INT(r->kind, REQ_NEEDJOB);
	CHECK_INT(d.need_job, 1);
	CHECK_INT(c->q[(c->qhead + 1) % REQ_QUEUE].kind, REQ_JOB);
	CHECK_INT(j->refs, 1);
	CHECK_INT(server_client_deadline(&d, c), r->deadline);

	/* SIGHUP: zone "two" moves to index 1, "one" is gone */
	conf_defaults(&nc);
	nc.nzones = 2;
	strcpy(nc.zone[1].name, "two");
	server_rezone(&d, &nc);
	lookup_rezone(&d, &nc);
	CHECK_INT(r->zone, 1);
	CHECK_INT(c->q[(c->qhead + 1) % REQ_QUEUE].zone, 0);
	CHECK_INT(c->q[(c->qhead + 2) % REQ_QUEUE].zone, 0);
	CHECK(j->zone == &d.conf.zone[0]);

	/* the job finishes; its waiter is behind the waiting request */
	j->state = JOB_DONE;
	j->have_policy = 1;
	j->pol = pol;
	j->pol.mode = STS_TESTING;     /* NOTFOUND unless strict_testing */
	server_client_flush(&d, c);
	CHECK_STR(take(c), "");
	/* the slot's job is done but not released: still no slot */
	server_retry_need_job(&d);
	CHECK_INT(r->kind, REQ_NEEDJOB);
	CHECK_INT(d.need_job, 1);

	/* the deadline passes: NOTFOUND, then the rest in order */
	deadline = r->deadline;
	d.now = deadline - 1;
	server_client_flush(&d, c);
	CHECK_STR(take(c), "");
	/* a request for the domain of the done job (not yet released) waits
	 * for its release (LOOKUP_JUST_DONE), behind the others */
	feed(c, "x busy.example");
	run(c);
	CHECK_INT(c->qlen, 10);
	CHECK_INT(c->q[(c->qhead + 9) % REQ_QUEUE].kind, REQ_NEEDJOB);
	d.now = deadline;
	server_client_flush(&d, c);
	expect("NOTFOUND ");
	expect("NOTFOUND ");
	for (i = 0; i < 7; i++)
		expect(answer_a);
	CHECK_STR(take(c), expected());
	CHECK_INT(c->qlen, 1);
	CHECK_INT(d.jobs.nactive, 0);   /* released by its last request */
	/* the job left its result in the cache: the waiting request gets it
	 * (the socket write of server_client_io fails on fd -1; the answer
	 * stays in c->out) */
	pol.mode = STS_ENFORCE;
	CHECK(cache_store_policy(&d.cache, "busy.example", &pol, "id2", 1700000000,
	    d.now + 86400000, d.now) != NULL);
	cache_find(&d.cache, "busy.example")->next_check = d.now + 86400000;
	server_retry_need_job(&d);
	CHECK_INT(d.need_job, 0);
	CHECK_INT(c->qlen, 0);
	CHECK_INT(c->qhead, 0);
	expect(answer_a);
	CHECK_STR(take(c), expected());
}

static void
test_bad_netstring(struct client *c)
{
	memcpy(c->in, "x:", 2);
	c->inlen = 2;
	CHECK_INT(server_client_parse(&d, c), -1);
}

static void
test_pool(void)
{
	struct pool p;
	struct client *a, *b, *x;

	/* slots come from the mark, then back from the spare list; the
	 * active list stays dense with each slot's index right */
	CHECK_INT(pool_init(&p, 2, sizeof (struct client), offsetof(struct client, slot)), 0);
	a = pool_get(&p);
	b = pool_get(&p);
	CHECK(a != NULL && b != NULL && a != b);
	CHECK(pool_get(&p) == NULL);
	CHECK_INT(p.mark, 2);
	pool_put(&p, a);
	CHECK_INT(p.nactive, 1);
	CHECK(p.active[0] == b);
	CHECK_INT(b->slot, 0);
	x = pool_get(&p);
	CHECK(x == a);
	CHECK_INT(x->slot, 1);
	CHECK(p.active[1] == a);
	pool_free(&p);
}

/* Everything the peer of sv can read now, NUL-terminated, into buf */
static size_t
drain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t k;

	while (n + 1 < cap && (k = recv(fd, buf + n, cap - 1 - n, MSG_DONTWAIT)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	return n;
}

static size_t
answer_for(const char *domain, const struct zone *z, char *out, size_t cap)
{
	struct request r;

	memset(&r, 0, sizeof r);
	r.kind = REQ_CACHE;
	r.zone = (uint8_t)(z - d.conf.zone);
	strcpy(r.domain, domain);
	return server_answer(&d, &r, out, cap);
}

/* PFX-8: a reply over REPLY_MAX goes out through a borrowed big buffer,
 * in order, and waits (never cut) while none is free; PFX-4 tlsrpt and
 * RPT-4 fetch_failure through server_answer */
static void
test_big(struct client *c)
{
	static struct policy bp;
	static char body[32768], bigans[NS_REPLY_MAX + 1], wire[2 * NS_REPLY_MAX], exp[2 * NS_REPLY_MAX];
	struct policy_error pe;
	struct cache_entry *e;
	size_t o, n, w;
	int i, sv[2];

	o = (size_t)snprintf(body, sizeof body, "version: STSv1\nmode: enforce\nmax_age: 600\n");
	for (i = 0; i < 1000; i++)
		o += (size_t)snprintf(body + o, sizeof body - o, "mx: m%d.ex.org\n", i);
	CHECK_INT(policy_parse((const uint8_t *)body, o, &bp, &pe), 0);
	cache_free(&d.cache);
	CHECK_INT(cache_init(&d.cache, 256), 0);
	e = cache_store_policy(&d.cache, "a.example", &pol, "id1", 1700000000,
	    d.now + 86400000, d.now);
	e = cache_store_policy(&d.cache, "big.example", &bp, "id2", 1700000000,
	    d.now + 600000, d.now);
	CHECK(e != NULL);
	if (e != NULL)
		e->next_check = d.now + 600000;
	d.conf.zone[2].tlsrpt = 1;
	n = answer_for("big.example", &d.conf.zone[2], bigans, sizeof bigans);
	CHECK(n > REPLY_MAX && n < NS_REPLY_MAX);
	CHECK(strncmp(bigans, "OK secure match=m0.ex.org:m1.ex.org:", 36) == 0);
	CHECK(strstr(bigans, " policy_type=sts policy_domain=big.example mx_host_pattern=m0.ex.org ")
	    != NULL);
	CHECK(strstr(bigans, "{ policy_string = mx: m999.ex.org } { policy_string = max_age: 600 }")
	    != NULL);
	/* without tlsrpt it fits the client's own buffer */
	o = answer_for("big.example", &d.conf.zone[1], body, sizeof body);
	CHECK(o > 10000 && o < REPLY_MAX && strstr(body, "policy_") == NULL);

	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c->fd = sv[0];
	/* big, then a small one behind it: both, in order */
	feed(c, "two big.example");
	feed(c, "x a.example");
	server_client_io(&d, c, 0);
	w = ns_write(exp, sizeof exp, bigans, n);
	w += ns_write(exp + w, sizeof exp - w, answer_a, strlen(answer_a));
	exp[w] = '\0';
	CHECK_INT(drain(sv[1], wire, sizeof wire), w);
	CHECK(strcmp(wire, exp) == 0);
	CHECK_INT(d.nbig_free, BIG_REPLIES);
	CHECK(c->big == NULL);
	CHECK_INT(c->qlen, 0);
	/* no big buffer free: the request waits, nothing is sent ... */
	d.nbig_free = 0;
	feed(c, "two big.example");
	server_client_io(&d, c, 0);
	CHECK_INT(drain(sv[1], wire, sizeof wire), 0);
	CHECK_INT(c->qlen, 1);
	CHECK_INT(c->big_wait, 1);
	CHECK(server_client_deadline(&d, c) > d.now);   /* no busy loop */
	/* ... until one is given back */
	d.nbig_free = BIG_REPLIES;
	server_wake(&d);
	w = ns_write(exp, sizeof exp, bigans, n);
	exp[w] = '\0';
	CHECK_INT(drain(sv[1], wire, sizeof wire), w);
	CHECK(strcmp(wire, exp) == 0);
	CHECK_INT(c->qlen, 0);
	CHECK_INT(d.nbig_free, BIG_REPLIES);
	close(sv[0]);
	close(sv[1]);
	c->fd = -1;

	/* RPT-4: fetch_failure = fail, nothing usable cached */
	e = cache_store(&d.cache, "fail.example", CE_NOPOLICY, NULL, 0, d.now);
	e->fails = 1;
	e->fail_class = FETCH_ERR_WEBPKI;
	answer_for("fail.example", &d.conf.zone[0], body, sizeof body);
	CHECK_STR(body, "NOTFOUND ");          /* the default: fail open */
	d.conf.zone[1].fetch_failure = 1;
	answer_for("fail.example", &d.conf.zone[1], body, sizeof body);
	CHECK_STR(body, "OK secure policy_type=sts policy_domain=fail.example "
	    "policy_failure=sts-webpki-invalid");
	e->fail_class = FETCH_ERR_POLICY;
	answer_for("fail.example", &d.conf.zone[1], body, sizeof body);
	CHECK_STR(body, "OK secure policy_type=sts policy_domain=fail.example "
	    "policy_failure=sts-policy-invalid");
	e->fail_class = FETCH_OK;              /* DNS failure (RPT-5) */
	answer_for("fail.example", &d.conf.zone[1], body, sizeof body);
	CHECK_STR(body, "NOTFOUND ");
	e->fail_class = FETCH_ERR_FETCH;
	e->fails = 0;                          /* the last lookup succeeded */
	answer_for("fail.example", &d.conf.zone[1], body, sizeof body);
	CHECK_STR(body, "NOTFOUND ");
	/* a usable policy wins over a failure (RPT-4) */
	e = cache_find(&d.cache, "a.example");
	e->fails = 3;
	e->fail_class = FETCH_ERR_FETCH;
	answer_for("a.example", &d.conf.zone[1], body, sizeof body);
	CHECK_STR(body, answer_a);
	d.conf.zone[1].fetch_failure = 0;
	d.conf.zone[2].tlsrpt = 0;
}

int
main(void)
{
	struct client *c;

	setup();
	c = new_client();
	test_in_order(c);
	test_ring_full(c);
	test_wait_for_slot(c);
	test_big(c);
	test_bad_netstring(c);
	test_pool();
	lookup_free(&d);
	pool_free(&d.clients);
	free(d.big_mem);
	cache_free(&d.cache);
	UNIT_DONE();
}
