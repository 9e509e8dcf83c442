/* unit_server.c - a client's request ring, driven without sockets:
 * netstrings in c->in, answers read from c->out.  Requests are answered
 * strictly in order; the ring takes REQ_QUEUE at a time, wraps, and
 * restarts at q[0] when it empties; a request waiting for a job slot
 * holds back the ones behind it until its deadline. */
#include <stdio.h>
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
	const char *mx[1];

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
	strcpy(pol.mx[0], "mx.a.example");
	e = cache_store_policy(&d.cache, "a.example", &pol, "id1", 1700000000,
	    d.now + 86400000, d.now);
	CHECK(e != NULL);
	if (e != NULL)
		e->next_check = d.now + 86400000;
	mx[0] = pol.mx[0];
	CHECK(policy_answer(STS_ENFORCE, 1, mx, 0, d.conf.zone[0].require_sni, answer_a, sizeof answer_a) > 0);
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

int
main(void)
{
	struct client *c;

	setup();
	c = new_client();
	test_in_order(c);
	test_ring_full(c);
	test_wait_for_slot(c);
	test_bad_netstring(c);
	test_pool();
	lookup_free(&d);
	pool_free(&d.clients);
	cache_free(&d.cache);
	UNIT_DONE();
}
