/*
 * controld.c - the daemon's side of the control socket (control.c has
 * the language): a unix socket, mode 0600, served in the one loop like
 * socketmap clients, from CONTROL_CLIENTS fixed slots.
 *
 * A connection runs one command at a time and reads the next line only
 * once the answer is out.  A dump is streamed: the cache is walked by
 * slot index with a cursor kept in the connection, a few buffers per loop
 * pass, and only while the socket takes the bytes.  The cache may change
 * between pieces; each slot is visited at most once, as it is when the
 * cursor reaches it, so an entry stored or dropped during a dump may or
 * may not be listed, and no entry is listed twice.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon.h"

_Static_assert(CONTROL_OUT >= METRICS_TEXT_MAX + 64, "STATS must fit the output buffer");
_Static_assert(CONTROL_OUT >= CONTROL_ROW_MAX + 64, "a dump line must fit the output buffer");

int
controld_listen(struct daemon *d)
{
	const char *path = d->conf.control + 5;     /* after "unix:" */
	struct stat sb;
	int fd;

	if (d->conf.control[0] == '\0')
		return 0;
	if (pool_init(&d->controls, CONTROL_CLIENTS, sizeof (struct control_conn),
	    offsetof(struct control_conn, slot)) < 0) {
		log_errx("out of memory for the control connections");
		return -1;
	}
	/* CTL-1: 0600 from the start, no moment where others may connect */
	if ((fd = unix_listen(path, 0600, LISTEN_BACKLOG)) < 0)
		return -1;
	if (stat(path, &sb) == 0)
		d->control_ino = sb.st_ino;
	d->control_listener.fd = fd;
	strlcpy_m(d->control_listener.path, path, sizeof d->control_listener.path);
	d->control_on = 1;
	log_info("control socket %s", d->conf.control);
	return 0;
}

static void
control_close(struct daemon *d, struct control_conn *c, const char *why)
{
	if (why != NULL)
		log_info("control fd %d closed: %s", c->fd, why);
	close(c->fd);
	c->fd = -1;
	pool_put(&d->controls, c);
}

void
controld_free(struct daemon *d)
{
	while (d->controls.nactive > 0)
		control_close(d, d->controls.active[d->controls.nactive - 1], NULL);
	pool_free(&d->controls);
	if (d->control_on) {
		struct stat sb;
		close(d->control_listener.fd);
		/* a new instance started during our shutdown (reuse_port) may
		 * have put its own socket there: leave that one alone */
		if (stat(d->control_listener.path, &sb) == 0 && sb.st_ino == d->control_ino)
			unlink(d->control_listener.path);
		d->control_on = 0;
	}
}

void
controld_accept(struct daemon *d)
{
	int n, k;

	for (n = 0; n < ACCEPT_BATCH; n++) {
		int fd = accept4(d->control_listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct control_conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("control accept");
			return;
		}
		if ((c = pool_get(&d->controls)) == NULL) {
			/* full: the longest-idle connection makes room */
			struct control_conn *old = NULL;
			for (k = 0; k < d->controls.nactive; k++) {
				struct control_conn *o = d->controls.active[k];
				if (old == NULL || o->last_active < old->last_active)
					old = o;
			}
			control_close(d, old, "control connections full, longest-idle closed");
			c = pool_get(&d->controls);
		}
		c->fd = fd;
		c->eof = c->closing = 0;
		c->last_active = d->now;
		c->dumping = CTL_BAD;
		c->inlen = c->outoff = c->outlen = 0;
	}
}

/* Append one line to the output; the caller made sure it fits (every
 * status line is far below CONTROL_OUT). */
static void
reply(struct control_conn *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->out + c->outlen, sizeof c->out - c->outlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->outlen += (size_t)n < sizeof c->out - c->outlen ?
		    (size_t)n : sizeof c->out - c->outlen - 1;
}

int
controld_row(const struct daemon *d, const struct cache_entry *e, char *data,
    struct control_row *r)
{
	const char *mx;
	size_t mxlen;

	if (cache_read(&d->cache, e, data, CONTROL_ROW_MAX, &mx, &mxlen) < 0)
		return -1;
	memset(r, 0, sizeof *r);
	data[e->domainlen] = '\0';
	r->domain = data;
	r->policy = e->kind == CE_POLICY;
	r->mode = (enum sts_mode)e->mode;
	r->id = e->id;
	r->mx = mx;
	r->mxlen = r->policy ? mxlen : 0;
	r->fetched = e->fetched_wall;
	r->expires = e->fetched_wall + (int64_t)e->max_age;
	r->checked = e->checked_wall;
	r->fails = e->fails;
	/* lookup.c records DNS failures as FETCH_OK: they are no fetch's */
	if (e->fails > 0)
		r->failure = e->fail_class == FETCH_OK ? "dns-error" :
		    http_class_str((enum fetch_class)e->fail_class);
	return 0;
}

static void
compact(struct control_conn *c)
{
	if (c->outoff == 0)
		return;
	memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
	c->outlen -= c->outoff;
	c->outoff = 0;
}

/* Fill the output with dump rows while a whole row fits. */
static void
dump_more(struct daemon *d, struct control_conn *c)
{
	char data[CONTROL_ROW_MAX];
	struct control_row r;
	int json = c->dumping == CTL_DUMP_JSON, scanned = 0;

	compact(c);
	while (c->cursor < d->cache.entry_mark && scanned++ < CONTROL_SCAN_PER_PASS) {
		const struct cache_entry *e = &d->cache.e[c->cursor];
		size_t n;

		/* room for the row: its patterns take at most 3/2 of their
		 * size as JSON ("a", per >= 4-byte pattern), plus the fields */
		if (c->outlen > 0 && sizeof c->out - c->outlen < (size_t)e->datalen * 3 / 2 + 1024)
			return;                 /* wait for the client to read */
		c->cursor++;
		if (e->kind == CE_FREE || controld_row(d, e, data, &r) < 0)
			continue;
		if (json) {
			memcpy(c->out + c->outlen, c->count == 0 ? "[\n" : ",\n", 2);
			c->outlen += 2;
		}
		n = control_format_row(&r, json, c->out + c->outlen, sizeof c->out - c->outlen);
		if (n == 0 && json)
			c->outlen -= 2;
		c->outlen += n;
		c->count += n > 0;
	}
	if (c->cursor < d->cache.entry_mark || sizeof c->out - c->outlen < 64)
		return;
	if (json)
		reply(c, "%s", c->count == 0 ? "[]\n" : "\n]\n");
	reply(c, "OK %u entries\n", c->count);
	c->dumping = CTL_BAD;
}

static void
purge_all(struct daemon *d, struct control_conn *c)
{
	uint32_t i, n = 0;

	for (i = 0; i < d->cache.entry_mark; i++)
		if (d->cache.e[i].kind != CE_FREE) {
			cache_drop(&d->cache, &d->cache.e[i]);
			n++;
		}
	d->cache_changes++;
	log_info("control: cache purged (%u entries)", n);
	reply(c, "OK purged %u entries\n", n);
}

static void
refresh(struct daemon *d, struct control_conn *c, const char *domain)
{
	enum lookup_start_result res;
	struct job *j = lookup_start(d, domain, &d->conf.zone[0], &res);

	switch (res) {
	case LOOKUP_STARTED:
		j->force = 1;           /* fetch even if the TXT id is unchanged */
		log_info("%s: refresh asked on the control socket", domain);
		reply(c, "OK refreshing %s\n", domain);
		break;
	case LOOKUP_JOINED:
		reply(c, "OK %s: a lookup is already running\n", domain);
		break;
	case LOOKUP_JUST_DONE:
		reply(c, "ERR %s: just looked up, try again\n", domain);
		break;
	case LOOKUP_NO_SLOT:
		reply(c, "ERR all %d lookup slots busy, try again\n", d->conf.max_lookups);
		break;
	}
}

/* The Prometheus text, then "OK"; the output is empty here (one command
 * at a time) and CONTROL_OUT holds METRICS_TEXT_MAX and the status. */
static void
stats(struct daemon *d, struct control_conn *c)
{
	size_t n;

	compact(c);
	n = metrics_render(d, d->now, c->out + c->outlen, sizeof c->out - c->outlen - 16);
	if (n == 0) {
		reply(c, "ERR metrics too long\n");
		return;
	}
	c->outlen += n;
	if (c->out[c->outlen - 1] != '\n')
		reply(c, "\n");
	reply(c, "OK\n");
}

static void
run_command(struct daemon *d, struct control_conn *c, const char *line, size_t len)
{
	struct control_request r;
	struct cache_entry *e;

	if (control_parse(line, len, &r) < 0) {
		reply(c, "ERR %s\n", r.err);
		return;
	}
	switch (r.cmd) {
	case CTL_DUMP:
	case CTL_DUMP_JSON:
		c->dumping = r.cmd;
		c->cursor = c->count = 0;
		break;
	case CTL_PURGE:
		if ((e = cache_find(&d->cache, r.domain)) == NULL) {
			reply(c, "OK %s was not cached\n", r.domain);
			break;
		}
		cache_drop(&d->cache, e);
		d->cache_changes++;
		log_info("%s: purged on the control socket", r.domain);
		reply(c, "OK purged %s\n", r.domain);
		break;
	case CTL_PURGE_ALL:
		purge_all(d, c);
		break;
	case CTL_REFRESH:
		refresh(d, c, r.domain);
		break;
	case CTL_STATS:
		stats(d, c);
		break;
	case CTL_BAD:
		break;
	}
}

/* The next command line, when nothing is being answered. */
static void
next_command(struct daemon *d, struct control_conn *c)
{
	char *nl = memchr(c->in, '\n', c->inlen);
	size_t used;

	if (nl == NULL) {
		if (c->inlen == sizeof c->in) {
			/* CTL-2 */
			log_warnx("control fd %d: line over %d bytes, closing", c->fd,
			    CONTROL_LINE_MAX);
			reply(c, "ERR line too long\n");
			c->closing = 1;
			c->inlen = 0;
		}
		return;
	}
	used = (size_t)(nl - c->in) + 1;
	run_command(d, c, c->in, used - 1);
	memmove(c->in, c->in + used, c->inlen - used);
	c->inlen -= used;
}

static int
busy(const struct control_conn *c)
{
	return c->dumping != CTL_BAD || c->outlen > c->outoff || c->closing;
}

void
controld_io(struct daemon *d, struct control_conn *c, short revents)
{
	int round;

	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !busy(c) && !c->eof &&
	    c->inlen < sizeof c->in) {
		ssize_t n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
		if (n > 0) {
			c->inlen += (size_t)n;
			c->last_active = d->now;
		} else if (n == 0)
			c->eof = 1;
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			control_close(d, c, NULL);
			return;
		}
	}
	/* a few buffers per pass: a big dump to a fast reader must not
	 * hold up the socketmap clients */
	for (round = 0; round < CONTROL_BUFFERS_PER_PASS; round++) {
		if (c->outoff == c->outlen)
			c->outoff = c->outlen = 0;
		if (c->dumping != CTL_BAD)
			dump_more(d, c);
		else if (!busy(c))
			next_command(d, c);
		while (c->outoff < c->outlen) {
			ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
			    MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				control_close(d, c, NULL);
				return;
			}
			c->outoff += (size_t)n;
			c->last_active = d->now;
		}
		if (c->closing) {
			control_close(d, c, NULL);
			return;
		}
		if (c->dumping == CTL_BAD && memchr(c->in, '\n', c->inlen) == NULL &&
		    c->inlen < sizeof c->in)
			break;
	}
	if (c->eof && !busy(c) && memchr(c->in, '\n', c->inlen) == NULL)
		control_close(d, c, NULL);
}

short
controld_events(const struct control_conn *c)
{
	short ev = 0;

	if (!busy(c) && !c->eof && c->inlen < sizeof c->in)
		ev |= POLLIN;
	/* POLLOUT also wakes a connection with commands still buffered */
	if (c->outlen > c->outoff || c->dumping != CTL_BAD ||
	    (!busy(c) && memchr(c->in, '\n', c->inlen) != NULL))
		ev |= POLLOUT;
	return ev;
}

msec_t
controld_deadline(const struct daemon *d, const struct control_conn *c)
{
	return c->last_active + (msec_t)d->conf.idle_timeout * 1000;
}

void
controld_timers(struct daemon *d, struct control_conn *c)
{
	if (d->now >= controld_deadline(d, c))
		control_close(d, c, busy(c) ? "not reading its answer" : NULL);
}
