/*
 * metrics.h - what the daemon counts, and where it can be read:
 *   metrics_  metrics.c  the counters, rendered as Prometheus text or as
 *                        one log line (SIGUSR1)
 *   httpd_    httpd.c    metrics_listen: a minimal HTTP/1.1 GET responder
 *                        in the poll loop, and its request parser (pure)
 * Counting is a plain increment of a uint64_t field of d->metrics where
 * the event happens: no call, no lock.  Gauges (clients, lookups, cache
 * occupancy, RSS) are read from the daemon's own state when rendering,
 * which happens only on request.
 */
#ifndef METRICS_H
#define METRICS_H

#include "mtasts.h"

/* ---- limits ----------------------------------------------------------- */
#define METRICS_TEXT_MAX  12288  /* the Prometheus text (about 5 KiB today) */
#define METRICS_LINE_MAX  (LOG_LINE_MAX - 64)  /* SIGUSR1 line; room for log.c's prefix */
#define HTTPD_CONNS       4      /* metrics connections at once */
#define HTTPD_REQ_MAX     2048   /* request line and header fields, bytes */
#define HTTPD_FIELDS_MAX  32     /* header fields per request */
#define HTTPD_READ_MS     5000   /* the whole request must arrive within */
#define HTTPD_CONN_MS     10000  /* a connection lives at most this long */
#define HTTPD_LINGER_MS   1000   /* draining input after the answer, at most */
#define HTTPD_OUT_MAX     (METRICS_TEXT_MAX + 256)   /* response head + text */

/* ---- the counters ------------------------------------------------------ */
/* What a socketmap request was answered (server.c, by its first letter). */
enum metrics_answer { ANSWER_POLICY = 0, ANSWER_NOTFOUND, ANSWER_TEMP, ANSWER_PERM,
	ANSWER_N };
struct metrics {
	int64_t start_wall;          /* UNIX seconds at start-up */
	uint64_t answers[ANSWER_N];  /* socketmap answers sent */
	uint64_t cache_hits;         /* requests answered from the cache */
	uint64_t cache_misses;       /* requests that needed a lookup */
	uint64_t fetches[4];         /* policy fetches by enum fetch_class */
	uint64_t dns_queries;        /* DNS messages sent (UDP and TCP) */
	uint64_t dns_timeouts;       /* attempts that got no answer in time */
	uint64_t dns_tcp;            /* truncated answers asked again over TCP */
	uint64_t clients_accepted;
	uint64_t clients_evicted;    /* longest-idle closed to make room */
	uint64_t snap_writes;        /* snapshots written */
	uint64_t snap_failed;        /* snapshot writes that failed */
	uint64_t snap_usec;          /* time spent writing snapshots */
	uint64_t snap_last_usec;     /* the last write's duration */
	uint64_t scrapes;            /* metrics_listen: /metrics answered */
	uint64_t http_rejected;      /* metrics_listen: other answers, timeouts */
};

struct daemon;
/* The metrics of d in Prometheus text exposition format (version 0.0.4)
 * into out[cap], NUL-terminated; returns the length, or 0 when it did not
 * fit (out then holds no partial text).  Reads /proc/self/statm for RSS. */
size_t metrics_render(const struct daemon *d, msec_t now, char *out, size_t cap);
/* The same metrics as one line of name=value pairs (for the log); returns
 * the length, or 0 when it did not fit. */
size_t metrics_render_line(const struct daemon *d, msec_t now, char *out, size_t cap);
/* metrics_render with the resident set size given (pure: for tests). */
size_t metrics_format(const struct daemon *d, msec_t now, uint64_t rss, int line,
                      char *out, size_t cap);
/* Resident set size in bytes from /proc/self/statm, 0 if unknown. */
uint64_t metrics_rss(void);

/* ---- httpd.c: the metrics_listen responder ----------------------------- */
/* A parsed request head; pointers into the caller's buffer. */
struct httpd_request {
	const char *method;
	size_t methodlen;
	const char *target;
	size_t targetlen;
	int minor;                   /* HTTP/1.minor */
	int nfields;
	int nhost;                   /* Host fields seen */
	size_t len;                  /* bytes of the head, blank line included */
};
/* Parse the request head at buf[0..len).  Returns 0 while it is
 * incomplete and valid so far (and len < HTTPD_REQ_MAX), else the status
 * to answer: 200 (GET /metrics), 400 (bad syntax, no Host in HTTP/1.1),
 * 404 (another path), 405 (another method), 414 (request line longer than
 * HTTPD_REQ_MAX), 431 (header section too large, too many fields), 505
 * (not HTTP/1.x).  Pure: never reads past len. */
int httpd_parse(const uint8_t *buf, size_t len, struct httpd_request *r);

enum httpd_state { HTTPD_FREE = 0, HTTPD_READ, HTTPD_WRITE, HTTPD_LINGER };
struct httpd_conn {
	int fd;
	int state;                   /* enum httpd_state */
	msec_t started;
	msec_t deadline;             /* of the current state */
	size_t inlen;
	size_t outoff, outlen;
	uint8_t in[HTTPD_REQ_MAX];
	char out[HTTPD_OUT_MAX];
};
struct httpd {
	int fd;                      /* listener, -1 = metrics_listen off */
	msec_t paused_until;         /* accept(2) failed (EMFILE): rest till then */
	struct httpd_conn *conn;     /* HTTPD_CONNS, allocated when listening */
};
/* Listen on conf.metrics_listen if set: 0, or -1 after logging why. */
int httpd_listen(struct daemon *d);
/* Close the listener and every connection, free the slots. */
void httpd_close(struct daemon *d);
/* Accept pending connections on the listener; when accept(2) fails for
 * want of descriptors or memory, the listener rests for a second instead
 * of waking the loop at once again. */
void httpd_accept(struct daemon *d);
/* Connection i: its fd (-1 when free), the events and deadline to wait for. */
int httpd_poll(const struct daemon *d, int i, short *events, msec_t *deadline);
/* Connection i after poll() reported revents, or its deadline passed. */
void httpd_step(struct daemon *d, int i, short revents);

#endif
