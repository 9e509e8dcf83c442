/* notify.c - readiness and state changes for systemd (Type=notify).
 *
 * The protocol is one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * in $NOTIFY_SOCKET; no libsystemd is needed for it.  A name that starts
 * with '@' lives in the abstract namespace: the '@' becomes a NUL byte and
 * the address length counts only the bytes of the name.  The socket is
 * opened per message (there are four kinds of message in a whole run),
 * non-blocking, so a manager that stopped reading can never stall the
 * loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mtasts.h"
#include "notify.h"

int
notify_send(const char *state)
{
	static int warned;      /* one warning per run, not one per reload */
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t alen;
	size_t n;
	ssize_t w;
	int fd;

	if (path == NULL || path[0] == '\0')
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof sun.sun_path) {
		if (!warned++)
			log_warnx("NOTIFY_SOCKET \"%s\": not a socket path or @name", path);
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	else
		alen++;                 /* the terminating NUL, as for bind(2) */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		if (!warned++)
			log_warn("notify: socket");
		return -1;
	}
	do
		w = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		    (struct sockaddr *)&sun, alen);
	while (w < 0 && errno == EINTR);
	if (w < 0 && !warned++)
		log_warn("notify: %s", path);
	close(fd);
	return w < 0 ? -1 : 1;
}

int
notify_ready(void)
{
	return notify_send("READY=1\nSTATUS=answering");
}

/* systemd matches RELOADING=1 to the reload it asked for by the clock:
 * the timestamp must be taken after the signal arrived. */
int
notify_reloading(void)
{
	char msg[64];

	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)mono_usec());
	return notify_send(msg);
}

int
notify_stopping(void)
{
	return notify_send("STOPPING=1");
}
