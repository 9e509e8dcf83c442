/* unit_metrics.c - the metrics renderer: every line for a known daemon
 * state, the log-line form, and buffers too small by any amount */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "unit.h"

static struct daemon d;
static struct client cl[3];
static void *active[3] = { &cl[0], &cl[1], &cl[2] };

/* 5 of 8 entries: two usable policies, one expired, two without policy */
static void
fill(void)
{
	static const char *const names[] = { "a.example", "b.example", "c.example",
		"d.example", "e.example" };
	static struct policy p;
	int i;

	memset(&p, 0, sizeof p);
	p.mode = STS_ENFORCE;
	p.max_age = 86400;
	p.nmx = 1;
	p.mxlen = sizeof "mx.example";
	memcpy(p.mx, "mx.example", p.mxlen);
	cache_init(&d.cache, 8);
	for (i = 0; i < 3; i++)
		cache_store_policy(&d.cache, names[i], &p, "id1", 1700000000,
		    i == 2 ? 500 : 5000, 0);
	for (i = 3; i < 5; i++)
		cache_store(&d.cache, names[i], CE_NOPOLICY, NULL, 0, 0);
	d.cache.evictions = 7;
	/* three connections, one with a request waiting for a lookup slot */
	d.clients.active = active;
	d.clients.nactive = 3;
	cl[1].qhead = REQ_QUEUE - 1;
	cl[1].qlen = 2;
	cl[1].q[REQ_QUEUE - 1].kind = REQ_CACHE;
	cl[1].q[0].kind = REQ_NEEDJOB;
	d.clients.cap = 256;
	d.metrics.start_wall = 1796000000;
	d.redis.state = R_READY;
	d.redis.lookups[REDIS_HIT] = 7;
	d.redis.lookups[REDIS_MISS] = 6;
	d.redis.lookups[REDIS_IGNORED] = 5;
	d.redis.lookups[REDIS_FAILED] = 4;
	d.redis.writes = 3;
	d.redis.write_errors = 2;
	d.redis.disconnects = 1;
	d.metrics.answers[ANSWER_POLICY] = 11;
	d.metrics.answers[ANSWER_NOTFOUND] = 12;
	d.metrics.answers[ANSWER_TEMP] = 0;
	d.metrics.answers[ANSWER_PERM] = 1;
	d.metrics.cache_hits = 20;
	d.metrics.cache_misses = 4;
	d.metrics.fetches[FETCH_OK] = 3;
	d.metrics.fetches[FETCH_ERR_FETCH] = 2;
	d.metrics.fetches[FETCH_ERR_WEBPKI] = 1;
	d.metrics.fetches[FETCH_ERR_POLICY] = 18446744073709551615u;
	d.metrics.dns_queries = 9;
	d.metrics.dns_timeouts = 1;
	d.metrics.dns_tcp = 2;
	d.metrics.clients_accepted = 40;
	d.metrics.clients_evicted = 5;
	d.metrics.snap_writes = 2;
	d.metrics.snap_failed = 1;
	d.metrics.snap_usec = 3000001;
	d.metrics.snap_last_usec = 999;
	d.metrics.scrapes = 6;
	d.metrics.http_rejected = 4;
}

static const char expect[] =
"# HELP mtasts_build_info Version of the running mtasts.\n"
"# TYPE mtasts_build_info gauge\n"
"mtasts_build_info{version=\"" MTASTS_VERSION "\"} 1\n"
"# HELP mtasts_start_time_seconds Start time of the process, UNIX seconds.\n"
"# TYPE mtasts_start_time_seconds gauge\n"
"mtasts_start_time_seconds 1796000000\n"
"# HELP mtasts_resident_memory_bytes Resident set size of the process.\n"
"# TYPE mtasts_resident_memory_bytes gauge\n"
"mtasts_resident_memory_bytes 4096000\n"
"# HELP mtasts_lookups_total Socketmap requests answered, by answer.\n"
"# TYPE mtasts_lookups_total counter\n"
"mtasts_lookups_total{answer=\"policy\"} 11\n"
"mtasts_lookups_total{answer=\"notfound\"} 12\n"
"mtasts_lookups_total{answer=\"temp\"} 0\n"
"mtasts_lookups_total{answer=\"perm\"} 1\n"
"# HELP mtasts_lookups_in_flight Domain lookups running.\n"
"# TYPE mtasts_lookups_in_flight gauge\n"
"mtasts_lookups_in_flight 0\n"
"# HELP mtasts_lookups_waiting Requests waiting for a free lookup slot.\n"
"# TYPE mtasts_lookups_waiting gauge\n"
"mtasts_lookups_waiting 1\n"
"# HELP mtasts_cache_hits_total Requests answered from the cache.\n"
"# TYPE mtasts_cache_hits_total counter\n"
"mtasts_cache_hits_total 20\n"
"# HELP mtasts_cache_misses_total Requests that needed a lookup.\n"
"# TYPE mtasts_cache_misses_total counter\n"
"mtasts_cache_misses_total 4\n"
"# HELP mtasts_cache_evictions_total Cache entries evicted to make room.\n"
"# TYPE mtasts_cache_evictions_total counter\n"
"mtasts_cache_evictions_total 7\n"
"# HELP mtasts_cache_entries Cache entries in use.\n"
"# TYPE mtasts_cache_entries gauge\n"
"mtasts_cache_entries 5\n"
"# HELP mtasts_cache_policies_usable Cached policies not yet expired.\n"
"# TYPE mtasts_cache_policies_usable gauge\n"
"mtasts_cache_policies_usable 2\n"
"# HELP mtasts_cache_capacity_entries Cache entries at most (cache_size).\n"
"# TYPE mtasts_cache_capacity_entries gauge\n"
"mtasts_cache_capacity_entries 8\n"
"# HELP mtasts_cache_bytes Cache store bytes in use.\n"
"# TYPE mtasts_cache_bytes gauge\n"
"mtasts_cache_bytes 320\n"
"# HELP mtasts_cache_capacity_bytes Cache store bytes at most.\n"
"# TYPE mtasts_cache_capacity_bytes gauge\n"
"mtasts_cache_capacity_bytes 2048\n"
"# HELP mtasts_fetches_total Policy fetches, by result (RFC 8460 result types for failures).\n"
"# TYPE mtasts_fetches_total counter\n"
"mtasts_fetches_total{result=\"ok\"} 3\n"
"mtasts_fetches_total{result=\"sts-policy-fetch-error\"} 2\n"
"mtasts_fetches_total{result=\"sts-webpki-invalid\"} 1\n"
"mtasts_fetches_total{result=\"sts-policy-invalid\"} 18446744073709551615\n"
"# HELP mtasts_dns_queries_total DNS queries sent.\n"
"# TYPE mtasts_dns_queries_total counter\n"
"mtasts_dns_queries_total 9\n"
"# HELP mtasts_dns_timeouts_total DNS queries unanswered in time.\n"
"# TYPE mtasts_dns_timeouts_total counter\n"
"mtasts_dns_timeouts_total 1\n"
"# HELP mtasts_dns_tcp_retries_total Truncated DNS answers asked again over TCP.\n"
"# TYPE mtasts_dns_tcp_retries_total counter\n"
"mtasts_dns_tcp_retries_total 2\n"
"# HELP mtasts_clients Socketmap connections open.\n"
"# TYPE mtasts_clients gauge\n"
"mtasts_clients 3\n"
"# HELP mtasts_clients_max Socketmap connections at most.\n"
"# TYPE mtasts_clients_max gauge\n"
"mtasts_clients_max 256\n"
"# HELP mtasts_clients_accepted_total Socketmap connections accepted.\n"
"# TYPE mtasts_clients_accepted_total counter\n"
"mtasts_clients_accepted_total 40\n"
"# HELP mtasts_clients_evicted_total Idle socketmap connections closed to make room for new ones.\n"
"# TYPE mtasts_clients_evicted_total counter\n"
"mtasts_clients_evicted_total 5\n"
"# HELP mtasts_snapshot_writes_total Cache snapshots written.\n"
"# TYPE mtasts_snapshot_writes_total counter\n"
"mtasts_snapshot_writes_total 2\n"
"# HELP mtasts_snapshot_failures_total Cache snapshot writes that failed.\n"
"# TYPE mtasts_snapshot_failures_total counter\n"
"mtasts_snapshot_failures_total 1\n"
"# HELP mtasts_snapshot_duration_seconds_total Time spent writing cache snapshots.\n"
"# TYPE mtasts_snapshot_duration_seconds_total counter\n"
"mtasts_snapshot_duration_seconds_total 3.000001\n"
"# HELP mtasts_snapshot_last_duration_seconds Duration of the last cache snapshot write.\n"
"# TYPE mtasts_snapshot_last_duration_seconds gauge\n"
"mtasts_snapshot_last_duration_seconds 0.000999\n"
"# HELP mtasts_metrics_scrapes_total Metrics requests answered on metrics_listen.\n"
"# TYPE mtasts_metrics_scrapes_total counter\n"
"mtasts_metrics_scrapes_total 6\n"
"# HELP mtasts_metrics_rejected_total Other requests and timed-out connections on metrics_listen.\n"
"# TYPE mtasts_metrics_rejected_total counter\n"
"mtasts_metrics_rejected_total 4\n"
"# HELP mtasts_shared_cache_up 1 while the shared cache (redis) is connected, else 0.\n"
"# TYPE mtasts_shared_cache_up gauge\n"
"mtasts_shared_cache_up 1\n"
"# HELP mtasts_shared_cache_lookups_total Lookups that asked the shared cache, by what it gave.\n"
"# TYPE mtasts_shared_cache_lookups_total counter\n"
"mtasts_shared_cache_lookups_total{result=\"hit\"} 7\n"
"mtasts_shared_cache_lookups_total{result=\"miss\"} 6\n"
"mtasts_shared_cache_lookups_total{result=\"ignored\"} 5\n"
"mtasts_shared_cache_lookups_total{result=\"failed\"} 4\n"
"# HELP mtasts_shared_cache_writes_total Policies written to the shared cache and acknowledged.\n"
"# TYPE mtasts_shared_cache_writes_total counter\n"
"mtasts_shared_cache_writes_total 3\n"
"# HELP mtasts_shared_cache_write_errors_total Writes the shared cache refused.\n"
"# TYPE mtasts_shared_cache_write_errors_total counter\n"
"mtasts_shared_cache_write_errors_total 2\n"
"# HELP mtasts_shared_cache_disconnects_total Connections to the shared cache given up (down, slow, hostile).\n"
"# TYPE mtasts_shared_cache_disconnects_total counter\n"
"mtasts_shared_cache_disconnects_total 1\n";

static const char expect_line[] =
"version=" MTASTS_VERSION " start_time_seconds=1796000000 resident_memory_bytes=4096000"
" lookups.policy=11 lookups.notfound=12 lookups.temp=0 lookups.perm=1"
" lookups_in_flight=0 lookups_waiting=1 cache_hits=20 cache_misses=4 cache_evictions=7"
" cache_entries=5 cache_policies_usable=2 cache_capacity_entries=8 cache_bytes=320"
" cache_capacity_bytes=2048 fetches.ok=3 fetches.sts-policy-fetch-error=2"
" fetches.sts-webpki-invalid=1 fetches.sts-policy-invalid=18446744073709551615"
" dns_queries=9 dns_timeouts=1 dns_tcp_retries=2 clients=3 clients_max=256"
" clients_accepted=40 clients_evicted=5 snapshot_writes=2 snapshot_failures=1"
" snapshot_duration_seconds=3.000001 snapshot_last_duration_seconds=0.000999"
" metrics_scrapes=6 metrics_rejected=4 shared_cache_up=1 shared_cache_lookups.hit=7"
" shared_cache_lookups.miss=6 shared_cache_lookups.ignored=5 shared_cache_lookups.failed=4"
" shared_cache_writes=3 shared_cache_write_errors=2 shared_cache_disconnects=1";

/* The exact text, line by line, so a failure names the line. */
static void
test_text(void)
{
	static char out[METRICS_TEXT_MAX];
	const char *g = out, *w = expect;
	size_t n = metrics_format(&d, 1000, 4096000, 0, out, sizeof out);

	CHECK_INT(n, strlen(expect));
	CHECK_INT(strlen(out), n);
	while (*w != '\0') {
		const char *ge = strchr(g, '\n'), *we = strchr(w, '\n');
		size_t gl = ge ? (size_t)(ge - g) : strlen(g);
		char want[160];
		snprintf(want, sizeof want, "%.*s", (int)(we - w), w);
		CHECK_MEM(g, gl, want);
		g += gl + (ge != NULL);
		w = we + 1;
	}
	CHECK_STR(g, "");
	/* every sample line of the real text fits in the buffer with room */
	CHECK(n < METRICS_TEXT_MAX / 2);
}

static void
test_line(void)
{
	char out[METRICS_LINE_MAX];
	size_t n = metrics_format(&d, 1000, 4096000, 1, out, sizeof out);

	CHECK_STR(out, expect_line);
	CHECK_INT(n, strlen(expect_line));
	CHECK(strchr(out, '\n') == NULL);
}

/* Too small by any amount: 0 and an empty string, never a cut text. */
static void
test_overflow(void)
{
	static char out[METRICS_TEXT_MAX];
	size_t full = strlen(expect), cap;
	int bad = 0;

	for (cap = 0; cap <= full; cap++) {
		memset(out, 'x', sizeof out);
		if (metrics_format(&d, 1000, 4096000, 0, out, cap) != 0 ||
		    (cap > 0 && out[0] != '\0') || out[cap] != 'x')
			bad++;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(metrics_format(&d, 1000, 4096000, 0, out, full + 1), full);
	CHECK_INT(metrics_format(&d, 1000, 4096000, 1, out, strlen(expect_line)), 0);
	CHECK_STR(out, "");
	CHECK_INT(metrics_format(&d, 1000, 4096000, 1, out, strlen(expect_line) + 1),
	    strlen(expect_line));
}

/* The fetch labels are the RFC 8460 names http.c uses everywhere else. */
static void
test_labels(void)
{
	char out[METRICS_LINE_MAX];
	int k;

	metrics_format(&d, 1000, 0, 1, out, sizeof out);
	for (k = FETCH_OK; k <= FETCH_ERR_POLICY; k++) {
		char want[80];
		snprintf(want, sizeof want, " fetches.%s=", http_class_str((enum fetch_class)k));
		CHECK(strstr(out, want) != NULL);
	}
}

/* The real renderer reads RSS from /proc: a positive number of pages. */
static void
test_render(void)
{
	static char out[METRICS_TEXT_MAX];
	const char *p;

	CHECK(metrics_render(&d, 1000, out, sizeof out) > 0);
	p = strstr(out, "\nmtasts_resident_memory_bytes ");
	CHECK(p != NULL && atoll(p + 30) > 0);
	CHECK(metrics_rss() % 4096 == 0 && metrics_rss() > 0);
}

int
main(void)
{
	fill();
	test_text();
	test_line();
	test_overflow();
	test_labels();
	test_render();
	cache_free(&d.cache);
	UNIT_DONE();
}
