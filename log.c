/* log.c - one line per event to stderr, a file, or syslog */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mtasts.h"

static int log_level = LOG_LVL_INFO;
static int log_fd = 2;
static int log_syslog;
static char log_path[256];
static int syslog_fd = -1;

static const char *const level_name[] = { "error", "warning", "info", "debug" };

/* Our own syslog(3): a datagram to /dev/log, "<PRI>mtasts[PID]: text".
 * Two reasons not to use libc's: it stamps local time with strftime,
 * which links musl's time zone code (5 KB) for a field every syslog
 * daemon fills in itself when it is missing (RFC 3164 4.3.2), and its
 * send can block the poll loop while the syslog daemon is stalled; this
 * one drops the line instead. */
static void
syslog_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

	if (syslog_fd < 0)
		syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (syslog_fd >= 0 && connect(syslog_fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		close(syslog_fd);
		syslog_fd = -1;
	}
}

static void
syslog_send(int prio, const char *text)
{
	char msg[LOG_LINE_MAX + 32];
	int n, tries;

	n = snprintf(msg, sizeof msg, "<%d>mtasts[%d]: %s", LOG_MAIL | prio, (int)getpid(), text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	/* a restarted syslog daemon has a new socket: reconnect once */
	for (tries = 0; tries < 2; tries++) {
		if (syslog_fd < 0)
			syslog_connect();
		if (syslog_fd < 0 || send(syslog_fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0 ||
		    errno == EAGAIN)
			return;
		close(syslog_fd);
		syslog_fd = -1;
	}
}

void
log_open(int level, const char *file, int use_syslog)
{
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		syslog_connect();
	if (file != NULL && *file != '\0') {
		strlcpy_m(log_path, file, sizeof log_path);
		log_reopen();
	}
}

int
log_reopen(void)
{
	int fd;

	if (log_path[0] == '\0')
		return 0;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (log_fd != 2)
		close(log_fd);
	log_fd = fd;
	return 0;
}

int
log_enabled(int level)
{
	return level <= log_level;
}

/* Format one line and write it; with_errno appends ": strerror(errno)"
 * of errno as it was on entry. */
static void
log_vline(int level, int with_errno, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;
	int saved = errno;

	if (level > log_level)
		return;
	if (log_fd != 2 && !log_syslog) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		n = utc_time(ts.tv_sec, line);
		line[n++] = ' ';
	}
	if (!log_syslog)
		n += (size_t)snprintf(line + n, sizeof line - n, "mtasts[%d] %s: ",
		    (int)getpid(), level_name[level]);
	if (n < sizeof line)
		vsnprintf(line + n, sizeof line - n, fmt, ap);
	n = strlen(line);
	if (with_errno && n < sizeof line)
		snprintf(line + n, sizeof line - n, ": %s", strerror(saved));
	if (log_syslog) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		syslog_send(prio[level], line);
		errno = saved;
		return;
	}
	n = strlen(line);
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	(void)!write(log_fd, line, n);
	errno = saved;
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(level, 0, fmt, ap);
	va_end(ap);
}

void
log_msg_errno(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(level, 1, fmt, ap);
	va_end(ap);
}

const char *
log_safe(const void *buf, size_t len, char *out, size_t cap)
{
	const unsigned char *p = buf;
	size_t o = 0, i;

	if (cap == 0)
		return "";
	if (len > LOG_SAFE_MAX)
		len = LOG_SAFE_MAX;
	for (i = 0; i < len && o + 5 < cap; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
	}
	out[o] = '\0';
	return out;
}
