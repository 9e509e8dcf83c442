/* util.c - the helpers every module shares: clocks, randomness,
 * ASCII character classes, decimal numbers, host:port, TCP listeners,
 * whole files.
 * The one module without a name prefix: each helper is named for what it
 * does (the prototypes, with their conventions, are in mtasts.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "mtasts.h"

msec_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (msec_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
wall_now(void)
{
	return (int64_t)time(NULL);
}

int
rand_fill(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

size_t
strlcpy_m(char *dst, const char *src, size_t cap)
{
	size_t n = strlen(src);

	if (cap > 0) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* ---- character classes (ASCII only, whatever the locale) ------------- */

int
ascii_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

int
ascii_isalnum(int c)
{
	return ascii_isdigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int
ascii_isblank(int c)
{
	return c == ' ' || c == '\t';
}

int
ascii_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int
ascii_hexval(int c)
{
	if (ascii_isdigit(c))
		return c - '0';
	c = ascii_tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
ascii_tolower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ---- numbers ------------------------------------------------------------ */

int
dec_parse(const char *s, size_t len, size_t maxdigits, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (len == 0 || len > maxdigits)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || n > max / 10 || (n == max / 10 && d > max % 10))
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

/* ---- host:port ---------------------------------------------------------- */

int
hostport_split(const char *s, size_t len, int default_port, struct hostport *hp)
{
	const char *colon = NULL, *p;
	uint64_t port;

	memset(hp, 0, sizeof *hp);
	if (len == 0 || memchr(s, '\0', len) != NULL)
		return -1;
	if (s[0] == '[') {
		if ((p = memchr(s, ']', len)) == NULL)
			return -1;
		hp->host = s + 1;
		hp->hostlen = (size_t)(p - s) - 1;
		hp->bracketed = 1;
		if (p + 1 < s + len) {
			if (p[1] != ':')
				return -1;
			colon = p + 1;
		}
	} else {
		/* where a port may be left out, a second colon makes the whole
		 * text an IPv6 address; where it is required, the last colon
		 * introduces it */
		for (p = s; p < s + len; p++)
			if (*p == ':') {
				if (colon != NULL && default_port != 0) {
					colon = NULL;
					break;
				}
				colon = p;
			}
		hp->host = s;
		hp->hostlen = colon != NULL ? (size_t)(colon - s) : len;
	}
	if (hp->hostlen == 0)
		return -1;
	if (colon == NULL) {
		hp->port = default_port;
		return default_port > 0 ? 0 : -1;
	}
	if (dec_parse(colon + 1, len - (size_t)(colon + 1 - s), SIZE_MAX, 65535, &port) < 0 ||
	    port == 0)
		return -1;
	hp->port = (int)port;
	return 0;
}

int
hostport_addr(const char *s, size_t len, int default_port, struct sockaddr_storage *ss,
    socklen_t *sl)
{
	char host[INET6_ADDRSTRLEN];
	struct hostport hp;

	if (hostport_split(s, len, default_port, &hp) < 0 || hp.hostlen >= sizeof host)
		return -1;
	memcpy(host, hp.host, hp.hostlen);
	host[hp.hostlen] = '\0';
	memset(ss, 0, sizeof *ss);
	if (!hp.bracketed) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)hp.port);
			*sl = sizeof *sin;
			return 0;
		}
	}
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)hp.port);
		*sl = sizeof *sin6;
	}
	return 0;
}

int
unix_listen(const char *path, int mode, int backlog)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, rc;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlcpy_m(sun.sun_path, path, sizeof sun.sun_path) >= sizeof sun.sun_path) {
		log_errx("listen unix:%s: path too long", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		log_err("listen unix:%s", path);
		return -1;
	}
	unlink(sun.sun_path);           /* a stale socket from an earlier run */
	/* never wider than mode, not even between bind and chmod */
	old = umask((mode_t)~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc < 0 || chmod(sun.sun_path, (mode_t)mode) < 0 || listen(fd, backlog) < 0) {
		log_err("listen unix:%s", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
tcp_listen(const char *spec, int reuse_port, int backlog, int *loopback)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (hostport_addr(spec, strlen(spec), 0, &ss, &len) < 0) {
		log_errx("listen %s: not an address", spec);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("listen %s: socket", spec);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* a new instance can bind while the old one still serves:
	 * restarts and upgrades without refused connections */
	if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
		log_warn("listen %s: SO_REUSEPORT", spec);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		log_err("listen %s", spec);
		close(fd);
		return -1;
	}
	*loopback = ss.ss_family == AF_INET ?
	    ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24 == 127 :
	    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
	return fd;
}

/* ---- files -------------------------------------------------------------- */

char *
read_file(const char *path, size_t max, size_t *lenp, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
		goto fail;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {       /* room for one byte more than max */
			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 :
			    cap < 4096 ? 4096 : cap * 2;
			if (cap > max + 1)
				cap = max + 1;
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';        /* len < cap: the last read had room */
	*lenp = len;
	return buf;
fail:
	e = errno;
	if (e == EFBIG)
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
	else
		snprintf(err, errlen, "%s: %s", path, strerror(e));
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = e;
	return NULL;
}

/* gmtime_r and snprintf, not strftime: strftime drags musl's time zone
 * code (about 5 KB) into a binary that only ever prints UTC. */
size_t
utc_time(int64_t t, char out[UTC_TIME_MAX])
{
	struct tm tm;
	time_t tt = (time_t)t;
	int n;

	out[0] = '\0';
	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return 0;
	n = snprintf(out, UTC_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n > 0 && n < UTC_TIME_MAX ? (size_t)n : 0;
}
