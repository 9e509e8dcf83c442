/*
 * load.c - socketmap load generator for the mtasts benchmark.
 *
 * Sends Postfix-style netstring requests ("postfix dK.bench.test") over
 * TCP, one outstanding request per connection as Postfix does, checks
 * every reply against the expected one and prints one JSON line with
 * the counts, requests/s, a latency histogram summary, its own CPU use
 * and (-P) the daemon's CPU use over the run.
 *
 * Startup mode (-S) spawns the command given after "--", polls with a
 * connect and a query every millisecond until the first good reply,
 * prints the time from spawn to that reply, then stays the command's
 * parent until it exits (so nothing is left unreaped).
 */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RBUF		2048		/* one reply; Postfix allows far less */
#define WBUF		1100		/* one request */
#define SUB_BITS	6		/* histogram: 64 buckets per octave */
#define SUB		(1 << SUB_BITS)
#define NBUCKETS	(SUB * 64)
#define SCAN_NS		5000000ULL	/* timeout scan interval */

enum order { ORD_RAND, ORD_SEQ, ORD_ONCE };
enum state { S_IDLE, S_CONNECTING, S_SENDING, S_WAITING, S_DONE };

struct slot {
	int		 fd;
	enum state	 state;
	uint64_t	 t_start;	/* ns: request (or connect) start */
	uint64_t	 deadline;
	long		 key;
	size_t		 wlen, woff, rlen;
	char		 wbuf[WBUF];
	char		 rbuf[RBUF];
};

static struct {
	struct sockaddr_in addr;
	int		 conns;
	double		 seconds;
	long		 count;
	const char	*prefix, *suffix, *map, *expect, *label;
	long		 first, last;
	enum order	 order;
	int		 connect_mode;
	uint64_t	 timeout_ns;
	pid_t		 daemon_pid;
} opt;

static struct {
	uint64_t	 hist[NBUCKETS];
	uint64_t	 ok, wrong, timeouts, errors;
	uint64_t	 lat_sum, lat_max;
	long		 issued, next_key;
	uint64_t	 rng;
	char		 first_error[160];
} st;

static int epfd = -1;
static int stopping, ndone;
static volatile sig_atomic_t usr1;     /* SIGUSR1: end the run now */
static uint64_t t_end;
static volatile sig_atomic_t child_pid;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("load: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- latency histogram (log-linear, about 1.6% resolution) ---------- */

static int
bucket_of(uint64_t v)
{
	int e;

	if (v < SUB)
		return (int)v;
	e = 63 - __builtin_clzll(v);	/* v in [2^e, 2^(e+1)), e >= SUB_BITS */
	return SUB + (e - SUB_BITS) * SUB + (int)((v >> (e - SUB_BITS)) - SUB);
}

/* The middle of bucket i. */
static uint64_t
bucket_value(int i)
{
	int e;
	uint64_t lo, width;

	if (i < SUB)
		return (uint64_t)i;
	e = (i - SUB) / SUB + SUB_BITS;
	width = 1ULL << (e - SUB_BITS);
	lo = (uint64_t)((i - SUB) % SUB + SUB) << (e - SUB_BITS);
	return lo + width / 2;
}

static void
record(uint64_t ns)
{
	int b = bucket_of(ns);

	if (b >= NBUCKETS)
		b = NBUCKETS - 1;
	st.hist[b]++;
	st.lat_sum += ns;
	if (ns > st.lat_max)
		st.lat_max = ns;
}

static double
percentile_us(double q)
{
	uint64_t want, seen = 0;
	int i;

	if (st.ok == 0)
		return 0;
	want = (uint64_t)(q * (double)st.ok + 0.999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < NBUCKETS; i++) {
		seen += st.hist[i];
		if (seen >= want) {
			uint64_t v = bucket_value(i);
			return (double)(v > st.lat_max ? st.lat_max : v) / 1000.0;
		}
	}
	return (double)st.lat_max / 1000.0;
}

/* ---- helpers ------------------------------------------------------- */

static void
note_error(const char *what, const char *detail, size_t len)
{
	size_t n, i;

	if (st.first_error[0] != '\0')
		return;
	n = (size_t)snprintf(st.first_error, sizeof st.first_error, "%s", what);
	for (i = 0; i < len && n + 1 < sizeof st.first_error; i++) {
		unsigned char c = (unsigned char)detail[i];
		st.first_error[n++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	st.first_error[n] = '\0';
}

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* utime+stime of a process in seconds, -1 if unknown; *sys gets stime. */
static double
proc_cpu(pid_t pid, double *sys)
{
	char path[64], buf[1024], *p;
	unsigned long ut, stm;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* after ") ": state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &stm) != 2)
		return -1;
	*sys = (double)stm / (double)sysconf(_SC_CLK_TCK);
	return (double)(ut + stm) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint64_t
xorshift(void)
{
	st.rng ^= st.rng << 13;
	st.rng ^= st.rng >> 7;
	st.rng ^= st.rng << 17;
	return st.rng;
}

static int
format_domain(char *out, size_t cap, long key)
{
	return snprintf(out, cap, "%s%ld.%s", opt.prefix, key, opt.suffix);
}

/* Build a request "LEN:MAP KEY," for key into buf; return its length. */
static size_t
format_request(char *buf, size_t cap, const char *keytext)
{
	char payload[WBUF - 16];
	int n;

	n = snprintf(payload, sizeof payload, "%s %s", opt.map, keytext);
	if (n < 0 || (size_t)n >= sizeof payload)
		die("key too long");
	n = snprintf(buf, cap, "%d:%s,", n, payload);
	return (size_t)n;
}

/* The expected reply for key: the template with each "%s" made the domain. */
static size_t
format_expect(char *out, size_t cap, const char *domain)
{
	const char *t = opt.expect;
	size_t n = 0, dl = strlen(domain);

	while (*t != '\0' && n + 1 < cap) {
		if (t[0] == '%' && t[1] == 's') {
			if (n + dl >= cap)
				break;
			memcpy(out + n, domain, dl);
			n += dl;
			t += 2;
		} else
			out[n++] = *t++;
	}
	out[n] = '\0';
	return n;
}

/*
 * Parse one netstring at the start of buf.  Returns its total length
 * (payload at *data, *dlen bytes), 0 when incomplete, -1 when malformed.
 */
static long
netstring_parse(const char *buf, size_t len, const char **data, size_t *dlen)
{
	size_t i = 0, n = 0;

	while (i < len && buf[i] >= '0' && buf[i] <= '9') {
		n = n * 10 + (size_t)(buf[i] - '0');
		if (++i > 6)
			return -1;
	}
	if (i == len)
		return 0;
	if (i == 0 || buf[i] != ':')
		return -1;
	if (len < i + 1 + n + 1)
		return 0;
	if (buf[i + 1 + n] != ',')
		return -1;
	*data = buf + i + 1;
	*dlen = n;
	return (long)(i + 1 + n + 1);
}

/* ---- the load loop -------------------------------------------------- */

static void
slot_close(struct slot *s)
{
	if (s->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
		s->fd = -1;
	}
}

static void
slot_watch(struct slot *s, uint32_t events, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.ptr = s;
	if (epoll_ctl(epfd, op, s->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* Pick the next key, or return 0 when the run is over. */
static int
next_key(long *key)
{
	long range = opt.last - opt.first + 1;

	if (stopping)
		return 0;
	if (usr1) {
		stopping = 1;
		return 0;
	}
	if ((opt.count > 0 && st.issued >= opt.count) ||
	    (t_end != 0 && now_ns() >= t_end)) {
		stopping = 1;
		return 0;
	}
	switch (opt.order) {
	case ORD_ONCE:
		if (st.next_key >= range) {
			stopping = 1;
			return 0;
		}
		*key = opt.first + st.next_key++;
		break;
	case ORD_SEQ:
		*key = opt.first + st.next_key++ % range;
		break;
	case ORD_RAND:
		*key = opt.first + (long)(xorshift() % (uint64_t)range);
		break;
	}
	st.issued++;
	return 1;
}

static void slot_send(struct slot *);

static void
slot_fail(struct slot *s, uint64_t *counter, const char *what, const char *detail, size_t dlen)
{
	(*counter)++;
	note_error(what, detail, dlen);
	slot_close(s);
	s->state = S_IDLE;
}

/* A failed system call on a slot: count it, note errno, close. */
static void
slot_fail_errno(struct slot *s, const char *what, int err)
{
	const char *e = strerror(err);

	slot_fail(s, &st.errors, what, e, strlen(e));
}

/* Start the next request on a slot: connect first if needed. */
static void
slot_start(struct slot *s)
{
	char domain[512];
	int one = 1;

	if (!next_key(&s->key)) {
		slot_close(s);
		s->state = S_DONE;
		ndone++;
		return;
	}
	format_domain(domain, sizeof domain, s->key);
	s->wlen = format_request(s->wbuf, sizeof s->wbuf, domain);
	s->woff = 0;
	s->rlen = 0;
	s->t_start = now_ns();
	s->deadline = s->t_start + opt.timeout_ns;
	if (s->fd >= 0) {
		slot_send(s);
		return;
	}
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(s->fd, (struct sockaddr *)&opt.addr, sizeof opt.addr) == 0) {
		slot_watch(s, EPOLLIN, EPOLL_CTL_ADD);
		slot_send(s);
	} else if (errno == EINPROGRESS) {
		s->state = S_CONNECTING;
		slot_watch(s, EPOLLOUT, EPOLL_CTL_ADD);
	} else
		slot_fail_errno(s, "connect: ", errno);
}

static void
slot_send(struct slot *s)
{
	ssize_t n;

	while (s->woff < s->wlen) {
		n = write(s->fd, s->wbuf + s->woff, s->wlen - s->woff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (s->state != S_SENDING)
				slot_watch(s, EPOLLOUT, EPOLL_CTL_MOD);
			s->state = S_SENDING;
			return;
		}
		if (n <= 0) {
			slot_fail_errno(s, "write: ", n < 0 ? errno : EPIPE);
			return;
		}
		s->woff += (size_t)n;
	}
	if (s->state == S_SENDING || s->state == S_CONNECTING)
		slot_watch(s, EPOLLIN, EPOLL_CTL_MOD);
	s->state = S_WAITING;
}

static void
slot_read(struct slot *s)
{
	char want[RBUF], domain[512];
	const char *data;
	size_t dlen, wl;
	ssize_t n;
	long used;

	n = read(s->fd, s->rbuf + s->rlen, sizeof s->rbuf - s->rlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0) {
		slot_fail(s, &st.errors, "connection closed by daemon", "", 0);
		return;
	}
	if (n < 0) {
		slot_fail_errno(s, "read: ", errno);
		return;
	}
	s->rlen += (size_t)n;
	used = netstring_parse(s->rbuf, s->rlen, &data, &dlen);
	if (used == 0 && s->rlen < sizeof s->rbuf)
		return;
	if (used <= 0) {
		slot_fail(s, &st.errors, "malformed reply: ", s->rbuf, s->rlen);
		return;
	}
	if ((size_t)used != s->rlen) {
		slot_fail(s, &st.errors, "unrequested data after reply: ", s->rbuf, s->rlen);
		return;
	}
	if (strcmp(opt.expect, "ANY") != 0) {
		format_domain(domain, sizeof domain, s->key);
		wl = format_expect(want, sizeof want, domain);
		if (wl != dlen || memcmp(want, data, dlen) != 0) {
			st.wrong++;
			note_error("wrong reply: ", data, dlen);
			goto next;
		}
	}
	st.ok++;
	record(now_ns() - s->t_start);
next:
	if (opt.connect_mode)
		slot_close(s);
	s->state = S_IDLE;
	slot_start(s);
}

static void
slot_event(struct slot *s, uint32_t ev)
{
	int err = 0;
	socklen_t len = sizeof err;

	switch (s->state) {
	case S_CONNECTING:
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			if (err == 0)
				err = errno;
			slot_fail_errno(s, "connect: ", err);
			return;
		}
		s->state = S_SENDING;
		slot_send(s);
		break;
	case S_SENDING:
		slot_send(s);
		break;
	case S_WAITING:
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
			slot_read(s);
		break;
	default:
		break;
	}
}

/*
 * Every few milliseconds: fail the requests past their deadline and
 * restart the slots that a failure left idle (a small back-off).
 */
static void
scan_slots(struct slot *slots, uint64_t now)
{
	int i;

	for (i = 0; i < opt.conns; i++) {
		struct slot *s = &slots[i];
		if (s->state == S_DONE)
			continue;
		if (s->state != S_IDLE && now >= s->deadline)
			slot_fail(s, &st.timeouts, "timeout", "", 0);
		if (s->state == S_IDLE)
			slot_start(s);
	}
}

static void
print_result(double elapsed, double load_cpu, double d_cpu0, double d_cpu1,
    double d_sys)
{
	uint64_t failed = st.wrong + st.timeouts + st.errors;

	printf("{\"label\":");
	json_string(opt.label);
	printf(",\"mode\":\"%s\",\"conns\":%d,\"ok\":%llu,\"wrong\":%llu,"
	    "\"timeouts\":%llu,\"conn_errors\":%llu,\"failed\":%llu,"
	    "\"elapsed_s\":%.4f,\"rps\":%.1f,",
	    opt.connect_mode ? "connect" : "persistent", opt.conns,
	    (unsigned long long)st.ok, (unsigned long long)st.wrong,
	    (unsigned long long)st.timeouts, (unsigned long long)st.errors,
	    (unsigned long long)failed, elapsed,
	    elapsed > 0 ? (double)st.ok / elapsed : 0.0);
	printf("\"lat_us\":{\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
	    "\"p999\":%.1f,\"max\":%.1f},",
	    st.ok ? (double)st.lat_sum / (double)st.ok / 1000.0 : 0.0,
	    percentile_us(0.50), percentile_us(0.90), percentile_us(0.99),
	    percentile_us(0.999), (double)st.lat_max / 1000.0);
	printf("\"load_cpu_s\":%.3f,\"load_cpu_pct\":%.1f",
	    load_cpu, elapsed > 0 ? 100.0 * load_cpu / elapsed : 0.0);
	if (d_cpu0 >= 0 && d_cpu1 >= 0) {
		uint64_t reqs = st.ok + st.wrong;
		printf(",\"daemon_cpu_s\":%.3f,\"daemon_cpu_pct\":%.1f,"
		    "\"daemon_cpu_per_req_us\":%.2f", d_cpu1 - d_cpu0,
		    elapsed > 0 ? 100.0 * (d_cpu1 - d_cpu0) / elapsed : 0.0,
		    reqs ? (d_cpu1 - d_cpu0) * 1e6 / (double)reqs : 0.0);
		printf(",\"daemon_sys_s\":%.3f", d_sys);
	}
	printf(",\"first_error\":");
	json_string(st.first_error);
	printf("}\n");
	fflush(stdout);
}

static int
run_load(void)
{
	struct epoll_event evs[256];
	struct slot *slots;
	uint64_t t0, t_last, next_scan, hard_end = 0;
	double cpu0, d_cpu0, d_cpu1, d_sys0 = 0, d_sys1 = 0;
	int i, n;

	if ((slots = calloc((size_t)opt.conns, sizeof *slots)) == NULL)
		die("out of memory");
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	st.rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	cpu0 = self_cpu();
	d_cpu0 = proc_cpu(opt.daemon_pid, &d_sys0);
	t0 = now_ns();
	t_end = opt.seconds > 0 ? t0 + (uint64_t)(opt.seconds * 1e9) : 0;
	next_scan = t0 + SCAN_NS;
	for (i = 0; i < opt.conns; i++) {
		slots[i].fd = -1;
		slots[i].state = S_IDLE;
		slot_start(&slots[i]);
	}
	while (ndone < opt.conns) {
		uint64_t now;

		n = epoll_wait(epfd, evs, (int)(sizeof evs / sizeof evs[0]), 5);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++)
			slot_event(evs[i].data.ptr, evs[i].events);
		now = now_ns();
		if (now >= next_scan) {
			scan_slots(slots, now);
			next_scan = now + SCAN_NS;
		}
		if (stopping && hard_end == 0)
			hard_end = now + opt.timeout_ns + 1000000000ULL;
		if (hard_end != 0 && now > hard_end)
			break;
	}
	t_last = now_ns();
	d_cpu1 = proc_cpu(opt.daemon_pid, &d_sys1);
	for (i = 0; i < opt.conns; i++)
		slot_close(&slots[i]);
	print_result((double)(t_last - t0) / 1e9, self_cpu() - cpu0, d_cpu0, d_cpu1,
	    d_sys1 - d_sys0);
	free(slots);
	return st.wrong + st.timeouts + st.errors == 0 ? 0 : 1;
}

/* ---- startup mode ------------------------------------------------------- */

static void
on_usr1(int sig)
{
	(void)sig;
	usr1 = 1;
}

static void
forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* One connect+query attempt; 1 when a good reply came back. */
static int
probe(const char *key, uint64_t deadline)
{
	char req[WBUF], buf[RBUF], want[RBUF];
	const char *data;
	size_t len, rlen = 0, dlen;
	struct pollfd pfd;
	long used;
	int fd, ok = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&opt.addr, sizeof opt.addr) < 0)
		goto out;
	len = format_request(req, sizeof req, key);
	if (write(fd, req, len) != (ssize_t)len)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		uint64_t now = now_ns();
		ssize_t n;

		if (now >= deadline)
			goto out;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
			continue;
		n = read(fd, buf + rlen, sizeof buf - rlen);
		if (n <= 0)
			goto out;
		rlen += (size_t)n;
		used = netstring_parse(buf, rlen, &data, &dlen);
		if (used < 0 || (used == 0 && rlen == sizeof buf))
			goto out;
		if (used > 0)
			break;
	}
	if (strcmp(opt.expect, "ANY") == 0)
		ok = 1;
	else
		ok = format_expect(want, sizeof want, key) == dlen &&
		    memcmp(want, data, dlen) == 0;
	if (!ok)
		note_error("wrong reply: ", data, dlen);
out:
	close(fd);
	return ok;
}

static int
run_startup(char **argv, const char *key, int cpu, const char *logfile, const char *pidfile)
{
	struct timespec ms = { 0, 100000 };   /* 0.1 ms between attempts */
	struct sigaction sa;
	uint64_t t0, deadline, t_ok = 0;
	long attempts = 0;
	int status, fd;
	pid_t pid;

	t0 = now_ns();
	if ((pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (cpu >= 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof set, &set);
		}
		if ((fd = open("/dev/null", O_RDONLY)) >= 0)
			dup2(fd, 0);
		if (logfile != NULL &&
		    (fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	child_pid = pid;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (pidfile != NULL) {
		FILE *f = fopen(pidfile, "w");
		if (f != NULL) {
			fprintf(f, "%d\n", (int)pid);
			fclose(f);
		}
	}
	deadline = t0 + opt.timeout_ns;
	while (now_ns() < deadline) {
		attempts++;
		if (probe(key, deadline)) {
			t_ok = now_ns();
			break;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			child_pid = 0;
			note_error("command exited", "", 0);
			break;
		}
		nanosleep(&ms, NULL);
	}
	printf("{\"label\":");
	json_string(opt.label);
	printf(",\"pid\":%d,\"ok\":%d,\"startup_us\":%.1f,\"attempts\":%ld,"
	    "\"first_error\":", (int)pid, t_ok != 0,
	    t_ok ? (double)(t_ok - t0) / 1000.0 : 0.0, attempts);
	json_string(st.first_error);
	printf("}\n");
	fflush(stdout);
	if (t_ok == 0 && child_pid > 0)
		kill(pid, SIGKILL);
	/* stay the parent: reap the command when it is stopped */
	while (child_pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return t_ok != 0 ? 0 : 1;
}

/* ---- main -------------------------------------------------------------- */

static void
usage(void)
{
	fputs("usage: load -p PORT [-a ADDR] [-c CONNS] [-d SECONDS] [-n COUNT]\n"
	    "            [-k PREFIX] [-s SUFFIX] [-r FIRST:LAST] [-o rand|seq|once]\n"
	    "            [-m MAP] [-e EXPECT|ANY] [-C] [-t MS] [-P PID] [-j LABEL]\n"
	    "       load -S -p PORT [-q KEY] [-e EXPECT|ANY] [-A CPU] [-L LOG] [-F PIDFILE]\n"
	    "            [-t MS] -- COMMAND [ARG...]\n"
	    "  keys are PREFIX<K>.SUFFIX, K in FIRST..LAST; EXPECT is the reply\n"
	    "  with %s standing for the key (default: OK secure match=mx.%s\n"
	    "  servername=hostname); -C opens a new connection per lookup;\n"
	    "  -S spawns COMMAND and times it to the first good reply\n", stderr);
	exit(2);
}

static long
number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *qkey = "127.0.0.1", *logfile = NULL, *pidfile = NULL;
	int ch, port = -1, startup = 0, cpu = -1;
	char *colon;

	opt.conns = 1;
	opt.seconds = 5;
	opt.prefix = "d";
	opt.suffix = "bench.test";
	opt.map = "postfix";
	opt.expect = NULL;
	opt.label = "";
	opt.first = 1;
	opt.last = 1000;
	opt.order = ORD_RAND;
	opt.timeout_ns = 10000000000ULL;
	while ((ch = getopt(argc, argv, "a:A:c:Cd:e:F:j:k:L:m:n:o:p:P:q:r:s:St:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'A': cpu = (int)number(optarg, 0, 4095); break;
		case 'c': opt.conns = (int)number(optarg, 1, 10000); break;
		case 'C': opt.connect_mode = 1; break;
		case 'd': opt.seconds = atof(optarg); break;
		case 'e': opt.expect = optarg; break;
		case 'F': pidfile = optarg; break;
		case 'j': opt.label = optarg; break;
		case 'k': opt.prefix = optarg; break;
		case 'L': logfile = optarg; break;
		case 'm': opt.map = optarg; break;
		case 'n': opt.count = number(optarg, 0, 1000000000L); break;
		case 'o':
			if (strcmp(optarg, "rand") == 0)
				opt.order = ORD_RAND;
			else if (strcmp(optarg, "seq") == 0)
				opt.order = ORD_SEQ;
			else if (strcmp(optarg, "once") == 0)
				opt.order = ORD_ONCE;
			else
				usage();
			break;
		case 'p': port = (int)number(optarg, 1, 65535); break;
		case 'P': opt.daemon_pid = (pid_t)number(optarg, 1, 1L << 30); break;
		case 'q': qkey = optarg; break;
		case 'r':
			if ((colon = strchr(optarg, ':')) == NULL)
				usage();
			*colon = '\0';
			opt.first = number(optarg, 0, 1000000000L);
			opt.last = number(colon + 1, opt.first, 1000000000L);
			break;
		case 's': opt.suffix = optarg; break;
		case 'S': startup = 1; break;
		case 't': opt.timeout_ns = (uint64_t)number(optarg, 1, 86400000L) * 1000000ULL; break;
		default: usage();
		}
	}
	if (port < 0 || opt.seconds < 0 || opt.seconds > 86400 ||
	    (startup && optind >= argc) || (!startup && optind != argc))
		usage();
	/* a run must end by itself: by time, by count or by running out of keys */
	if (!startup && opt.seconds == 0 && opt.count == 0 && opt.order != ORD_ONCE)
		usage();
	memset(&opt.addr, 0, sizeof opt.addr);
	opt.addr.sin_family = AF_INET;
	opt.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &opt.addr.sin_addr) != 1)
		die("bad address %s", addr);
	signal(SIGPIPE, SIG_IGN);
	if (startup) {
		if (opt.expect == NULL)
			opt.expect = "ANY";
		if (opt.timeout_ns == 10000000000ULL)
			opt.timeout_ns = 30000000000ULL;
		return run_startup(argv + optind, qkey, cpu, logfile, pidfile);
	}
	if (opt.expect == NULL)
		opt.expect = "OK secure match=mx.%s servername=hostname";
	signal(SIGUSR1, on_usr1);
	return run_load();
}
