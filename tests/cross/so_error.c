/* tests/cross/so_error.c - does this machine report a refused non-blocking
 * connect through getsockopt(SO_ERROR) as ECONNREFUSED?
 *
 * On Linux it always does.  qemu-user 7.2 (Debian 12) copies the host's
 * number into the guest untranslated, and errno numbers differ on MIPS
 * (ECONNREFUSED is 111 on x86_64, 146 on MIPS), so tls.c's "connect-refused"
 * reads "connect-failed" there.  tests/cross.sh asks this probe before it
 * excuses that one difference.  Prints "ok" or "untranslated HOST-VALUE",
 * exits 0 either way, 2 when the probe itself fails (run it where 127.0.0.1
 * has no listener on port 1). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(1) };
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return 2;
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
		return 2;
	if (errno != EINPROGRESS) {
		/* refused at once: the ordinary (translated) errno path */
		printf("%s\n", errno == ECONNREFUSED ? "ok" : "connect failed otherwise");
		return errno == ECONNREFUSED ? 0 : 2;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 5000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return 2;
	close(fd);
	if (err == ECONNREFUSED)
		printf("ok\n");
	else
		printf("untranslated %d\n", err);
	return 0;
}
