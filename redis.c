/*
 * redis.c - the optional shared cache: one non-blocking connection to a
 * Redis server, found directly or through Redis Sentinel, driven by the
 * daemon's poll loop.  Replies come back in the order commands were sent,
 * so a ring of pending commands says what each reply is for.
 *
 * Redis is a second level only: cached answers never touch it, a lookup
 * asks it only when nothing usable is cached, and whatever goes wrong
 * (down, slow, full, hostile) closes the connection, hands every waiting
 * lookup back to its own HTTPS fetch, and retries later with backoff.
 * Buffers are allocated once, when a server is configured.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "daemon.h"

enum { P_AUTH, P_SELECT, P_ROLE, P_ASK_MASTER, P_GET, P_SET };

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_LAST_MS  30000

static void
pending_push(struct redis *r, int kind, struct job *j, msec_t now)
{
	struct redis_pending *p = &r->pend[(r->phead + r->plen++) % REDIS_PENDING];

	p->kind = (uint8_t)kind;
	p->job = j;
	p->sent = now;
}

/* Queue one command; 0, or -1 when the ring or the buffer is full. */
static int
send_cmd(struct redis *r, int kind, struct job *j, msec_t now, int argc,
    const char *const *argv, const size_t *argl)
{
	size_t n;

	if (r->plen == REDIS_PENDING)
		return -1;
	if (r->outoff > 0 && r->outoff == r->outlen)
		r->outoff = r->outlen = 0;
	n = resp_command(r->out + r->outlen, REDIS_OUT_MAX - r->outlen, argc, argv, argl);
	if (n == 0)
		return -1;
	r->outlen += n;
	pending_push(r, kind, j, now);
	return 0;
}

/* Every lookup waiting on a reply goes back to its own fetch. */
static void
fail_pending(struct daemon *d, struct redis *r)
{
	while (r->plen > 0) {
		struct redis_pending *p = &r->pend[r->phead];
		r->phead = (r->phead + 1) % REDIS_PENDING;
		r->plen--;
		if (p->kind == P_GET)
			lookup_shared_result(d, p->job, NULL, 0, "shared cache unavailable");
	}
	r->phead = 0;
}

static void
down(struct daemon *d, const char *why)
{
	struct redis *r = &d->redis;

	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->inlen = r->outlen = r->outoff = 0;
	fail_pending(d, r);
	if (!r->down_logged)
		log_warnx("redis: %s; answering standalone until it is back", why);
	r->down_logged = 1;
	r->disconnects++;
	r->state = R_WAIT;
	r->retry_at = d->now + r->backoff;
	r->backoff = r->backoff * 2 > BACKOFF_LAST_MS ? BACKOFF_LAST_MS : r->backoff * 2;
	if (d->conf.redis_nsentinel > 0)
		r->sentinel = (r->sentinel + 1) % d->conf.redis_nsentinel;
	r->target_known = 0;
}

/* "ADDR:PORT", "[ADDR6]:PORT" or "unix:/path" into a socket address */
static int
target_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		memset(sun, 0, sizeof *sun);
		sun->sun_family = AF_UNIX;
		if (strlen(spec + 5) >= sizeof sun->sun_path)
			return -1;
		strlcpy_m(sun->sun_path, spec + 5, sizeof sun->sun_path);
		*len = sizeof *sun;
		return 0;
	}
	return hostport_addr(spec, strlen(spec), 0, ss, len);
}

static void
start_connect(struct daemon *d)
{
	struct redis *r = &d->redis;
	const struct config *c = &d->conf;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *spec;

	r->asking = c->redis_nsentinel > 0 && !r->target_known;
	spec = r->asking ? c->redis_sentinel[r->sentinel] : c->redis;
	if (r->target_known) {
		ss = r->master;
		len = r->masterlen;
	} else if (target_addr(spec, &ss, &len) < 0) {
		down(d, "bad server address");
		return;
	}
	r->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		down(d, "cannot create a socket");
		return;
	}
	if (connect(r->fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		char why[200];
		snprintf(why, sizeof why, "connect to %s: %s", r->asking ? spec : "master",
		    strerror(errno));
		down(d, why);
		return;
	}
	r->state = R_CONNECTING;
	r->since = d->now;
}

/* Connected: authenticate, then ask a sentinel for the master, or pick
 * the database (and make sure a sentinel's master still is one). */
static void
connected(struct daemon *d)
{
	struct redis *r = &d->redis;
	const char *argv[3];
	char db[12];
	int n = 0;

	if (r->user[0] != '\0')
		argv[n++] = "AUTH", argv[n++] = r->user, argv[n++] = r->password;
	else if (r->password[0] != '\0')
		argv[n++] = "AUTH", argv[n++] = r->password;
	if (n > 0)
		send_cmd(r, P_AUTH, NULL, d->now, n, argv, NULL);
	if (r->asking) {
		argv[0] = "SENTINEL", argv[1] = "get-master-addr-by-name";
		argv[2] = d->conf.redis_master;
		send_cmd(r, P_ASK_MASTER, NULL, d->now, 3, argv, NULL);
		r->state = R_ASKING;
		return;
	}
	snprintf(db, sizeof db, "%d", d->conf.redis_db);
	argv[0] = "SELECT", argv[1] = db;
	send_cmd(r, P_SELECT, NULL, d->now, 2, argv, NULL);
	if (d->conf.redis_nsentinel > 0) {
		argv[0] = "ROLE";
		send_cmd(r, P_ROLE, NULL, d->now, 1, argv, NULL);
	}
	r->state = R_HANDSHAKE;
}

/* The sentinel named the master: connect to it next. */
static int
master_from(struct redis *r, const struct resp_reply *rep)
{
	char host[64], port[8], spec[80];
	const struct resp_item *h = &rep->elem[0], *p = &rep->elem[1];

	if (rep->top.type != RESP_ARRAY || rep->nelem != 2 || h->type != RESP_BULK ||
	    p->type != RESP_BULK || h->len == 0 || h->len >= sizeof host || p->len == 0 ||
	    p->len >= sizeof port)
		return -1;
	memcpy(host, h->s, h->len);
	host[h->len] = '\0';
	memcpy(port, p->s, p->len);
	port[p->len] = '\0';
	snprintf(spec, sizeof spec, strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s", host, port);
	if (hostport_addr(spec, strlen(spec), 0, &r->master, &r->masterlen) < 0)
		return -1;
	r->target_known = 1;
	return 0;
}

static void
log_error_reply(const char *what, const struct resp_item *it)
{
	char text[96];

	log_warnx("redis: %s: %s", what, log_safe(it->s, it->len, text, sizeof text));
}

/* One reply, for the oldest pending command; -1 closes the connection. */
static int
reply(struct daemon *d, const struct resp_reply *rep)
{
	struct redis *r = &d->redis;
	struct redis_pending p = r->pend[r->phead];
	const struct resp_item *t = &rep->top;

	r->phead = (r->phead + 1) % REDIS_PENDING;
	r->plen--;
	switch (p.kind) {
	case P_AUTH:
		/* a sentinel without a password refuses AUTH: that is fine */
		if (t->type == RESP_ERROR && !r->asking) {
			if (!r->down_logged)    /* once, not at every retry */
				log_error_reply("AUTH refused", t);
			return -1;
		}
		return 0;
	case P_ASK_MASTER:
		if (master_from(r, rep) < 0) {
			log_warnx("redis: sentinel %s does not name a master \"%s\"",
			    d->conf.redis_sentinel[r->sentinel], d->conf.redis_master);
			return -1;
		}
		/* done with the sentinel: on to the master */
		close(r->fd);
		r->fd = -1;
		r->inlen = r->outlen = r->outoff = 0;
		start_connect(d);
		return r->fd >= 0 ? 1 : 0;
	case P_SELECT:
		if (!resp_is(t, "OK")) {
			log_error_reply("SELECT refused", t);
			return -1;
		}
		if (d->conf.redis_nsentinel == 0)
			goto ready;
		return 0;
	case P_ROLE:
		if (t->type != RESP_ARRAY || rep->nelem < 1 || !resp_is(&rep->elem[0], "master")) {
			log_warnx("redis: the server the sentinel named is not a master");
			return -1;
		}
ready:
		r->state = R_READY;
		r->backoff = BACKOFF_FIRST_MS;
		r->set_error_logged = 0;
		if (r->down_logged || !r->up_logged)
			log_info("redis: connected%s; sharing policies",
			    d->conf.redis_nsentinel > 0 ? " to the master the sentinel named" : "");
		r->down_logged = 0;
		r->up_logged = 1;
		return 0;
	case P_GET:
		if (t->type == RESP_ERROR) {
			char why[96], text[64];
			snprintf(why, sizeof why, "redis error: %s",
			    log_safe(t->s, t->len, text, sizeof text));
			lookup_shared_result(d, p.job, NULL, 0, why);
			/* a replica after a failover: find the new master */
			return t->len >= 8 && !memcmp(t->s, "READONLY", 8) ? -1 : 0;
		}
		if (t->type == RESP_NIL || (t->type == RESP_BULK && t->len == 0)) {
			lookup_shared_result(d, p.job, NULL, 0, NULL);
		} else if (t->type == RESP_BULK) {
			lookup_shared_result(d, p.job, t->s, t->len, NULL);
		} else {
			lookup_shared_result(d, p.job, NULL, 0, "unexpected redis reply");
		}
		return 0;
	case P_SET:
		if (t->type == RESP_ERROR) {
			r->write_errors++;
			if (!r->set_error_logged)
				log_error_reply("write refused", t);
			r->set_error_logged = 1;
			if (t->len >= 8 && !memcmp(t->s, "READONLY", 8))
				return -1;
		} else {
			r->writes++;
		}
		return 0;
	}
	return 0;
}

static void
on_readable(struct daemon *d)
{
	struct redis *r = &d->redis;
	struct resp_reply rep;
	size_t used, off = 0;
	ssize_t n;
	int rc;

	n = read(r->fd, r->in + r->inlen, REDIS_IN_MAX - r->inlen);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		down(d, n == 0 ? "connection closed by the server" : "read failed");
		return;
	}
	if (n < 0)
		return;
	r->inlen += (size_t)n;
	while (r->fd >= 0 && off < r->inlen) {
		rc = resp_parse(r->in + off, r->inlen - off, &rep, &used);
		if (rc == RESP_MORE) {
			if (r->inlen == REDIS_IN_MAX && off == 0) {
				down(d, "reply larger than any record");
				return;
			}
			break;
		}
		if (rc == RESP_BAD || r->plen == 0) {
			down(d, rc == RESP_BAD ? "not a RESP2 reply" : "a reply nobody asked for");
			return;
		}
		off += used;
		rc = reply(d, &rep);
		if (rc < 0) {
			down(d, "connection given up");
			return;
		}
		if (rc > 0)
			return;         /* a new connection: the old input is gone */
	}
	if (r->fd >= 0 && off > 0) {
		memmove(r->in, r->in + off, r->inlen - off);
		r->inlen -= off;
	}
}

static void
on_writable(struct daemon *d)
{
	struct redis *r = &d->redis;
	ssize_t n;

	if (r->state == R_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof err;
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
			char why[128];
			snprintf(why, sizeof why, "connect: %s", strerror(err ? err : errno));
			down(d, why);
			return;
		}
		connected(d);
	}
	while (r->outoff < r->outlen) {
		n = send(r->fd, r->out + r->outoff, r->outlen - r->outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				down(d, "write failed");
			return;
		}
		r->outoff += (size_t)n;
	}
	r->outoff = r->outlen = 0;
}

int
redis_poll(const struct daemon *d, short *events, msec_t *deadline)
{
	const struct redis *r = &d->redis;
	msec_t timeout = (msec_t)d->conf.redis_timeout * 1000;

	*events = 0;
	switch (r->state) {
	case R_OFF:
		return -1;
	case R_WAIT:
		*deadline = r->retry_at;
		return -1;
	case R_CONNECTING:
		*events = POLLOUT;
		*deadline = r->since + timeout;
		return r->fd;
	default:
		*events = POLLIN | (r->outoff < r->outlen ? POLLOUT : 0);
		if (r->plen > 0)
			*deadline = r->pend[r->phead].sent + timeout;
		return r->fd;
	}
}

void
redis_step(struct daemon *d, short revents)
{
	struct redis *r = &d->redis;
	msec_t timeout = (msec_t)d->conf.redis_timeout * 1000;

	if (r->state == R_OFF)
		return;
	if (r->state == R_WAIT) {
		if (d->now >= r->retry_at)
			start_connect(d);
		return;
	}
	if (revents & (POLLOUT | POLLERR | POLLHUP))
		on_writable(d);
	if (r->fd >= 0 && r->state != R_CONNECTING && (revents & (POLLIN | POLLERR | POLLHUP)))
		on_readable(d);
	if (r->fd < 0)
		return;
	if ((r->state == R_CONNECTING && d->now - r->since >= timeout) ||
	    (r->plen > 0 && d->now - r->pend[r->phead].sent >= timeout))
		down(d, "timed out");
}

int
redis_get(struct daemon *d, struct job *j)
{
	struct redis *r = &d->redis;
	char key[REDIS_KEY_MAX], end[16];
	const char *argv[4];

	if (r->state != R_READY)
		return 0;
	snprintf(key, sizeof key, "%s%s", d->conf.redis_prefix, j->domain);
	snprintf(end, sizeof end, "%d", SHARED_RECORD_MAX);
	/* GETRANGE, not GET: a value of any size costs us at most one record */
	argv[0] = "GETRANGE", argv[1] = key, argv[2] = "0", argv[3] = end;
	if (send_cmd(r, P_GET, j, d->now, 4, argv, NULL) < 0)
		return 0;
	return 1;
}

void
redis_put(struct daemon *d, const char *domain, const char *id, int64_t fetched_wall,
    uint32_t max_age, const uint8_t *body, size_t bodylen)
{
	struct redis *r = &d->redis;
	char key[REDIS_KEY_MAX], ttl[16], head[64];
	const char *argv[5];
	size_t argl[5], hl;
	uint8_t *v;

	if (r->state != R_READY || max_age == 0)
		return;
	hl = shared_header(head, sizeof head, fetched_wall, id);
	if (hl == 0 || hl + bodylen > SHARED_RECORD_MAX || hl + bodylen > REDIS_VALUE_MAX)
		return;
	/* header and body made one argument in scratch, then framed */
	v = r->scratch;
	memcpy(v, head, hl);
	memcpy(v + hl, body, bodylen);
	snprintf(key, sizeof key, "%s%s", d->conf.redis_prefix, domain);
	snprintf(ttl, sizeof ttl, "%u", max_age);
	argv[0] = "SET", argv[1] = key, argv[2] = (const char *)v, argv[3] = "EX", argv[4] = ttl;
	argl[0] = 3, argl[1] = strlen(key), argl[2] = hl + bodylen, argl[3] = 2;
	argl[4] = strlen(ttl);
	if (send_cmd(r, P_SET, NULL, d->now, 5, argv, argl) < 0 && !r->set_error_logged) {
		log_warnx("redis: output full, a write was dropped");
		r->set_error_logged = 1;
	}
}

/* The password file: "password", or "user password" for an ACL user. */
static int
read_password(struct redis *r, const char *path)
{
	char err[300], *buf, *p, *sp;
	size_t len;

	r->user[0] = r->password[0] = '\0';
	if (path[0] == '\0')
		return 0;
	if ((buf = read_file(path, 1024, &len, err, sizeof err)) == NULL) {
		log_errx("redis_password_file %s", err);
		return -1;
	}
	for (p = buf + len; p > buf && ascii_isspace((unsigned char)p[-1]); p--)
		;
	*p = '\0';
	for (p = buf; ascii_isspace((unsigned char)*p); p++)
		;
	if ((sp = strpbrk(p, " \t")) != NULL) {
		*sp++ = '\0';
		while (ascii_isblank((unsigned char)*sp))
			sp++;
		strlcpy_m(r->user, p, sizeof r->user);
		p = sp;
	}
	if (strlen(p) >= sizeof r->password || strpbrk(p, " \t\r\n") != NULL || *p == '\0') {
		log_errx("redis_password_file %s: expected \"password\" or \"user password\"", path);
		free(buf);
		r->user[0] = '\0';
		return -1;
	}
	strlcpy_m(r->password, p, sizeof r->password);
	explicit_bzero(buf, len);
	free(buf);
	return 0;
}

int
redis_configure(struct daemon *d)
{
	struct redis *r = &d->redis;
	const struct config *c = &d->conf;

	if (r->fd >= 0) {       /* settings may have changed: start over */
		close(r->fd);
		r->fd = -1;
		fail_pending(d, r);
	}
	r->inlen = r->outlen = r->outoff = 0;
	r->target_known = 0;
	r->state = R_OFF;
	if (c->redis[0] == '\0' && c->redis_nsentinel == 0)
		return 0;
	if (read_password(r, c->redis_password_file) < 0)
		return -1;
	if (r->in == NULL) {
		r->in = malloc(REDIS_IN_MAX);
		r->out = malloc(REDIS_OUT_MAX);
		r->scratch = malloc(REDIS_VALUE_MAX);
		if (r->in == NULL || r->out == NULL || r->scratch == NULL) {
			log_errx("redis: out of memory");
			return -1;
		}
	}
	r->backoff = BACKOFF_FIRST_MS;
	r->state = R_WAIT;
	r->retry_at = d->now;
	return 0;
}

void
redis_init(struct redis *r)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

void
redis_free(struct daemon *d)
{
	struct redis *r = &d->redis;

	(void)d;
	if (r->fd >= 0)
		close(r->fd);
	free(r->in);
	free(r->out);
	free(r->scratch);
	explicit_bzero(r->password, sizeof r->password);
	redis_init(r);
}
