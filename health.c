/* health.c - mtasts -H ADDR: is the daemon at ADDR answering?
 *
 * For container health checks and monitoring scripts that have no
 * postmap(1).  The question is one that mtasts answers from the key alone
 * (an IP literal is never a policy domain), so the probe needs no DNS, no
 * outside network and leaves nothing in the cache.  It runs as its own
 * short process, so it may block, bounded by socket timeouts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "mtasts.h"
#include "notify.h"

static const char health_query[] = "19:postfix [127.0.0.1],";
static const char health_answer[] = "9:NOTFOUND ,";

/* ADDR:PORT or [ADDR6]:PORT into *ss; -1 if it is neither. */
static int
health_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	const char *port = strrchr(spec, ':');
	char host[INET6_ADDRSTRLEN + 2];
	unsigned long p;
	char *end;

	if (port == NULL || (size_t)(port - spec) >= sizeof host)
		return -1;
	p = strtoul(port + 1, &end, 10);
	if (port[1] == '\0' || *end != '\0' || p == 0 || p > 65535)
		return -1;
	memcpy(host, spec, (size_t)(port - spec));
	host[port - spec] = '\0';
	memset(ss, 0, sizeof *ss);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*len = sizeof *sin6;
		return 0;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)p);
	*len = sizeof *sin;
	return 0;
}

int
health_check(const char *addr)
{
	struct timeval tv = { HEALTH_TIMEOUT_MS / 1000, (HEALTH_TIMEOUT_MS % 1000) * 1000 };
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	socklen_t len;
	char reply[sizeof health_answer + 16];
	size_t got = 0;
	ssize_t n;
	int fd;

	if (!strncmp(addr, "unix:", 5)) {
		if (strlen(addr + 5) >= sizeof sun->sun_path || addr[5] != '/')
			goto bad;
		memset(sun, 0, sizeof *sun);
		sun->sun_family = AF_UNIX;
		strlcpy_m(sun->sun_path, addr + 5, sizeof sun->sun_path);
		len = sizeof *sun;
	} else if (health_addr(addr, &ss, &len) < 0) {
		goto bad;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "mtasts: %s: socket: %s\n", addr, strerror(errno));
		return 1;
	}
	/* on Linux SO_SNDTIMEO bounds connect(2) as well */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 ||
	    send(fd, health_query, sizeof health_query - 1, MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "mtasts: %s: %s\n", addr, strerror(errno));
		close(fd);
		return 1;
	}
	while (got < sizeof health_answer - 1 &&
	    (n = recv(fd, reply + got, sizeof reply - 1 - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	reply[got] = '\0';
	if (got != sizeof health_answer - 1 || memcmp(reply, health_answer, got) != 0) {
		fprintf(stderr, "mtasts: %s: %s \"%s\"\n", addr,
		    got == 0 ? "no answer" : "unexpected answer", reply);
		return 1;
	}
	printf("%s: answering\n", addr);
	return 0;
bad:
	fprintf(stderr, "mtasts: -H %s: expected ADDR:PORT, [ADDR6]:PORT or unix:/path\n", addr);
	return 2;
}
