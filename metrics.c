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

/* The output goes through json.c's writer, used for raw text only: it
 * keeps out[cap] NUL-terminated and appends nothing once something did
 * not fit (j.over). */
struct mw {
	struct json j;
	int line;                    /* log line instead of Prometheus text */
};

static void
mw_str(struct mw *w, const char *s)
{
	json_raw(&w->j, s);
}

static void
mw_u64(struct mw *w, uint64_t v)
{
	char buf[24];
	size_t i = sizeof buf - 1;

	buf[i] = '\0';
	do
		buf[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	mw_str(w, buf + i);
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
	char base[64];

	if (w->line) {
		if (n > 6 && !strcmp(name + n - 6, "_total"))
			n -= 6;
		snprintf(base, sizeof base, " %.*s", (int)n, name);
		mw_str(w, base);
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

/* Every metric after build_info, in output order: one sample each, or
 * one per label value of key.  metrics_format fills the values in the
 * same order. */
enum { COUNTER, GAUGE, SECONDS_COUNTER, SECONDS_GAUGE };   /* the last two: usec values */
struct mdef {
	const char *name;            /* after "mtasts_" */
	uint8_t type;
	uint8_t n;                   /* samples */
	const char *key;             /* label name when n > 1 */
	const char *const *label;
	const char *help;
};
static const char *const answer_label[ANSWER_N] = { "policy", "notfound", "temp", "perm" };
/* RFC 8460 4.3.2.2 result types, as http_class_str names them */
static const char *const fetch_label[4] = { "ok", "sts-policy-fetch-error",
	"sts-webpki-invalid", "sts-policy-invalid" };
static const char *const shared_label[4] = { "hit", "miss", "ignored", "failed" };
static const struct mdef mdefs[] = {
	{ "start_time_seconds", GAUGE, 1, NULL, NULL, "Start time of the process, UNIX seconds." },
	{ "resident_memory_bytes", GAUGE, 1, NULL, NULL, "Resident set size of the process." },
	{ "lookups_total", COUNTER, ANSWER_N, "answer", answer_label,
	    "Socketmap requests answered, by answer." },
	{ "lookups_in_flight", GAUGE, 1, NULL, NULL, "Domain lookups running." },
	{ "lookups_waiting", GAUGE, 1, NULL, NULL, "Requests waiting for a free lookup slot." },
	{ "cache_hits_total", COUNTER, 1, NULL, NULL, "Requests answered from the cache." },
	{ "cache_misses_total", COUNTER, 1, NULL, NULL, "Requests that needed a lookup." },
	{ "cache_evictions_total", COUNTER, 1, NULL, NULL, "Cache entries evicted to make room." },
	{ "cache_entries", GAUGE, 1, NULL, NULL, "Cache entries in use." },
	{ "cache_policies_usable", GAUGE, 1, NULL, NULL, "Cached policies not yet expired." },
	{ "cache_capacity_entries", GAUGE, 1, NULL, NULL, "Cache entries at most (cache_size)." },
	{ "cache_bytes", GAUGE, 1, NULL, NULL, "Cache store bytes in use." },
	{ "cache_capacity_bytes", GAUGE, 1, NULL, NULL, "Cache store bytes at most." },
	{ "fetches_total", COUNTER, 4, "result", fetch_label,
	    "Policy fetches, by result (RFC 8460 result types for failures)." },
	{ "dns_queries_total", COUNTER, 1, NULL, NULL, "DNS queries sent." },
	{ "dns_timeouts_total", COUNTER, 1, NULL, NULL, "DNS queries unanswered in time." },
	{ "dns_tcp_retries_total", COUNTER, 1, NULL, NULL,
	    "Truncated DNS answers asked again over TCP." },
	{ "clients", GAUGE, 1, NULL, NULL, "Socketmap connections open." },
	{ "clients_max", GAUGE, 1, NULL, NULL, "Socketmap connections at most." },
	{ "clients_accepted_total", COUNTER, 1, NULL, NULL, "Socketmap connections accepted." },
	{ "clients_evicted_total", COUNTER, 1, NULL, NULL,
	    "Idle socketmap connections closed to make room for new ones." },
	{ "snapshot_writes_total", COUNTER, 1, NULL, NULL, "Cache snapshots written." },
	{ "snapshot_failures_total", COUNTER, 1, NULL, NULL, "Cache snapshot writes that failed." },
	{ "snapshot_duration_seconds_total", SECONDS_COUNTER, 1, NULL, NULL,
	    "Time spent writing cache snapshots." },
	{ "snapshot_last_duration_seconds", SECONDS_GAUGE, 1, NULL, NULL,
	    "Duration of the last cache snapshot write." },
	{ "metrics_scrapes_total", COUNTER, 1, NULL, NULL,
	    "Metrics requests answered on metrics_listen." },
	{ "metrics_rejected_total", COUNTER, 1, NULL, NULL,
	    "Other requests and timed-out connections on metrics_listen." },
	{ "shared_cache_up", GAUGE, 1, NULL, NULL,
	    "1 while the shared cache (redis) is connected, else 0." },
	{ "shared_cache_lookups_total", COUNTER, 4, "result", shared_label,
	    "Lookups that asked the shared cache, by what it gave." },
	{ "shared_cache_writes_total", COUNTER, 1, NULL, NULL,
	    "Policies written to the shared cache and acknowledged." },
	{ "shared_cache_write_errors_total", COUNTER, 1, NULL, NULL,
	    "Writes the shared cache refused." },
	{ "shared_cache_disconnects_total", COUNTER, 1, NULL, NULL,
	    "Connections to the shared cache given up (down, slow, hostile)." },
};
#define NVALUES 41           /* samples in mdefs[] */

/* Every sample's value, in mdefs[] order; the gauges are counted now */
static void
metrics_values(const struct daemon *d, msec_t now, uint64_t rss, uint64_t v[NVALUES])
{
	const struct metrics *m = &d->metrics;
	const struct cache *c = &d->cache;
	uint64_t running = 0, waiting = 0, usable = 0;
	size_t i, k, n = 0;
	int q;

	for (k = 0; k < (size_t)d->jobs.nactive; k++)
		running += ((const struct job *)d->jobs.active[k])->state != JOB_DONE;
	for (k = 0; k < (size_t)d->clients.nactive; k++) {
		const struct client *cl = d->clients.active[k];
		for (q = 0; q < cl->qlen; q++)
			waiting += cl->q[(cl->qhead + q) % REQ_QUEUE].kind == REQ_NEEDJOB;
	}
	for (i = 0; i < c->entry_mark; i++)
		usable += cache_usable(&c->e[i], now);

	v[n++] = (uint64_t)m->start_wall;
	v[n++] = rss;
	for (k = 0; k < ANSWER_N; k++)
		v[n++] = m->answers[k];
	v[n++] = running;
	v[n++] = waiting;
	v[n++] = m->cache_hits;
	v[n++] = m->cache_misses;
	v[n++] = c->evictions;
	v[n++] = c->count;
	v[n++] = usable;
	v[n++] = c->nentries;
	v[n++] = (uint64_t)c->used_blocks * CACHE_BLOCK;
	v[n++] = (uint64_t)c->nblocks * CACHE_BLOCK;
	for (k = 0; k < 4; k++)
		v[n++] = m->fetches[k];
	v[n++] = m->dns_queries;
	v[n++] = m->dns_timeouts;
	v[n++] = m->dns_tcp;
	v[n++] = (uint64_t)d->clients.nactive;
	v[n++] = (uint64_t)(d->clients.cap > 0 ? d->clients.cap : 0);
	v[n++] = m->clients_accepted;
	v[n++] = m->clients_evicted;
	v[n++] = m->snap_writes;
	v[n++] = m->snap_failed;
	v[n++] = m->snap_usec;
	v[n++] = m->snap_last_usec;
	v[n++] = m->scrapes;
	v[n++] = m->http_rejected;
	v[n++] = d->redis.state == R_READY;
	for (k = 0; k < 4; k++)
		v[n++] = d->redis.lookups[k];
	v[n++] = d->redis.writes;
	v[n++] = d->redis.write_errors;
	v[n++] = d->redis.disconnects;
}

size_t
metrics_format(const struct daemon *d, msec_t now, uint64_t rss, int line, char *out,
    size_t cap)
{
	struct mw w;
	uint64_t v[NVALUES];
	size_t i, k, n = 0;

	json_init(&w.j, out, cap);
	w.line = line;
	metrics_values(d, now, rss, v);
	if (line)
		mw_str(&w, "version=" MTASTS_VERSION);
	else
		mw_str(&w, "# HELP mtasts_build_info Version of the running mtasts.\n"
		    "# TYPE mtasts_build_info gauge\n"
		    "mtasts_build_info{version=\"" MTASTS_VERSION "\"} 1\n");
	for (i = 0; i < sizeof mdefs / sizeof mdefs[0]; i++) {
		const struct mdef *f = &mdefs[i];
		family(&w, f->name, f->type == COUNTER || f->type == SECONDS_COUNTER ?
		    "counter" : "gauge", f->help);
		for (k = 0; k < f->n; k++, n++) {
			sample_name(&w, f->name, f->key, f->key ? f->label[k] : NULL);
			if (f->type >= SECONDS_COUNTER) {
				char frac[8];
				mw_u64(&w, v[n] / 1000000);
				snprintf(frac, sizeof frac, ".%06u", (unsigned)(v[n] % 1000000));
				mw_str(&w, frac);
			} else
				mw_u64(&w, v[n]);
			if (!line)
				mw_str(&w, "\n");
		}
	}
	if (w.j.over) {
		if (cap > 0)
			out[0] = '\0';
		return 0;
	}
	return w.j.len;
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
	return pages * (uint64_t)getpagesize();
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
