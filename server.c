/*
 * server.c - the socketmap side: listening sockets, client connections,
 * each with a ring of pipelined requests answered strictly in order.
 * Client slots are allocated once; when they run out the longest-idle
 * connection is closed to make room (Postfix reconnects by itself).
 * A reply too long for a client's REPLY_MAX buffer (a policy of hundreds
 * of mx, up to NS_REPLY_MAX) goes out through one of BIG_REPLIES buffers
 * lent until it is sent; while none is free the client's next reply
 * waits, and so does everything behind it (PFX-8).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon.h"

static const char NOTFOUND[] = "NOTFOUND ";
static const char MALFORMED[] = "PERM malformed request";

/* ---- listeners ---------------------------------------------------------- */

static int
listen_one(struct daemon *d, const char *spec, struct listener *l)
{
	int fd;

	l->path[0] = '\0';
	if (!strncmp(spec, "unix:", 5)) {
		if ((fd = unix_listen(spec + 5, d->conf.socket_mode, LISTEN_BACKLOG)) < 0)
			return -1;
		strlcpy_m(l->path, spec + 5, sizeof l->path);
	} else {
		int loopback;
		if ((fd = tcp_listen(spec, d->conf.reuse_port, LISTEN_BACKLOG, &loopback)) < 0)
			return -1;
		if (!loopback)
			log_warnx("listening on non-loopback %s: socketmap has no "
			    "authentication, anyone who connects can make mtasts "
			    "send DNS and HTTPS traffic", spec);
	}
	l->fd = fd;
	return 0;
}

int
server_listen(struct daemon *d)
{
	int i;

	for (i = 0; i < d->conf.nlisten; i++) {
		if (listen_one(d, d->conf.listen[i], &d->listen[i]) < 0)
			return -1;
		d->nlisten++;
		log_info("listening on %s", d->conf.listen[i]);
	}
	return 0;
}

void
server_close_listeners(struct daemon *d)
{
	int i;

	for (i = 0; i < d->nlisten; i++) {
		close(d->listen[i].fd);
		if (d->listen[i].path[0] != '\0')
			unlink(d->listen[i].path);
	}
	d->nlisten = 0;
}

int
server_init(struct daemon *d, int max_clients)
{
	int i;

	/* malloc, not calloc: the pages stay untouched until a big reply */
	if ((d->big_mem = malloc((size_t)BIG_REPLIES * BIG_REPLY_SIZE)) == NULL)
		return -1;
	for (i = 0; i < BIG_REPLIES; i++)
		d->big_free[i] = d->big_mem + (size_t)i * BIG_REPLY_SIZE;
	d->nbig_free = BIG_REPLIES;
	return pool_init(&d->clients, max_clients, sizeof (struct client),
	    offsetof(struct client, slot));
}

void
server_free(struct daemon *d)
{
	while (d->clients.nactive > 0)
		server_client_close(d, d->clients.active[d->clients.nactive - 1], NULL);
	pool_free(&d->clients);
	free(d->big_mem);
	d->big_mem = NULL;
	d->nbig_free = 0;
}

/* A client is done with its big buffer: others may wait for one. */
static void
big_return(struct daemon *d, struct client *c)
{
	if (c->big == NULL)
		return;
	d->big_free[d->nbig_free++] = c->big;
	c->big = NULL;
	c->bigoff = c->biglen = 0;
	d->wake_clients = 1;
}

/* ---- accepting ------------------------------------------------------ */

/* Close the longest-idle connection, preferring one with nothing pending:
 * limits protect service, they never lock Postfix out. */
static void
evict_idlest(struct daemon *d)
{
	struct client *oldest = NULL;
	int i;

	for (i = 0; i < d->clients.nactive; i++) {
		struct client *c = d->clients.active[i];
		/* prefer an idle connection (nothing pending) as the victim */
		if (oldest == NULL ||
		    (c->qlen == 0 && oldest->qlen != 0) ||
		    ((c->qlen == 0) == (oldest->qlen == 0) && c->last_active < oldest->last_active))
			oldest = c;
	}
	if (oldest != NULL) {
		d->metrics.clients_evicted++;
		server_client_close(d, oldest, NULL);
	}
}

static struct client *
client_slot(struct daemon *d)
{
	struct client *c = pool_get(&d->clients);

	if (c == NULL) {
		log_warnx("max_clients (%d) reached: closing the longest-idle connection",
		    d->clients.cap);
		evict_idlest(d);
		c = pool_get(&d->clients);
	}
	return c;
}

void
server_accept(struct daemon *d, int lfd)
{
	int n;

	for (n = 0; n < ACCEPT_BATCH; n++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct client *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* make room the way a full table does */
				if (d->clients.nactive > 0) {
					log_warn("accept (closing the longest-idle connection)");
					evict_idlest(d);
					continue;
				}
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if ((c = client_slot(d)) == NULL) {   /* no slot at all */
			close(fd);
			return;
		}
		d->metrics.clients_accepted++;
		c->fd = fd;
		c->eof = c->big_wait = 0;
		c->big = NULL;
		c->bigoff = c->biglen = 0;
		c->last_active = d->now;
		c->qhead = c->qlen = 0;
		c->inoff = c->inlen = c->outoff = c->outlen = 0;
		ns_reader_init(&c->rd);
	}
}

/* ---- requests ----------------------------------------------------------- */

static void
request_release(struct daemon *d, struct request *r)
{
	if (r->kind == REQ_JOB && r->job != NULL)
		lookup_release(d, r->job);
	r->job = NULL;
	r->kind = 0;
}

void
server_client_close(struct daemon *d, struct client *c, const char *why)
{
	if (c->fd < 0)
		return;
	if (why != NULL)
		log_info("client fd %d closed: %s", c->fd, why);
	while (c->qlen > 0) {
		request_release(d, &c->q[c->qhead]);
		c->qhead = (c->qhead + 1) % REQ_QUEUE;
		c->qlen--;
	}
	big_return(d, c);
	close(c->fd);
	c->fd = -1;
	pool_put(&d->clients, c);
}

/* A request for domain in zone z, not answered at once: from the cache,
 * from a lookup job, or waiting for a job slot (d->need_job). */
static void
request_assign(struct daemon *d, struct request *r, const struct zone *z)
{
	enum lookup_start_result res;

	if (lookup_cached(d, r->domain, z)) {
		r->kind = REQ_CACHE;
		return;
	}
	r->job = lookup_start(d, r->domain, z, &res);
	switch (res) {
	case LOOKUP_STARTED:
	case LOOKUP_JOINED:
		r->kind = REQ_JOB;
		r->job->refs++;
		r->job->used = 1;       /* refresh_unused_after: Postfix asked */
		break;
	case LOOKUP_JUST_DONE:
		/* its waiters are answered (and it is freed) later in this
		 * pass; then the cache has its result or a new job starts */
	case LOOKUP_NO_SLOT:
		r->kind = REQ_NEEDJOB;
		d->need_job = 1;
		break;
	}
}

/* Turn one request payload "<name> <key>" into a queued request. */
static void
request_add(struct daemon *d, struct client *c, const char *payload, size_t len, int oversize)
{
	struct request *r = &c->q[(c->qhead + c->qlen) % REQ_QUEUE];
	const char *sp = oversize ? NULL : memchr(payload, ' ', len);
	const struct zone *z;
	char buf[96];
	enum key_status ks;

	c->qlen++;
	r->job = NULL;
	r->zone = 0;
	if (oversize) {                 /* NS-4: Postfix sends keys <= 10000 bytes */
		r->kind = REQ_FIXED;
		r->fixed = NOTFOUND;
		return;
	}
	if (sp == NULL) {               /* SM-2 */
		r->kind = REQ_FIXED;
		r->fixed = MALFORMED;
		return;
	}
	z = conf_zone(&d->conf, payload, (size_t)(sp - payload));
	r->zone = (uint8_t)(z - d->conf.zone);
	ks = key_normalize(sp + 1, len - (size_t)(sp - payload) - 1, r->domain);
	if (ks != KEY_OK) {
		log_debug("key \"%s\": %s", log_safe(sp + 1, len - (size_t)(sp - payload) - 1,
		    buf, sizeof buf), key_status_str(ks));
		r->kind = REQ_FIXED;
		r->fixed = NOTFOUND;
		return;
	}
	r->deadline = d->now + (msec_t)z->timeout * 1000;
	request_assign(d, r, z);
	if (r->kind == REQ_CACHE)
		d->metrics.cache_hits++;
	else
		d->metrics.cache_misses++;
}

void
server_retry_need_job(struct daemon *d)
{
	int i, k;

	d->need_job = 0;        /* set again by requests that still wait */
	for (i = d->clients.nactive - 1; i >= 0; i--) {
		struct client *c = d->clients.active[i];
		for (k = 0; k < c->qlen; k++) {
			struct request *r = &c->q[(c->qhead + k) % REQ_QUEUE];
			if (r->kind == REQ_NEEDJOB)
				request_assign(d, r, &d->conf.zone[r->zone]);
		}
		if (c->qlen > 0)
			server_client_io(d, c, 0);
	}
}

void
server_wake(struct daemon *d)
{
	int k;

	d->wake_clients = 0;
	for (k = d->clients.nactive - 1; k >= 0; k--) {
		struct client *c = d->clients.active[k];
		c->big_wait = 0;        /* a big buffer may be free again */
		if (c->qlen > 0)
			server_client_io(d, c, 0);
	}
}

/* Postfix reconnects (to the new instance) when we close an idle
 * connection; busy ones are closed once their answers are out. */
void
server_close_idle(struct daemon *d)
{
	int k;

	for (k = d->clients.nactive - 1; k >= 0; k--) {
		struct client *c = d->clients.active[k];
		if (c->qlen == 0 && c->outlen == c->outoff && c->big == NULL)
			server_client_close(d, c, NULL);
	}
}

void
server_rezone(struct daemon *d, const struct config *nc)
{
	int i, k;

	for (i = 0; i < d->clients.nactive; i++) {
		struct client *c = d->clients.active[i];
		for (k = 0; k < c->qlen; k++) {
			struct request *r = &c->q[(c->qhead + k) % REQ_QUEUE];
			const char *name = d->conf.zone[r->zone].name;
			r->zone = (uint8_t)(conf_zone(nc, name, strlen(name)) - nc->zone);
		}
	}
}

size_t
server_answer(struct daemon *d, const struct request *r, char *out, size_t cap)
{
	const struct zone *z = &d->conf.zone[r->zone];
	struct cache_entry *e;
	struct policy_reply pr;
	static char data[CACHE_DATA_MAX + 1];
	size_t n = 0;

	if (z->dane && (n = danejob_answer(d, r, out, cap)) > 0)
		return n;               /* DANE-1: MTA-STS never overrides DANE */
	memset(&pr, 0, sizeof pr);
	pr.domain = r->domain;
	pr.strict_testing = z->strict_testing;
	pr.sni = z->require_sni;
	pr.tlsrpt = z->tlsrpt;
	switch (r->kind) {
	case REQ_FIXED:
		n = strlcpy_m(out, r->fixed, cap);
		return n < cap ? n : 0;
	case REQ_JOB:
		if (r->job->state == JOB_DONE && r->job->have_policy) {
			pr.mode = r->job->pol.mode;
			pr.max_age = r->job->pol.max_age;
			pr.mx = r->job->pol.mx;
			pr.mxlen = r->job->pol.mxlen;
			n = policy_answer(&pr, out, cap);
			break;
		}
		/* the job left its result (or kept a policy) in the cache */
		/* FALLTHROUGH */
	case REQ_CACHE:
		e = cache_find(&d->cache, r->domain);
		if (e == NULL)
			break;
		if (!cache_usable(e, d->now)) {
			/* RPT-4: the last fetch failed, nothing to apply */
			if (z->fetch_failure && e->fails > 0)
				n = policy_failure_answer(r->domain,
				    (enum fetch_class)e->fail_class, out, cap);
			break;
		}
		if (cache_read(&d->cache, e, data, sizeof data, &pr.mx, &pr.mxlen) > 0) {
			pr.mode = (enum sts_mode)e->mode;
			pr.max_age = e->max_age;
			n = policy_answer(&pr, out, cap);
		}
		break;
	default:
		break;
	}
	if (n == 0)
		n = strlcpy_m(out, NOTFOUND, cap);
	return n;
}

static int
request_ready(const struct daemon *d, const struct request *r)
{
	switch (r->kind) {
	case REQ_FIXED:
	case REQ_CACHE:
		return 1;
	case REQ_JOB:
		return r->job->state == JOB_DONE || d->now >= r->deadline;
	case REQ_NEEDJOB:
		return d->now >= r->deadline;
	}
	return 1;
}

/* Put answer[0..n) framed into the client's output, or else into a big
 * buffer when it cannot fit REPLY_MAX: 1 done, 0 wait (for the client to
 * read, or for a big buffer; none is free: the request waits, in order). */
static int
reply_put(struct daemon *d, struct client *c, const char *answer, size_t n)
{
	size_t w;

	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	w = ns_write(c->out + c->outlen, sizeof c->out - c->outlen, answer, n);
	if (w == 0 && c->outoff > 0) {  /* make room and retry once */
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
		w = ns_write(c->out + c->outlen, sizeof c->out - c->outlen, answer, n);
	}
	if (w > 0) {
		c->outlen += w;
		return 1;
	}
	if (n + 16 <= sizeof c->out)
		return 0;               /* fits once the client has read */
	if (d->nbig_free == 0) {
		c->big_wait = 1;        /* server_wake tries again */
		return 0;
	}
	c->big = d->big_free[--d->nbig_free];
	c->bigoff = 0;
	c->biglen = ns_write(c->big, BIG_REPLY_SIZE, answer, n);
	return 1;
}

void
server_client_flush(struct daemon *d, struct client *c)
{
	/* one request at a time: an answer is copied out before the next */
	static char answer[NS_REPLY_MAX + 1];

	while (c->qlen > 0 && c->big == NULL && !c->big_wait) {
		struct request *r = &c->q[c->qhead];
		size_t n;

		if (!request_ready(d, r))
			break;
		if (r->kind == REQ_JOB && r->job->state != JOB_DONE) {
			log_info("%s: no answer within %d s, answering NOTFOUND",
			    r->domain, d->conf.zone[r->zone].timeout);
			request_release(d, r);
			r->kind = REQ_FIXED;
			r->fixed = NOTFOUND;
		} else if (r->kind == REQ_NEEDJOB) {
			log_warnx("%s: all %d lookup slots busy, answering NOTFOUND",
			    r->domain, d->conf.max_lookups);
			r->kind = REQ_FIXED;
			r->fixed = NOTFOUND;
		}
		n = server_answer(d, r, answer, sizeof answer);
		if (!reply_put(d, c, answer, n))
			break;
		/* OK, NOTFOUND, TEMP, PERM: the first letter tells */
		d->metrics.answers[answer[0] == 'O' ? ANSWER_POLICY : answer[0] == 'N' ?
		    ANSWER_NOTFOUND : answer[0] == 'T' ? ANSWER_TEMP : ANSWER_PERM]++;
		request_release(d, r);
		c->qhead = (c->qhead + 1) % REQ_QUEUE;
		if (--c->qlen == 0)
			c->qhead = 0;   /* an empty ring restarts at its first slot */
	}
}

int
server_client_parse(struct daemon *d, struct client *c)
{
	while (c->inoff < c->inlen && c->qlen < REQ_QUEUE) {
		size_t used = 0;
		enum ns_status st = ns_read(&c->rd, c->in + c->inoff, c->inlen - c->inoff, &used);

		c->inoff += used;
		if (st == NS_ERROR)
			return -1;
		if (st == NS_DONE || st == NS_OVERSIZE) {
			request_add(d, c, c->rd.payload, c->rd.len, st == NS_OVERSIZE);
			ns_reader_init(&c->rd);
		}
	}
	if (c->inoff == c->inlen)
		c->inoff = c->inlen = 0;
	return 0;
}

/* Send out, then the big reply behind it; 0, or -1 on a socket error. */
static int
client_write(struct daemon *d, struct client *c)
{
	while (c->outoff < c->outlen || (c->big != NULL && c->bigoff < c->biglen)) {
		int big = c->outoff == c->outlen;
		const char *p = big ? c->big + c->bigoff : c->out + c->outoff;
		size_t len = big ? c->biglen - c->bigoff : c->outlen - c->outoff;
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		*(big ? &c->bigoff : &c->outoff) += (size_t)n;
		c->last_active = d->now;
	}
	c->outoff = c->outlen = 0;
	big_return(d, c);
	return 0;
}

/* Work this connection can do without waiting for a new event: buffered
 * requests with room in the ring, or answers ready with room to write. */
static int
client_can_progress(const struct daemon *d, const struct client *c)
{
	if (c->inoff < c->inlen && c->qlen < REQ_QUEUE)
		return 1;
	return c->qlen > 0 && c->outlen == c->outoff && c->big == NULL && !c->big_wait &&
	    request_ready(d, &c->q[c->qhead]);
}

void
server_client_io(struct daemon *d, struct client *c, short revents)
{
	int round;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		if (c->inlen < sizeof c->in && !c->eof && c->qlen < REQ_QUEUE) {
			ssize_t n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
			if (n > 0) {
				c->inlen += (size_t)n;
				c->last_active = d->now;
			} else if (n == 0) {
				c->eof = 1;     /* SM-9: still answer what is pending */
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				server_client_close(d, c, NULL);
				return;
			}
		}
	}
	/* Parse, answer, write, until nothing more moves: a ring that was
	 * full may take the rest of the buffered pipeline once it drains
	 * (SM-8).  Each round parses or answers at least one request, and
	 * the input buffer holds at most a few hundred. */
	for (round = 0; round < (int)sizeof c->in; round++) {
		if (server_client_parse(d, c) < 0) {
			log_warnx("client fd %d: bad netstring, closing the connection", c->fd);
			server_client_close(d, c, NULL);
			return;
		}
		server_client_flush(d, c);
		if (client_write(d, c) < 0) {
			server_client_close(d, c, NULL);
			return;
		}
		if (!client_can_progress(d, c))
			break;
	}
	if (c->eof && c->qlen == 0 && c->outlen == 0 && c->big == NULL)
		server_client_close(d, c, NULL);
}

short
server_client_events(const struct client *c)
{
	short ev = 0;

	if (!c->eof && c->qlen < REQ_QUEUE && c->inlen < sizeof c->in)
		ev |= POLLIN;
	if (c->outlen > c->outoff || c->big != NULL)
		ev |= POLLOUT;
	return ev;
}

msec_t
server_client_deadline(const struct daemon *d, const struct client *c)
{
	msec_t idle = c->last_active + (msec_t)d->conf.idle_timeout * 1000, dl;
	int i;

	if (client_can_progress(d, c))
		return d->now;
	/* idle, or stuck writing to a client that stopped reading (SEC-6) */
	if (c->qlen == 0 || c->outlen > c->outoff || c->big != NULL)
		return idle;
	dl = INT64_MAX;
	for (i = 0; i < c->qlen; i++) {
		const struct request *r = &c->q[(c->qhead + i) % REQ_QUEUE];
		if ((r->kind == REQ_JOB || r->kind == REQ_NEEDJOB) && r->deadline < dl)
			dl = r->deadline;
	}
	return dl;
}

/* Deadlines passed: answer late requests, close idle connections and
 * connections that stopped reading their answers. */
void
server_client_timers(struct daemon *d, struct client *c)
{
	if (d->now >= c->last_active + (msec_t)d->conf.idle_timeout * 1000) {
		if (c->outlen > c->outoff || c->big != NULL) {
			log_info("client fd %d: not reading its answers for %d s, closing",
			    c->fd, d->conf.idle_timeout);
			server_client_close(d, c, NULL);
			return;
		}
		if (c->qlen == 0) {
			server_client_close(d, c, NULL);
			return;
		}
	}
	server_client_io(d, c, 0);
}
