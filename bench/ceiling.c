/*
 * ceiling.c - the smallest correct socketmap server, for the benchmark.
 *
 * Answers every netstring request "NAME KEY" with
 * "OK secure match=mx.KEY servername=hostname" at once: no lookups, no
 * cache.  What the load generator measures against it is what the
 * kernel and the load generator alone can do.  One thread, epoll,
 * non-blocking sockets, persistent connections, pipelined requests.
 */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQ_MAX	1024		/* longest request payload */
#define INBUF	(REQ_MAX + 16)
#define OUTBUF	8192

struct conn {
	int	fd;
	int	want_out;	/* waiting for EPOLLOUT, not reading */
	size_t	inlen, outoff, outlen;
	char	in[INBUF];
	char	out[OUTBUF];
};

static int epfd;

static void
conn_close(struct conn *c)
{
	close(c->fd);		/* also leaves the epoll set */
	free(c);
}

static void
conn_watch(struct conn *c, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Append the reply to one request payload; 0 if there is no room. */
static int
reply(struct conn *c, const char *req, size_t len)
{
	static const char head[] = "OK secure match=mx.", tail[] = " servername=hostname";
	const char *key = memchr(req, ' ', len);
	size_t klen, n;
	char *o;
	int w;

	key = key != NULL ? key + 1 : req;
	klen = len - (size_t)(key - req);
	n = sizeof head - 1 + klen + sizeof tail - 1;
	if (OUTBUF - c->outlen < n + 16)
		return 0;
	o = c->out + c->outlen;
	w = sprintf(o, "%zu:", n);
	memcpy(o + w, head, sizeof head - 1);
	memcpy(o + w + sizeof head - 1, key, klen);
	memcpy(o + w + sizeof head - 1 + klen, tail, sizeof tail - 1);
	o[w + n] = ',';
	c->outlen += (size_t)w + n + 1;
	return 1;
}

/* Answer the complete requests in the input while there is room for the
 * replies; return how many, or -1 on a malformed one. */
static int
parse(struct conn *c)
{
	size_t off = 0;
	int answered = 0;

	for (;;) {
		size_t i = off, n = 0;

		while (i < c->inlen && c->in[i] >= '0' && c->in[i] <= '9' && i - off < 5)
			n = n * 10 + (size_t)(c->in[i++] - '0');
		if (i == c->inlen)
			break;				/* length incomplete */
		if (i == off || c->in[i] != ':' || n > REQ_MAX)
			return -1;
		if (c->inlen < i + 1 + n + 1)
			break;				/* payload incomplete */
		if (c->in[i + 1 + n] != ',')
			return -1;
		if (!reply(c, c->in + i + 1, n))
			break;				/* output full: later */
		off = i + 1 + n + 1;
		answered++;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return answered;
}

/* Write what is pending; -1 on error. */
static int
flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	return 0;
}

static void
conn_event(struct conn *c, uint32_t ev)
{
	ssize_t n;

	if (c->want_out) {
		if (flush(c) < 0) {
			conn_close(c);
			return;
		}
		if (c->outlen > 0)
			return;
		c->want_out = 0;
		conn_watch(c, EPOLLIN);
		/* requests may still sit in the input */
	} else if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->inlen += (size_t)n;
	}
	for (;;) {
		int answered = parse(c);

		if (answered < 0 || flush(c) < 0) {
			conn_close(c);
			return;
		}
		if (c->outlen > 0) {
			c->want_out = 1;
			conn_watch(c, EPOLLOUT);
			return;
		}
		if (answered == 0)
			return;
	}
}

static void
accept_all(int lfd)
{
	struct epoll_event ev;
	struct conn *c;
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if ((c = calloc(1, sizeof *c)) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		memset(&ev, 0, sizeof ev);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			conn_close(c);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	struct epoll_event ev, evs[128];
	const char *addr = "127.0.0.1";
	int lfd, ch, i, n, port = -1, one = 1;

	while ((ch = getopt(argc, argv, "a:p:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		default:
			port = -1;
			optind = argc;
			break;
		}
	}
	if (port < 0 || port > 65535 || optind != argc) {
		fputs("usage: ceiling -p PORT [-a ADDR]   (PORT 0: any, printed)\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "ceiling: bad address %s\n", addr);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
		perror("ceiling: listen");
		return 1;
	}
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("ceiling: epoll_create1");
		return 1;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	printf("listening on %s:%d\n", addr, ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		n = epoll_wait(epfd, evs, (int)(sizeof evs / sizeof evs[0]), -1);
		if (n < 0 && errno != EINTR) {
			perror("ceiling: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				accept_all(lfd);
			else
				conn_event(evs[i].data.ptr, evs[i].events);
		}
	}
}
