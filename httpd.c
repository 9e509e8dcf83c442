/*
 * httpd.c - metrics_listen: GET /metrics over HTTP/1.0 or 1.1, one
 * request per connection, in the daemon's poll loop.  HTTPD_CONNS slots
 * are allocated when the listener opens; a request head must arrive whole
 * within HTTPD_READ_MS and HTTPD_REQ_MAX bytes, a connection lives at most
 * HTTPD_CONN_MS, and every answer ends with Connection: close.  A
 * client that holds a slot without finishing its request loses it to a
 * new connection when all are taken, so idle or slow clients cannot lock
 * scrapes out; nothing here ever waits for a peer.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "daemon.h"

/* ---- the request parser (pure) ----------------------------------------- */

/* RFC 9110 5.6.2 tchar */
static int
httpd_tchar(int c)
{
	return ascii_isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A line ending at buf[p]: its length (CRLF 2, a bare LF 1, which RFC
 * 9112 2.2 lets a recipient accept), 0 when the buffer ends first, -1
 * for a CR not followed by LF, -2 when buf[p] is no line ending. */
static int
httpd_eol(const uint8_t *buf, size_t len, size_t p)
{
	if (p >= len)
		return 0;
	if (buf[p] == '\n')
		return 1;
	if (buf[p] != '\r')
		return -2;
	if (p + 1 >= len)
		return 0;
	return buf[p + 1] == '\n' ? 2 : -1;
}

/* What an unfinished head means: wait, or it can never fit. */
static int
httpd_more(size_t len, int line_done)
{
	if (len < HTTPD_REQ_MAX)
		return 0;
	return line_done ? 431 : 414;
}

/* Compare buf[p..len) with the start of s: 1 all of s matched, 0 the
 * buffer ended first, -1 a mismatch. */
static int
httpd_lit(const uint8_t *buf, size_t len, size_t *p, const char *s)
{
	for (; *s != '\0'; s++, (*p)++) {
		if (*p >= len)
			return 0;
		if (buf[*p] != (uint8_t)*s)
			return -1;
	}
	return 1;
}

/* The header fields up to the blank line: 0 incomplete, -1 bad, 431, or
 * 1 with *p after the blank line. */
static int
httpd_fields(const uint8_t *buf, size_t len, size_t *p, struct httpd_request *r)
{
	size_t q = *p, name;
	int n;

	for (;;) {
		if ((n = httpd_eol(buf, len, q)) > 0) {
			*p = q + (size_t)n;
			return 1;
		}
		if (n == 0 || n == -1)
			return n;
		/* field-name ":" OWS value OWS; no space before the colon and
		 * no obsolete line folding (RFC 9112 5.1, 5.2) */
		for (name = q; q < len && httpd_tchar(buf[q]); q++)
			;
		if (q >= len)
			return 0;
		if (q == name || buf[q] != ':')
			return -1;
		if (++r->nfields > HTTPD_FIELDS_MAX)
			return 431;
		if (q - name == 4 && ascii_tolower(buf[name]) == 'h' &&
		    ascii_tolower(buf[name + 1]) == 'o' && ascii_tolower(buf[name + 2]) == 's' &&
		    ascii_tolower(buf[name + 3]) == 't')
			r->nhost++;
		/* field-value: VCHAR, obs-text, SP, HTAB; other controls are bad */
		for (q++; q < len && (buf[q] == '\t' || (buf[q] >= 0x20 && buf[q] != 0x7f)); q++)
			;
		if ((n = httpd_eol(buf, len, q)) <= 0)
			return n == -2 ? -1 : n;
		q += (size_t)n;
	}
}

int
httpd_parse(const uint8_t *buf, size_t len, struct httpd_request *r)
{
	size_t p = 0, t;
	int n, major;

	memset(r, 0, sizeof *r);
	if (len > HTTPD_REQ_MAX)
		len = HTTPD_REQ_MAX;        /* what lies beyond is never looked at */
	/* request-line = method SP request-target SP HTTP-version CRLF */
	while (p < len && httpd_tchar(buf[p]))
		p++;
	if (p >= len)
		return httpd_more(len, 0);
	if (p == 0 || buf[p] != ' ')
		return 400;
	r->method = (const char *)buf;
	r->methodlen = p++;
	for (t = p; p < len && buf[p] > 0x20 && buf[p] < 0x7f; p++)
		;
	if (p >= len)
		return httpd_more(len, 0);
	if (p == t || buf[p] != ' ')
		return 400;
	r->target = (const char *)buf + t;
	r->targetlen = p++ - t;
	if ((n = httpd_lit(buf, len, &p, "HTTP/")) <= 0)
		return n < 0 ? 400 : httpd_more(len, 0);
	/* DIGIT "." DIGIT, checked as far as it has arrived */
	for (t = 0; t < 3; t++)
		if (p + t >= len)
			return httpd_more(len, 0);
		else if (t == 1 ? buf[p + t] != '.' : !ascii_isdigit(buf[p + t]))
			return 400;
	major = buf[p] - '0';
	r->minor = buf[p + 2] - '0';
	p += 3;
	if ((n = httpd_eol(buf, len, p)) <= 0)
		return n == 0 ? httpd_more(len, 0) : 400;
	p += (size_t)n;
	if ((n = httpd_fields(buf, len, &p, r)) != 1)
		return n == 0 ? httpd_more(len, 1) : n < 0 ? 400 : n;
	r->len = p;
	if (major != 1)
		return 505;
	/* RFC 9112 3.2: exactly one Host in 1.1, at most one in 1.0 */
	if (r->nhost > 1 || (r->minor > 0 && r->nhost == 0))
		return 400;
	if (r->target[0] != '/')
		return 400;
	if (r->methodlen != 3 || memcmp(r->method, "GET", 3) != 0)
		return 405;
	for (t = 0; t < r->targetlen && r->target[t] != '?'; t++)
		;
	if (t != 8 || memcmp(r->target, "/metrics", 8) != 0)
		return 404;
	return 200;
}

/* ---- the listener and its connections --------------------------------- */

int
httpd_listen(struct daemon *d)
{
	struct httpd *h = &d->httpd;
	int i, loopback;

	h->fd = -1;
	if (d->conf.metrics_listen[0] == '\0')
		return 0;
	if ((h->conn = calloc(HTTPD_CONNS, sizeof *h->conn)) == NULL) {
		log_errx("out of memory for metrics_listen");
		return -1;
	}
	for (i = 0; i < HTTPD_CONNS; i++)
		h->conn[i].fd = -1;
	h->fd = tcp_listen(d->conf.metrics_listen, d->conf.reuse_port, HTTPD_CONNS * 4,
	    &loopback);
	if (h->fd < 0)
		return -1;
	if (!loopback)
		log_warnx("metrics_listen on non-loopback %s: anyone who can connect "
		    "reads the metrics", d->conf.metrics_listen);
	log_info("metrics on http://%s/metrics", d->conf.metrics_listen);
	return 0;
}

static void
conn_close(struct httpd_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = HTTPD_FREE;
}

void
httpd_close(struct daemon *d)
{
	struct httpd *h = &d->httpd;
	int i;

	if (h->conn != NULL)
		for (i = 0; i < HTTPD_CONNS; i++)
			if (h->conn[i].fd >= 0)
				conn_close(&h->conn[i]);
	free(h->conn);
	h->conn = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

void
httpd_accept(struct daemon *d)
{
	struct httpd *h = &d->httpd;
	int n, i;

	for (n = 0; n < HTTPD_CONNS * 4; n++) {
		struct httpd_conn *c = NULL;
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED) {
				log_warn("metrics_listen: accept");
				h->paused_until = d->now + 1000;
			}
			return;
		}
		/* a free slot, else the oldest still sending its request */
		for (i = 0; i < HTTPD_CONNS; i++) {
			struct httpd_conn *x = &h->conn[i];
			if (x->state == HTTPD_FREE) {
				c = x;
				break;
			}
			if (x->state == HTTPD_READ && (c == NULL || x->started < c->started))
				c = x;
		}
		if (c == NULL) {                /* every slot is answering */
			d->metrics.http_rejected++;
			close(fd);
			continue;
		}
		if (c->state != HTTPD_FREE) {
			log_debug("metrics: connection with an unfinished request closed for a new one");
			d->metrics.http_rejected++;
			conn_close(c);
		}
		c->fd = fd;
		c->state = HTTPD_READ;
		c->started = d->now;
		c->deadline = d->now + HTTPD_READ_MS;
		c->inlen = 0;
		c->outoff = c->outlen = 0;
	}
}

int
httpd_poll(const struct daemon *d, int i, short *events, msec_t *deadline)
{
	const struct httpd_conn *c = &d->httpd.conn[i];

	if (c->state == HTTPD_FREE)
		return -1;
	*events = c->state == HTTPD_WRITE ? POLLOUT : POLLIN;
	*deadline = c->deadline;
	return c->fd;
}

static const char *
httpd_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default:  return "Internal Server Error";
	}
}

/* The answer into c->out: the body is written at HEAD_ROOM and the head
 * right before it, so nothing is moved. */
#define HEAD_ROOM 256
static void
respond(struct daemon *d, struct httpd_conn *c, int code)
{
	char head[HEAD_ROOM];
	size_t body;
	int n;

	if (code == 200) {
		body = metrics_render(d, d->now, c->out + HEAD_ROOM, sizeof c->out - HEAD_ROOM);
		if (body == 0)
			code = 500;
	}
	if (code != 200)
		body = (size_t)snprintf(c->out + HEAD_ROOM, sizeof c->out - HEAD_ROOM, "%s\n",
		    httpd_reason(code));
	if (code == 200)
		d->metrics.scrapes++;
	else
		d->metrics.http_rejected++;
	n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n%s"
	    "Cache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n",
	    code, httpd_reason(code), body, code == 405 ? "Allow: GET\r\n" : "");
	memcpy(c->out + HEAD_ROOM - n, head, (size_t)n);
	c->outoff = HEAD_ROOM - (size_t)n;
	c->outlen = HEAD_ROOM + body;
	c->state = HTTPD_WRITE;
	c->deadline = c->started + HTTPD_CONN_MS;
	log_debug("metrics: %d %s", code, httpd_reason(code));
}

/* Read what the peer sent: 1 more may come, 0 it closed or failed. */
static int
conn_read(struct httpd_conn *c, uint8_t *buf, size_t cap, size_t *len)
{
	for (;;) {
		ssize_t n = recv(c->fd, buf + *len, cap - *len, 0);
		if (n > 0) {
			*len += (size_t)n;
			if (*len == cap)
				return 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
}

void
httpd_step(struct daemon *d, int i, short revents)
{
	struct httpd_conn *c = &d->httpd.conn[i];
	struct httpd_request r;
	uint8_t sink[512];
	size_t n;
	int code, open, k;

	if (revents & (POLLERR | POLLHUP | POLLNVAL))
		revents |= POLLIN | POLLOUT;
	switch (c->state) {
	case HTTPD_READ:
		/* a peer may shut its side right after the request: answer
		 * what arrived whole before giving up on one that closed */
		open = !(revents & POLLIN) || conn_read(c, c->in, sizeof c->in, &c->inlen);
		if ((code = httpd_parse(c->in, c->inlen, &r)) == 0) {
			if (open && d->now < c->deadline)
				return;
			if (!open) {
				d->metrics.http_rejected++;
				conn_close(c);
				return;
			}
			code = 408;             /* too slow: slowloris */
		}
		respond(d, c, code);
		/* FALLTHROUGH: most answers go out at once */
	case HTTPD_WRITE:
		while (c->outoff < c->outlen) {
			ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
			    MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
			    d->now < c->deadline)
				return;
			if (w < 0) {
				conn_close(c);
				return;
			}
			c->outoff += (size_t)w;
		}
		/* Close only once the peer has read the answer: closing with
		 * its unread request bytes in our buffer would reset the
		 * connection and could destroy the answer in flight. */
		shutdown(c->fd, SHUT_WR);
		c->state = HTTPD_LINGER;
		c->deadline = d->now + HTTPD_LINGER_MS < c->started + HTTPD_CONN_MS ?
		    d->now + HTTPD_LINGER_MS : c->started + HTTPD_CONN_MS;
		return;
	case HTTPD_LINGER:
		/* discard what the peer still sends, a bounded amount per pass,
		 * until it closes or the deadline */
		for (k = 0; k < 16 && (revents & POLLIN); k++) {
			n = 0;
			if (!conn_read(c, sink, sizeof sink, &n)) {
				conn_close(c);
				return;
			}
			if (n < sizeof sink)
				break;
		}
		if (d->now >= c->deadline)
			conn_close(c);
		return;
	}
}
