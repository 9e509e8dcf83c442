/*
 * daemon.h - the daemon's side of mtasts: the poll loop (mtasts.c), the
 * socketmap server (server.c), lookup jobs (lookup.c) and the slot pools
 * they allocate from (pool.c).  mtasts.h maps the pure modules (parsers,
 * cache, the DNS and HTTPS engines) that the fuzzers include; this header
 * adds what only the loop and its jobs share: their limits first, then
 * their types, then each module's interface.  Modules and prefixes:
 *   pool_    pool.c     fixed slot pool with a free list
 *   server_  server.c   listeners, client connections, request rings
 *   lookup_  lookup.c   one job per domain: TXT -> A/AAAA -> HTTPS -> cache
 *   controld_ controld.c the control socket: dump, purge, refresh, stats
 *   danejob_ danejob.c  a job's DANE phase (MX -> A/AAAA -> TLSA) and answers
 *   mtasts.c            main, start-up, signals, the loop (nothing exported)
 * metrics.h adds the counters (d->metrics) and the metrics_listen responder.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include "mtasts.h"
#include "metrics.h"

/* ---- limits of the daemon --------------------------------------------- */
#define REQ_QUEUE         16     /* pipelined requests per client connection */
#define CLIENT_IN_MAX     2048   /* client input buffer, bytes: several requests */
#define BIG_REPLIES       4      /* buffers for replies over REPLY_MAX (PFX-8),
                                  * lent to one client each until it is sent */
#define BIG_REPLY_SIZE    (NS_REPLY_MAX + 8)   /* "100000:" + payload + "," */
#define LISTEN_BACKLOG    512    /* listen(2) backlog of each listener */
#define ACCEPT_BATCH      64     /* accept(2) calls per listener per loop pass */
#define CLIENTS_MIN       16     /* clients kept however low the fd limit is */
#define FD_PER_LOOKUP     3      /* a lookup holds <= 3 fds: 2 DNS, then 1 HTTPS */
#define FD_RESERVE        32     /* fds beyond pools: logs, snapshots, signals */
#define JOB_SLICE_US      1000   /* lookup work per loop pass before clients
                                  * are served again (a TLS step can cost ms) */
#define JOB_PAGE          4096   /* page size for handing a job's buffers back */
#define JOB_WARM          8      /* free job slots kept resident while lookups run */
#define JOB_WHY_MAX       400    /* a lookup's outcome text, for logs and -q */
#define JOB_STEPS_MAX     8      /* steps of a lookup kept for -v 3 and -j */
#define JOB_STEP_TEXT     96     /* the outcome text of one step */
#define LOOKUP_BACKOFF_MS (5 * 60 * 1000)   /* HTTP-14: no refetch of a failed id */
#define FRESH_AGE_SEC     86400             /* RFC 8461 10.2: refetch daily */
#define BACKOFF_MIN_MS    1000   /* first wait after a failure, at least */
#define BACKOFF_DOUBLINGS 30     /* the failure backoff doubles at most so often */
#define PROACTIVE_TICK_MIN_MS 1000   /* proactive sweeps at most once a second */
#define QUERY_CACHE_ENTRIES 16   /* cache of query mode (-q): one domain */
#define REDIS_PENDING     256    /* commands in flight on the Redis connection: a
                                  * GET per lookup (max_lookups) and the SETs of a
                                  * burst of fetches whose replies are not read yet */
#define REDIS_IN_MAX      (RESP_BULK_MAX + 32)   /* one largest reply */
#define REDIS_VALUE_MAX   SHARED_RECORD_MAX
#define REDIS_OUT_MAX     (2 * SHARED_RECORD_MAX) /* pipelined commands */
#define REDIS_KEY_MAX     (64 + DOMAIN_MAX + 1)  /* redis_prefix + domain */
#define CONTROL_CLIENTS   4      /* control connections at once; a new one
                                  * closes the longest-idle */
#define CONTROL_OUT       (CONTROL_ROW_MAX + 1024)  /* control output buffer:
                                  * >= one dump line, >= METRICS_TEXT_MAX + a
                                  * status line */
#define CONTROL_BUFFERS_PER_PASS 4   /* dump buffers filled per loop pass */
#define CONTROL_SCAN_PER_PASS 65536  /* cache slots a dump walks per pass */

/* ---- pool.c: a fixed pool of same-size slots ---------------------------- */
/* Slots are allocated once and never move (they hold BearSSL contexts).
 * They are handed out from a high-water mark first, then from a free list,
 * so slots never used are never touched and cost no RSS.  The slots in use
 * are listed in active[], in no order; each slot keeps its own index in
 * active[] in an int at index_off, so giving one back is O(1). */
struct pool {
	char *slot;                /* cap slots of size bytes, zeroed */
	size_t size;
	size_t index_off;          /* offsetof the slot's active[] index */
	int cap;
	int mark;                  /* slots handed out at least once */
	void **active;             /* slots in use, nactive of them */
	int nactive;
	void **spare;              /* slots given back, nspare of them */
	int nspare;
};
/* 0, or -1 out of memory (the pool is then empty, safe to pool_free) */
int pool_init(struct pool *p, int cap, size_t size, size_t index_off);
/* Free the slots and lists; p is left empty. */
void pool_free(struct pool *p);
/* A slot, listed in active[], its contents as last left (zero when new);
 * NULL when all cap slots are in use. */
void *pool_get(struct pool *p);
/* Give a slot back: it leaves active[], whose last slot takes its place. */
void pool_put(struct pool *p, void *s);

/* ---- requests, clients, jobs -------------------------------------------- */
enum req_kind {
	REQ_FIXED = 1,             /* answer text decided at once (fixed[]) */
	REQ_CACHE,                 /* answer from the cache entry of domain */
	REQ_JOB,                   /* waiting for (or done with) job */
	REQ_NEEDJOB                /* waiting for a free job slot */
};
struct request {
	uint8_t kind;              /* enum req_kind */
	uint8_t zone;              /* index into config.zone */
	const char *fixed;         /* REQ_FIXED */
	struct job *job;           /* REQ_JOB */
	msec_t deadline;           /* REQ_JOB / REQ_NEEDJOB: answer NOTFOUND then */
	char domain[DOMAIN_MAX + 1];
};
struct client {
	/* Laid out so that a client doing one request at a time (as Postfix
	 * does) touches two pages: the ring restarts at q[0] whenever it
	 * empties, and in, rd.payload and the start of out follow it. */
	int fd;
	int slot;                  /* index in daemon.clients.active */
	int eof;                   /* peer shut its write side */
	int big_wait;              /* its next reply waits for a free big buffer */
	msec_t last_active;
	int qhead, qlen;           /* request ring */
	char *big;                 /* a borrowed big reply, sent after out, or NULL */
	size_t bigoff, biglen;
	size_t inoff, inlen;
	size_t outoff, outlen;
	struct request q[REQ_QUEUE];
	uint8_t in[CLIENT_IN_MAX];
	struct ns_reader rd;
	char out[REPLY_MAX];
};
/* JOB_SHARED: waiting for the shared cache's reply (redis.c) */
enum job_state { JOB_FREE = 0, JOB_TXT, JOB_SHARED, JOB_ADDR, JOB_FETCH, JOB_DONE,
	JOB_DANE };                /* danejob.c: before JOB_TXT, dane zones only */
struct job_step {
	const char *name;          /* static: "TXT query", "connect", ... */
	int64_t ms;                /* how long it took */
	char result[JOB_STEP_TEXT];
};
struct job {
	enum job_state state;
	int slot;                  /* index in daemon.jobs.active */
	int refs;                  /* requests waiting on it */
	int qbusy[2];              /* address queries still running */
	const struct zone *zone;   /* of the request that started it */
	msec_t started;
	msec_t shared_asked;       /* JOB_SHARED since */
	char domain[DOMAIN_MAX + 1];
	char host[DOMAIN_MAX + 1]; /* mta-sts.<domain> */
	char id[TXT_ID_MAX + 1];
	int force;                 /* proactive refresh: fetch even if current */
	int have_policy;           /* pol holds the freshly fetched policy */
	char why[JOB_WHY_MAX];     /* outcome, for logs and query mode */
	char code[TLS_REASON_MAX + 32]; /* RFC 8460 type and reason code, or "" */
	int failed;                /* why explains a failure: no policy learned */
	int used;                  /* a socketmap request asked for it: the
	                            * entry counts as used (refresh_unused_after) */
	/* A failed fetch (RPT-3), for the log line and query mode */
	int64_t fail_wall;         /* UNIX time of the failure, 0 = none */
	enum fetch_class fail_cls;
	char reason[TLS_REASON_MAX];   /* "http-status-404", "BR_ERR_X509_EXPIRED" */
	char fail_ip[48];          /* Policy Host IP if connected, "" if not */
	int kept_mode;             /* enum sts_mode of the cached policy kept, -1 none */
	int64_t kept_expires;      /* its expiry, UNIX seconds */
	int nsteps;
	struct job_step steps[JOB_STEPS_MAX];
	/* DANE phase (danejob.c); its small fields share the pages of those
	 * above, which every lookup touches */
	uint8_t dane;              /* enum dane_state this job learned, 0: none */
	uint8_t dphase;            /* MX, addresses or TLSA of host hi */
	uint8_t nhost, hi, hmore;
	uint8_t hres[DANE_HOSTS_MAX];   /* enum dane_host per host */
	uint32_t dttl;             /* smallest TTL so far, seconds */
	msec_t ddeadline;          /* of the whole DANE phase */
	char dane_why[JOB_STEP_TEXT];   /* a failure's reason, for the TEMP answer */
	struct policy pol;         /* 33 KB, of which a lookup touches the start */
	char dhost[DANE_HOSTS_MAX][DOMAIN_MAX + 1];
	/* The big buffers last, q before fetch, nothing after: lookup.c hands
	 * their pages back to the kernel as one range from &q[0] to the end of
	 * the struct, and the DNS part alone from &q[0] to &fetch (checked at
	 * compile time there). */
	struct dns_query q[2];     /* TXT, then A and AAAA */
	struct tls_fetch fetch;
};
/* The shared cache's connection: one, to Redis or (asking) a sentinel */
struct redis_pending {
	uint8_t kind;              /* what the reply is for (redis.c) */
	struct job *job;           /* a GET's lookup, waiting in JOB_SHARED */
	msec_t sent;
};
/* R_READY: connected, authenticated, the database selected */
enum redis_state { R_OFF = 0, R_WAIT, R_CONNECTING, R_ASKING, R_HANDSHAKE, R_READY };
struct redis {
	enum redis_state state;
	int fd;
	int asking;                /* connected to a sentinel, not to Redis */
	int sentinel;              /* which redis_sentinel to ask next */
	int target_known;          /* master holds what a sentinel named */
	struct sockaddr_storage master;
	socklen_t masterlen;
	msec_t since;              /* connect started */
	msec_t retry_at;           /* R_WAIT: reconnect then */
	msec_t backoff;
	int down_logged, up_logged, set_error_logged;
	char user[64];
	char password[256];
	int phead, plen;
	struct redis_pending pend[REDIS_PENDING];
	size_t inlen, outlen, outoff;
	uint8_t *in, *out, *scratch;   /* allocated once when configured */
	/* for the metrics: lookups asked (by outcome), writes, connections lost */
	uint64_t lookups[4];       /* enum redis_outcome */
	uint64_t writes, write_errors, disconnects;
};
enum redis_outcome { REDIS_HIT = 0, REDIS_MISS, REDIS_IGNORED, REDIS_FAILED };
struct listener {
	int fd;
	char path[108];            /* unix socket path to unlink, or "" */
};
/* A control connection: one command at a time; a dump is streamed from
 * the cache by slot index (cursor) as the socket drains. */
struct control_conn {
	int fd;
	int slot;                  /* index in daemon.controls.active */
	int eof;                   /* peer shut its write side */
	int closing;               /* close once out is sent (line too long) */
	msec_t last_active;
	enum control_cmd dumping;  /* CTL_DUMP or CTL_DUMP_JSON while streaming */
	uint32_t cursor;           /* next cache slot to dump */
	uint32_t count;            /* entries dumped so far */
	size_t inlen, outoff, outlen;
	char in[CONTROL_LINE_MAX + 1];
	char out[CONTROL_OUT];
};
struct daemon {
	struct config conf;
	struct cache cache;
	struct anchors anchors;
	struct dns_servers servers;
	int nlisten;
	struct listener listen[LISTEN_MAX];
	int control_on;            /* control listens on control_listener */
	struct listener control_listener;
	ino_t control_ino;         /* its inode: unlinked at exit only if still ours */
	struct pool controls;      /* struct control_conn, CONTROL_CLIENTS slots */
	/* Only the active lists are walked, so slots never used are never
	 * touched.  clients.cap can be below conf.max_clients when the open
	 * file limit is too low for it. */
	struct pool clients;       /* struct client */
	char *big_mem;             /* BIG_REPLIES x BIG_REPLY_SIZE, pages untouched
	                            * until a big reply needs them */
	char *big_free[BIG_REPLIES];   /* the buffers not lent out */
	int nbig_free;
	struct pool jobs;          /* struct job, conf.max_lookups slots */
	struct job *warm[JOB_WARM];    /* free job slots whose pages are still
	                                * resident, the one freed first first */
	int nwarm;
	int wake_clients;          /* a job finished: flush waiting clients */
	int need_job;              /* requests are waiting for a job slot */
	uint64_t cache_changes;    /* bumped on every cache update (snapshots) */
	msec_t proactive_next;     /* next proactive sweep */
	uint32_t proactive_cursor; /* sweep position in the cache, CACHE_NIL = idle */
	msec_t now;
	const char *conf_path;     /* for SIGHUP */
	int conf_given;
	struct anchors anchors_next;   /* reloaded CA, swapped in when no fetch runs */
	int stopping;              /* SIGTERM: finish pending requests, then exit */
	int snap_pid;              /* snapshot writer child, 0 = none */
	uint64_t snap_saved;       /* cache_changes at the last snapshot */
	msec_t snap_next;
	msec_t snap_started;       /* when the snapshot writer was forked */
	struct metrics metrics;    /* counters, see metrics.h */
	struct httpd httpd;        /* metrics_listen */
	struct redis redis;        /* the shared cache, if configured */
	int dane_ok;               /* the nameservers are on loopback (DANE-2) */
};

/* ---- server.c: listeners and clients ------------------------------------ */
/* Every function takes the daemon, which owns listeners, clients and their
 * requests; a client pointer stays valid until server_client_close. */

/* Open every configured listener: 0, or -1 after logging why. */
int server_listen(struct daemon *d);
/* Close every listener (unlinking unix sockets); accepted clients stay. */
void server_close_listeners(struct daemon *d);
/* Allocate max_clients client slots: 0, or -1 out of memory. */
int server_init(struct daemon *d, int max_clients);
/* Close every client, then free the slots (before lookup_free). */
void server_free(struct daemon *d);
/* Accept up to ACCEPT_BATCH pending connections on listener fd lfd. */
void server_accept(struct daemon *d, int lfd);
/* Read (when revents asks), parse, answer and write what can be; the
 * client may be closed (and its slot reused) on return. */
void server_client_io(struct daemon *d, struct client *c, short revents);
/* poll() events the client needs (0: none right now) */
short server_client_events(const struct client *c);
/* When the client next needs server_client_timers (d->now: at once) */
msec_t server_client_deadline(const struct daemon *d, const struct client *c);
/* Its deadline passed: answer late requests, close if idle too long. */
void server_client_timers(struct daemon *d, struct client *c);
/* Close the connection and release its requests; why (or NULL) is logged. */
void server_client_close(struct daemon *d, struct client *c, const char *why);
/* Jobs finished: answer the clients that wait for them. */
void server_wake(struct daemon *d);
/* Job slots freed: give waiting (REQ_NEEDJOB) requests a job or the cache. */
void server_retry_need_job(struct daemon *d);
/* Stopping: close the connections with nothing pending or unsent. */
void server_close_idle(struct daemon *d);
/* SIGHUP: point each queued request at the zone of the same name in nc
 * (the default zone when it is gone); call before nc replaces d->conf. */
void server_rezone(struct daemon *d, const struct config *nc);
/* Format the answer for a request into out (no framing); returns its
 * length (the text is not NUL-terminated when it fills cap exactly). */
size_t server_answer(struct daemon *d, const struct request *r, char *out, size_t cap);
/* The request ring without the socket, for tests/unit_server.c: parse
 * buffered input into requests (-1: bad netstring, close the client), and
 * move the answered requests at the head of the ring into the output. */
int server_client_parse(struct daemon *d, struct client *c);
void server_client_flush(struct daemon *d, struct client *c);

/* ---- danejob.c: DANE before MTA-STS (DANE-1..6) ---------------------- */
/* Should a job for domain, started for zone z, run the DANE phase? */
int danejob_wanted(struct daemon *d, const char *domain, const struct zone *z);
/* Begin the DANE phase of j (state JOB_DANE); it ends in lookup_dane_done. */
void danejob_start(struct daemon *d, struct job *j);
/* lookup_poll and lookup_step for a job in JOB_DANE */
int danejob_poll(const struct job *j, int which, int *fd, short *events, msec_t *deadline);
void danejob_step(struct daemon *d, struct job *j, int which, short revents);
/* lookup_cached for a dane zone: 1 answer now (a DANE decision stands,
 * refreshed in the background when stale), 0 a lookup is needed, -1 DANE
 * does not decide: MTA-STS does. */
int danejob_cached(struct daemon *d, struct cache_entry *e, const char *domain,
                   const struct zone *z);
/* server_answer's first word for a dane zone: "OK dane-only", "OK dane"
 * or "TEMP dnssec lookup failed..." into out, its length; 0 when MTA-STS
 * answers. */
size_t danejob_answer(struct daemon *d, const struct request *r, char *out, size_t cap);
/* -q: the decision and each host, one line each, into f */
void danejob_print(const struct job *j);

/* ---- controld.c: the control socket ------------------------------------ */
/* Open the conf.control socket, mode 0600, and its slots (nothing when
 * control is ""): 0, or -1 after logging why.  The caller chowns it to
 * the daemon's user before dropping root. */
int controld_listen(struct daemon *d);
/* Close the connections and the socket (unlinked); free the slots. */
void controld_free(struct daemon *d);
/* Accept pending control connections. */
void controld_accept(struct daemon *d);
/* Read, run commands, stream, write; the connection may be closed. */
void controld_io(struct daemon *d, struct control_conn *c, short revents);
/* poll() events the connection needs (0: none right now) */
short controld_events(const struct control_conn *c);
/* When controld_timers must run for it */
msec_t controld_deadline(const struct daemon *d, const struct control_conn *c);
/* Its deadline passed: close it when idle or not reading too long. */
void controld_timers(struct daemon *d, struct control_conn *c);
/* One cache entry as a dump row; data[CONTROL_ROW_MAX] holds its
 * strings.  0, or -1 when it cannot be read. */
int controld_row(const struct daemon *d, const struct cache_entry *e, char *data,
                 struct control_row *r);

/* ---- lookup.c: lookup jobs ---------------------------------------------- */
/* Jobs live in d->jobs; a job pointer stays valid while a request holds a
 * reference (refs) or, without one, until it is done. */

/* Allocate conf.max_lookups job slots: 0, or -1 out of memory. */
int lookup_init(struct daemon *d);
/* Abort every running job and free the slots. */
void lookup_free(struct daemon *d);
enum lookup_start_result {
	LOOKUP_STARTED,            /* a new job: returned */
	LOOKUP_JOINED,             /* a job for the domain was running: returned */
	LOOKUP_JUST_DONE,          /* a job for the domain has finished but its
	                            * waiters have not had their answers yet: NULL;
	                            * ask again once they have (its result is then
	                            * in the cache, or a new job can start) */
	LOOKUP_NO_SLOT             /* every job slot is busy: NULL */
};
/* Find the running job for domain or start one (z bounds its time);
 * *res says which, or why NULL.  The caller takes a reference (refs++) to
 * keep a job after it is done. */
struct job *lookup_start(struct daemon *d, const char *domain, const struct zone *z,
                         enum lookup_start_result *res);
/* A free job slot (NULL: none), no longer counted among the warm ones. */
struct job *lookup_slot(struct daemon *d);
/* The DANE phase of j is over (danejob.c): finish, or go on to MTA-STS. */
void lookup_dane_done(struct daemon *d, struct job *j);
/* Drop a reference; the slot is freed when the last goes and it is done. */
void lookup_release(struct daemon *d, struct job *j);
/* For the loop: part which (0 or 1) of a running job.  Returns 0 when that
 * part has nothing in progress, else 1 with *fd (-1: only a timer), the
 * poll *events and the *deadline at which lookup_step must run. */
int lookup_poll(const struct job *j, int which, int *fd, short *events, msec_t *deadline);
/* Advance part which after poll() reported revents (0: its deadline). */
void lookup_step(struct daemon *d, struct job *j, int which, short revents);
/* 1 when any job is fetching over HTTPS (and so uses the trust anchors) */
int lookup_fetching(const struct daemon *d);
/* Cache consulted for a request: answer at once (1) or wait (0);
 * starts a background revalidation when the entry is due for one. */
int lookup_cached(struct daemon *d, const char *domain, const struct zone *z);
/* Proactive refresh: start the refreshes that are due (the next sweep is
 * at d->proactive_next). */
void lookup_proactive(struct daemon *d);
/* SIGHUP: point each job at the zone of the same name in nc (the default
 * zone when it is gone); call before nc replaces d->conf. */
void lookup_rezone(struct daemon *d, const struct config *nc);
/* The shared cache answered job j (in JOB_SHARED): a value v[0..len), a
 * miss (v NULL, err NULL) or a failure (err says what).  v is only valid
 * during the call.  Either answers j from the record or starts its fetch. */
void lookup_shared_result(struct daemon *d, struct job *j, const uint8_t *v, size_t len,
                          const char *err);

/* ---- redis.c: the shared cache's connection ------------------------------ */
void redis_init(struct redis *r);
/* (Re)read the redis settings and the password file, drop any connection
 * and connect afresh: 0, or -1 after logging why (sharing then stays off). */
int redis_configure(struct daemon *d);
/* The fd to poll (-1: none now), its events, and when to call redis_step */
int redis_poll(const struct daemon *d, short *events, msec_t *deadline);
/* I/O and timers; call every loop pass (revents 0 when not polled). */
void redis_step(struct daemon *d, short revents);
/* Ask for j's domain: 1 when asked (lookup_shared_result follows, maybe
 * from within a later redis_step), 0 when sharing is not up now. */
int redis_get(struct daemon *d, struct job *j);
/* Share a policy just fetched (the body as served); dropped when not up. */
void redis_put(struct daemon *d, const char *domain, const char *id, int64_t fetched_wall,
               uint32_t max_age, const uint8_t *body, size_t bodylen);
/* Close and free; waiting lookups go on to their fetches. */
void redis_free(struct daemon *d);

/* The decisions of lookup.c, pure given the clock (now: monotonic ms,
 * wall: UNIX seconds), exported for tests/unit_lookup.c. */
enum lookup_cache_use {
	CACHED_NONE,               /* no entry: a lookup is needed */
	CACHED_EXPIRED,            /* a policy whose max_age ran out: drop it */
	CACHED_FRESH,              /* answer from the entry */
	CACHED_RECHECK             /* answer, and recheck TXT in the background */
};
enum lookup_cache_use lookup_cache_use(const struct cache_entry *e, msec_t now);
enum fetch_need { FETCH_NOT_NEEDED, FETCH_NEEDED, FETCH_BACKING_OFF };
/* TXT announced id (force: a proactive refresh): fetch the policy? */
enum fetch_need lookup_need_fetch(const struct cache_entry *e, const char *id, int force,
                                  msec_t now, int64_t wall);
/* A policy last asked for by a socketmap request at used_wall (UNIX
 * seconds, 0 never) is still in use at wall: unused_after 0, or asked
 * within unused_after seconds.  Proactive refresh skips unused ones. */
int lookup_in_use(uint32_t used_wall, int unused_after, int64_t wall);
/* The RPT-3 fields of j's failed fetch as one line of key=value pairs:
 * "time=... domain=... id=... result=... reason=... ip=... cached=..."
 * ("expires=..." after a cached mode).  Returns the length snprintf gives. */
size_t lookup_failure_fields(const struct job *j, char *out, size_t cap);
/* Milliseconds until the next TXT check: cache_grace after a success;
 * after the fails-th failure in a row, cache_grace (>= BACKOFF_MIN_MS)
 * doubled fails-1 times, capped at backoff_max (seconds). */
msec_t lookup_check_wait(int cache_grace, int backoff_max, unsigned fails, int failed);
/* A policy fetched age seconds ago or more, usable, and not in a
 * failure backoff: due for a proactive refresh? */
int lookup_refresh_due(const struct cache_entry *e, int64_t age, msec_t now, int64_t wall);

#endif
