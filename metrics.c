/*
 * metrics.c - the daemon's counters and gauges as Prometheus text
 * (exposition format 0.0.4: "# HELP", "# TYPE", then "name{label} value"
 * lines), or as one "name=value ..." log line.  Both come from the same
 * walk, so the two can never list different metrics.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

/* The output: out[cap], always NUL-terminated; over once anything did
 * not fit, and then nothing more is appended. */
struct mw {
	char *out;
	size_t cap, len;
	int over;
	int line;                    /* log line instead of Prometheus text */
};

static void
mw_put(struct mw *w, const char *s, size_t n)
{
	if (w->over || n >= w->cap - w->len) {
		w->over = 1;
		return;
	}
	memcpy(w->out + w->len, s, n);
	w->len += n;
	w->out[w->len] = '\0';
}

static void
mw_str(struct mw *w, const char *s)
{
	mw_put(w, s, strlen(s));
}

static void
mw_u64(struct mw *w, uint64_t v)
{
	char buf[24];
	size_t i = sizeof buf;

	do
		buf[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	mw_put(w, buf + i, sizeof buf - i);
}

/* A metric family's HELP and TYPE lines (nothing in the log line). */
static void
family(struct mw *w, const char *name, const char *type, const char *help)
{
	if (w->line)
		return;
	mw_str(w, "# HELP mtasts_");
	mw_str(w, name);
	mw_str(w, " ");
	mw_str(w, help);
	mw_str(w, "\n# TYPE mtasts_");
	mw_str(w, name);
	mw_str(w, " ");
	mw_str(w, type);
	mw_str(w, "\n");
}

/* The start of a sample: "mtasts_NAME{KEY="VAL"} " or, in the log line,
 * " NAME.VAL=" ("_total" left out, to keep the line short). */
static void
sample_name(struct mw *w, const char *name, const char *key, const char *val)
{
	size_t n = strlen(name);

	if (w->line) {
		if (n > 6 && !strcmp(name + n - 6, "_total"))
			n -= 6;
		if (w->len > 0)
			mw_str(w, " ");
		mw_put(w, name, n);
		if (key != NULL) {
			mw_str(w, ".");
			mw_str(w, val);
		}
		mw_str(w, "=");
		return;
	}
	mw_str(w, "mtasts_");
	mw_str(w, name);
	if (key != NULL) {
		mw_str(w, "{");
		mw_str(w, key);
		mw_str(w, "=\"");
		mw_str(w, val);
		mw_str(w, "\"}");
	}
	mw_str(w, " ");
}

static void
sample(struct mw *w, const char *name, const char *key, const char *val, uint64_t v)
{
	sample_name(w, name, key, val);
	mw_u64(w, v);
	if (!w->line)
		mw_str(w, "\n");
}

/* v microseconds as seconds with six decimals */
static void
sample_usec(struct mw *w, const char *name, uint64_t v)
{
	char frac[8];

	sample_name(w, name, NULL, NULL);
	mw_u64(w, v / 1000000);
	snprintf(frac, sizeof frac, ".%06u", (unsigned)(v % 1000000));
	mw_str(w, frac);
	if (!w->line)
		mw_str(w, "\n");
}

/* A family with one sample and no label. */
static void
one(struct mw *w, const char *name, const char *type, const char *help, uint64_t v)
{
	family(w, name, type, help);
	sample(w, name, NULL, NULL, v);
}

static const char *const answer_label[ANSWER_N] = { "policy", "notfound", "temp", "perm" };

size_t
metrics_format(const struct daemon *d, msec_t now, uint64_t rss, int line, char *out,
    size_t cap)
{
	const struct metrics *m = &d->metrics;
	const struct cache *c = &d->cache;
	struct mw w = { out, cap, 0, cap == 0, line };
	uint64_t running = 0, waiting = 0, usable = 0;
	uint32_t i;
	int k, q;

	if (cap > 0)
		out[0] = '\0';
	for (k = 0; k < d->jobs.nactive; k++)
		running += ((const struct job *)d->jobs.active[k])->state != JOB_DONE;
	for (k = 0; k < d->clients.nactive; k++) {
		const struct client *cl = d->clients.active[k];
		for (q = 0; q < cl->qlen; q++)
			waiting += cl->q[(cl->qhead + q) % REQ_QUEUE].kind == REQ_NEEDJOB;
	}
	for (i = 0; i < c->entry_mark; i++)
		usable += cache_usable(&c->e[i], now);

	if (line) {
		mw_str(&w, "version=" MTASTS_VERSION);
	} else {
		family(&w, "build_info", "gauge", "Version of the running mtasts.");
		mw_str(&w, "mtasts_build_info{version=\"" MTASTS_VERSION "\"} 1\n");
	}
	one(&w, "start_time_seconds", "gauge", "Start time of the process, UNIX seconds.",
	    (uint64_t)m->start_wall);
	one(&w, "resident_memory_bytes", "gauge", "Resident set size of the process.", rss);

	family(&w, "lookups_total", "counter", "Socketmap requests answered, by answer.");
	for (k = 0; k < ANSWER_N; k++)
		sample(&w, "lookups_total", "answer", answer_label[k], m->answers[k]);
	one(&w, "lookups_in_flight", "gauge", "Domain lookups running.", running);
	one(&w, "lookups_waiting", "gauge", "Requests waiting for a free lookup slot.",
	    waiting);

	one(&w, "cache_hits_total", "counter", "Requests answered from the cache.",
	    m->cache_hits);
	one(&w, "cache_misses_total", "counter", "Requests that needed a lookup.",
	    m->cache_misses);
	one(&w, "cache_evictions_total", "counter", "Cache entries evicted to make room.",
	    c->evictions);
	one(&w, "cache_entries", "gauge", "Cache entries in use.", c->count);
	one(&w, "cache_policies_usable", "gauge", "Cached policies not yet expired.", usable);
	one(&w, "cache_capacity_entries", "gauge", "Cache entries at most (cache_size).",
	    c->nentries);
	one(&w, "cache_bytes", "gauge", "Cache store bytes in use.",
	    (uint64_t)c->used_blocks * CACHE_BLOCK);
	one(&w, "cache_capacity_bytes", "gauge", "Cache store bytes at most.",
	    (uint64_t)c->nblocks * CACHE_BLOCK);

	family(&w, "fetches_total", "counter",
	    "Policy fetches, by result (RFC 8460 result types for failures).");
	for (k = FETCH_OK; k <= FETCH_ERR_POLICY; k++)
		sample(&w, "fetches_total", "result", http_class_str((enum fetch_class)k),
		    m->fetches[k]);

	one(&w, "dns_queries_total", "counter", "DNS queries sent.", m->dns_queries);
	one(&w, "dns_timeouts_total", "counter", "DNS queries unanswered in time.",
	    m->dns_timeouts);
	one(&w, "dns_tcp_retries_total", "counter", "Truncated DNS answers asked again over TCP.",
	    m->dns_tcp);

	one(&w, "clients", "gauge", "Socketmap connections open.",
	    (uint64_t)d->clients.nactive);
	one(&w, "clients_max", "gauge", "Socketmap connections at most.",
	    (uint64_t)(d->clients.cap > 0 ? d->clients.cap : 0));
	one(&w, "clients_accepted_total", "counter", "Socketmap connections accepted.",
	    m->clients_accepted);
	one(&w, "clients_evicted_total", "counter",
	    "Idle socketmap connections closed to make room for new ones.", m->clients_evicted);

	one(&w, "snapshot_writes_total", "counter", "Cache snapshots written.", m->snap_writes);
	one(&w, "snapshot_failures_total", "counter", "Cache snapshot writes that failed.",
	    m->snap_failed);
	family(&w, "snapshot_duration_seconds_total", "counter",
	    "Time spent writing cache snapshots.");
	sample_usec(&w, "snapshot_duration_seconds_total", m->snap_usec);
	family(&w, "snapshot_last_duration_seconds", "gauge",
	    "Duration of the last cache snapshot write.");
	sample_usec(&w, "snapshot_last_duration_seconds", m->snap_last_usec);

	one(&w, "metrics_scrapes_total", "counter", "Metrics requests answered on metrics_listen.",
	    m->scrapes);
	one(&w, "metrics_rejected_total", "counter",
	    "Other requests and timed-out connections on metrics_listen.", m->http_rejected);
	if (w.over) {
		if (cap > 0)
			out[0] = '\0';
		return 0;
	}
	return w.len;
}

uint64_t
metrics_rss(void)
{
	char buf[128];
	ssize_t n;
	uint64_t pages = 0;
	int fd, i;

	if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "size resident shared ...", in pages: the second field */
	for (i = 0; i < n && buf[i] != ' '; i++)
		;
	for (i++; i < n && ascii_isdigit(buf[i]); i++)
		pages = pages * 10 + (uint64_t)(buf[i] - '0');
	return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

size_t
metrics_render(const struct daemon *d, msec_t now, char *out, size_t cap)
{
	return metrics_format(d, now, metrics_rss(), 0, out, cap);
}

size_t
metrics_render_line(const struct daemon *d, msec_t now, char *out, size_t cap)
{
	return metrics_format(d, now, metrics_rss(), 1, out, cap);
}
