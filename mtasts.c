/*
 * mtasts.c - command line, start-up, signals, the poll() loop, query mode.
 *
 * One thread, one loop.  Every pass rebuilds the pollfd array from the
 * listeners, the clients and the running lookup jobs, and sleeps until
 * the nearest deadline; with no traffic and no timer due it sleeps
 * without a timeout at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "daemon.h"
#include "notify.h"

static const char *default_conf = "/etc/mta-sts.conf";

static volatile sig_atomic_t got_term, got_hup, got_chld, got_usr1;
static int sig_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
	(void)!write(sig_pipe[1], "", 1);
	errno = saved;
}

static int
signals_init(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mtasts [-c FILE] [-v LEVEL] [-l LOGFILE | -s]  run the daemon (foreground)\n"
	    "       mtasts -q DOMAIN [-c FILE] [-z ZONE] [-v LEVEL] [-j]\n"
	    "                                               show DOMAIN's MTA-STS policy\n"
	    "       mtasts -t [-c FILE]                     check the configuration\n"
	    "       mtasts -H ADDR                          probe a running daemon (health check)\n"
	    "       mtasts -d [-j] [-c FILE] [SNAPSHOT]     dump the cache (of the daemon, or a cache_file)\n"
	    "       mtasts -p DOMAIN|all | -r DOMAIN | -S [-c FILE]\n"
	    "                                               purge, refresh now, print the metrics\n"
	    "       mtasts -h | -V\n"
	    "  -c FILE   configuration (default %s; built-in defaults if absent)\n"
	    "  -v LEVEL  0 error, 1 warning, 2 info (default), 3 debug (-q: every step)\n"
	    "  -j        query mode: print the result as one JSON object\n"
	    "  -l FILE   log to FILE instead of stderr (reopened on SIGHUP)\n"
	    "  -s        log to syslog (facility mail)\n"
	    "  -z ZONE   zone whose settings query mode uses (default: the default zone)\n"
	    "  -j        JSON output\n"
	    "exit: 0 ok (query mode: a policy applies), 1 no policy (-d -p -r -S: the daemon\n"
	    "      answered an error), 2 usage or config error (-d -p -r -S: no answer)\n",
	    default_conf);
}

/* ---- start-up --------------------------------------------------------- */

static int
resolver_init(struct daemon *d)
{
	int i;

	memset(&d->servers, 0, sizeof d->servers);
	if (d->conf.nnameserver > 0) {
		d->servers.timeout_ms = DNS_TIMEOUT_DEF_MS;
		d->servers.attempts = DNS_ATTEMPTS_DEF;
		for (i = 0; i < d->conf.nnameserver; i++)
			dns_servers_add(&d->servers, d->conf.nameserver[i]);
	} else {
		char err[300], *buf;
		size_t n;
		if ((buf = read_file(d->conf.resolv_conf, RESOLV_CONF_MAX, &n, err, sizeof err)) != NULL) {
			dns_servers_parse(buf, n, &d->servers);
			free(buf);
		} else
			log_warnx("%s", err);
	}
	if (d->servers.n == 0) {
		log_warnx("no nameserver configured: using 127.0.0.1");
		dns_servers_add(&d->servers, "127.0.0.1");
	}
	/* DANE-2: the AD bit only means something over loopback */
	d->dane_ok = dane_servers_trusted(&d->servers);
	for (i = 0; i < d->conf.nzones && !d->dane_ok; i++)
		if (d->conf.zone[i].dane) {
			log_warnx("dane = yes, but a nameserver is not on loopback: "
			    "its AD bit cannot be trusted, so DANE is treated as insecure "
			    "(MTA-STS decides); run a validating resolver on 127.0.0.1 or ::1");
			break;
		}
	return 0;
}

static int
engine_init(struct daemon *d, uint32_t cache_entries)
{
	char err[256];
	unsigned char probe[4];

	redis_init(&d->redis);
	if (rand_fill(probe, sizeof probe) < 0) {
		log_errx("no randomness (getrandom failed): refusing to run a DNS resolver");
		return -1;
	}
	resolver_init(d);
	if (anchors_load(&d->anchors, d->conf.ca_file, err, sizeof err) < 0) {
		log_errx("ca_file: %s", err);
		return -1;
	}
	log_debug("%zu trust anchors loaded from %s", d->anchors.n, d->conf.ca_file);
	if (cache_init(&d->cache, cache_entries) < 0) {
		log_errx("out of memory for the cache (%u entries)", cache_entries);
		return -1;
	}
	if (lookup_init(d) < 0) {
		log_errx("out of memory for %d lookup slots (max_lookups)", d->conf.max_lookups);
		return -1;
	}
	return 0;
}

/* ---- snapshot ------------------------------------------------------------ */

static void
snapshot_insert(void *arg, const struct snap_record *r)
{
	struct daemon *d = arg;
	struct cache_entry *e;

	if (r->dane != DANE_UNKNOWN) {  /* a DANE decision (danejob.c) */
		if ((e = cache_find(&d->cache, r->domain)) == NULL)
			e = cache_store(&d->cache, r->domain, CE_DANE, NULL, 0, d->now);
		if (e != NULL) {
			e->dane = r->dane;
			e->dane_until = (uint32_t)(d->now / 1000 + (r->dane_until - wall_now()));
		}
		return;
	}
	/* the lifetime keeps counting from the original fetch */
	e = cache_store_policy(&d->cache, r->domain, &r->pol, r->id, r->fetched,
	    d->now + (r->fetched + (int64_t)r->pol.max_age - wall_now()) * 1000, d->now);
	if (e != NULL) {
		e->next_check = d->now;   /* the first lookup revalidates in the background */
		e->used_wall = (uint32_t)wall_now();   /* one refresh_unused_after to be asked */
	}
}

static void
snapshot_load(struct daemon *d)
{
	struct snap_stats st;
	char *buf, err[300];
	size_t len;

	if (d->conf.cache_file[0] == '\0')
		return;
	if ((buf = read_file(d->conf.cache_file, SNAP_FILE_MAX, &len, err, sizeof err)) == NULL) {
		if (errno != ENOENT)
			log_warnx("cache_file %s (starting with an empty cache)", err);
		return;
	}
	d->now = mono_now();
	if (snapshot_parse(buf, len, wall_now(), snapshot_insert, d, &st) < 0)
		log_warnx("cache_file %s: %s; ignored, starting with an empty cache",
		    d->conf.cache_file, st.why);
	else {
		log_info("cache_file %s: %d policies loaded, %d expired, %d bad",
		    d->conf.cache_file, st.loaded, st.expired, st.bad);
		if (st.bad > 0 || !st.complete)
			log_warnx("cache_file %s: damaged (%s, line %d); its valid records were used",
			    d->conf.cache_file, st.why ? st.why : "cut short", st.bad_line);
	}
	free(buf);
	d->snap_saved = d->cache_changes;
}

/* A snapshot write ended (ok or not) after usec microseconds. */
static void
snapshot_count(struct daemon *d, int ok, int64_t usec)
{
	if (ok)
		d->metrics.snap_writes++;
	else
		d->metrics.snap_failed++;
	d->metrics.snap_last_usec = usec > 0 ? (uint64_t)usec : 0;
	d->metrics.snap_usec += d->metrics.snap_last_usec;
}

static void
snapshot_save_now(struct daemon *d)
{
	int64_t t0 = mono_usec();
	char err[400];
	int n;

	n = snapshot_write(&d->cache, d->conf.cache_file, mono_now(), err, sizeof err);
	snapshot_count(d, n >= 0, mono_usec() - t0);
	if (n < 0)
		log_errx("snapshot not written: %s", err);
	else
		log_info("snapshot written: %d policies to %s", n, d->conf.cache_file);
}

/* Periodic snapshots are written by a child process, from a copy-on-write
 * image of the cache, so the loop never waits for the disk. */
static void
snapshot_tick(struct daemon *d)
{
	pid_t pid;

	if (d->conf.cache_file[0] == '\0' || d->snap_pid != 0)
		return;
	if (d->now < d->snap_next)
		return;
	d->snap_next = d->now + (msec_t)d->conf.snapshot_interval * 1000;
	if (d->cache_changes == d->snap_saved)
		return;
	d->snap_saved = d->cache_changes;
	d->snap_started = mono_usec();
	pid = fork();
	if (pid == 0) {
		char err[400];
		int n = snapshot_write(&d->cache, d->conf.cache_file, mono_now(),
		    err, sizeof err);
		if (n < 0)
			log_errx("snapshot not written: %s", err);
		else
			log_debug("snapshot written: %d policies", n);
		_exit(n < 0);
	}
	if (pid < 0) {
		log_warn("fork for snapshot (writing it inline)");
		snapshot_save_now(d);
		return;
	}
	d->snap_pid = (int)pid;
}

static void
reap_children(struct daemon *d)
{
	int status;

	got_chld = 0;
	if (d->snap_pid != 0 && waitpid(d->snap_pid, &status, WNOHANG) == d->snap_pid) {
		int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		/* from fork to reaping: what the writer took, as seen from here */
		snapshot_count(d, ok, mono_usec() - d->snap_started);
		if (!ok)
			log_warnx("snapshot writer failed; the previous snapshot is kept");
		d->snap_pid = 0;
	}
}

/* SIGUSR1: every metric in one log line */
static void
metrics_log(struct daemon *d)
{
	char line[METRICS_LINE_MAX];

	if (metrics_render_line(d, d->now, line, sizeof line) == 0)
		log_warnx("metrics: too many for one log line");
	else
		log_info("metrics: %s", line);
}

/* ---- reload and privileges ------------------------------------------------- */

/* SIGHUP: a new configuration and CA bundle, keeping the cache.  Settings
 * that size memory or sockets need a restart and are kept as they are. */
static void
reload(struct daemon *d)
{
	static struct config nc;
	struct anchors ta;
	char err[512];
	int i;

	if (log_reopen() < 0)
		log_warn("cannot reopen the log file");
	if (conf_load(d->conf_path, d->conf_given, &nc, err, sizeof err) < 0) {
		log_errx("reload refused, old configuration kept: %s", err);
		return;
	}
	memset(&ta, 0, sizeof ta);
	if (anchors_load(&ta, nc.ca_file, err, sizeof err) < 0) {
		log_errx("reload refused, old configuration kept: ca_file: %s", err);
		return;
	}
	if (nc.nlisten != d->conf.nlisten || nc.cache_size != d->conf.cache_size ||
	    nc.max_clients != d->conf.max_clients || nc.max_lookups != d->conf.max_lookups ||
	    strcmp(nc.user, d->conf.user) != 0 ||
	    strcmp(nc.metrics_listen, d->conf.metrics_listen) != 0)
		log_warnx("reload: listen, metrics_listen, cache_size, max_clients, max_lookups "
		    "and user take effect at the next restart");
	for (i = 0; i < nc.nlisten && i < d->conf.nlisten; i++)
		if (strcmp(nc.listen[i], d->conf.listen[i]) != 0)
			log_warnx("reload: listen changes take effect at the next restart");
	nc.nlisten = d->conf.nlisten;
	memcpy(nc.listen, d->conf.listen, sizeof nc.listen);
	nc.cache_size = d->conf.cache_size;
	nc.max_clients = d->conf.max_clients;
	nc.max_lookups = d->conf.max_lookups;
	memcpy(nc.user, d->conf.user, sizeof nc.user);
	if (strcmp(nc.control, d->conf.control) != 0)
		log_warnx("reload: control takes effect at the next restart");
	memcpy(nc.control, d->conf.control, sizeof nc.control);
	memcpy(nc.metrics_listen, d->conf.metrics_listen, sizeof nc.metrics_listen);
	/* Queued requests name their zone by index and running jobs by
	 * pointer into d->conf.zone[], and the new table may add, drop or
	 * reorder zones: move each reference to the zone of the same name
	 * (the default zone if it is gone), then copy the table over the old
	 * one in place, so the pointers stay valid. */
	server_rezone(d, &nc);
	lookup_rezone(d, &nc);
	d->conf = nc;
	resolver_init(d);
	if (redis_configure(d) < 0)
		log_errx("reload: the shared cache stays off until the next good reload");
	if (d->anchors_next.ta != NULL || d->anchors_next.mem != NULL)
		anchors_free(&d->anchors_next);
	d->anchors_next = ta;
	log_info("configuration reloaded from %s (%zu trust anchors)",
	    d->conf_given || access(d->conf_path, F_OK) == 0 ? d->conf_path : "defaults", ta.n);
}

/* The old anchors are referenced by running fetches: swap when none runs. */
static void
anchors_swap(struct daemon *d)
{
	if ((d->anchors_next.ta == NULL && d->anchors_next.mem == NULL) || lookup_fetching(d))
		return;
	anchors_free(&d->anchors);
	d->anchors = d->anchors_next;
	memset(&d->anchors_next, 0, sizeof d->anchors_next);
}

static int
drop_privileges(struct daemon *d)
{
	struct passwd *pw;

	if (d->conf.user[0] == '\0')
		return 0;
	if ((pw = getpwnam(d->conf.user)) == NULL) {
		log_errx("user %s: no such user", d->conf.user);
		return -1;
	}
	if (d->conf.cache_file[0] != '\0') {
		/* the snapshot is replaced by rename: its directory must be ours */
		char dir[256], *slash;
		strlcpy_m(dir, d->conf.cache_file, sizeof dir);
		slash = strrchr(dir, '/');
		if (slash != NULL && slash != dir)
			*slash = '\0';
		if (mkdir(dir, 0750) == 0 || errno == EEXIST) {
			struct stat sb;
			/* never take over a shared directory like /tmp or / */
			if (stat(dir, &sb) == 0 && sb.st_uid == 0 && strcmp(dir, "/") != 0 &&
			    !(sb.st_mode & S_ISVTX))
				(void)!chown(dir, pw->pw_uid, pw->pw_gid);
		}
		(void)!chown(d->conf.cache_file, pw->pw_uid, pw->pw_gid);
	}
	/* only root and the daemon's user may use the control socket */
	if (d->control_on && chown(d->control_listener.path, pw->pw_uid, pw->pw_gid) < 0) {
		log_err("control %s: chown to %s", d->conf.control, d->conf.user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_err("cannot become user %s", d->conf.user);
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		log_errx("still able to regain root after dropping to %s", d->conf.user);
		return -1;
	}
	log_info("running as user %s (uid %d)", d->conf.user, (int)pw->pw_uid);
	return 0;
}

/* ---- the loop --------------------------------------------------------------- */

enum slot_type { SLOT_SIGNAL, SLOT_LISTEN, SLOT_CLIENT, SLOT_JOB, SLOT_HTTPD_LISTEN,
	SLOT_HTTPD, SLOT_CONTROL_LISTEN, SLOT_CONTROL, SLOT_REDIS };
struct slot {
	uint8_t type;
	uint8_t which;
	void *p;
};

/* The poll set of one pass, and what each entry stands for. */
struct loop {
	struct pollfd *pfd;
	struct slot *map;
	size_t cap;
	size_t n;               /* entries in use this pass */
	msec_t deadline;        /* the nearest deadline this pass */
	size_t job_turn;        /* where the next pass starts on job events */
};

static int
loop_init(struct loop *l, const struct daemon *d)
{
	l->cap = 1 + LISTEN_MAX + (size_t)d->clients.cap + 2 * (size_t)d->jobs.cap +
	    1 + HTTPD_CONNS + 1 + CONTROL_CLIENTS;
	l->job_turn = 0;
	l->pfd = calloc(l->cap, sizeof *l->pfd);
	l->map = calloc(l->cap, sizeof *l->map);
	return l->pfd == NULL || l->map == NULL ? -1 : 0;
}

static void
loop_free(struct loop *l)
{
	free(l->pfd);
	free(l->map);
}

/* Everything allocated at start-up, returned at exit so leak checkers
 * see a clean run. */
static void
daemon_free(struct daemon *d)
{
	redis_free(d);
	server_free(d);         /* releases the requests' jobs */
	controld_free(d);
	lookup_free(d);
	cache_free(&d->cache);
	anchors_free(&d->anchors);
	if (d->anchors_next.mem != NULL || d->anchors_next.ta != NULL)
		anchors_free(&d->anchors_next);
}

static void
add_fd(struct loop *l, int fd, short ev, int type, void *p, int which)
{
	l->pfd[l->n].fd = fd;
	l->pfd[l->n].events = ev;
	l->pfd[l->n].revents = 0;
	l->map[l->n].type = (uint8_t)type;
	l->map[l->n].p = p;
	l->map[l->n].which = (uint8_t)which;
	l->n++;
}

static void
add_deadline(struct loop *l, msec_t dl)
{
	if (dl < l->deadline)
		l->deadline = dl;
}

/* Phase 1: the poll set and the nearest deadline.  Listeners and
 * clients only when serving (not in query mode). */
static void
loop_build(struct daemon *d, struct loop *l, int serving)
{
	msec_t dl;
	int k, w, fd;
	short ev;

	l->n = 0;
	l->deadline = INT64_MAX;
	add_fd(l, sig_pipe[0], POLLIN, SLOT_SIGNAL, NULL, 0);
	if (serving) {
		if (!d->stopping)
			for (k = 0; k < d->nlisten; k++)
				add_fd(l, d->listen[k].fd, POLLIN, SLOT_LISTEN, NULL, k);
		for (k = 0; k < d->clients.nactive; k++) {
			struct client *c = d->clients.active[k];
			if ((ev = server_client_events(c)) != 0)
				add_fd(l, c->fd, ev, SLOT_CLIENT, c, 0);
			add_deadline(l, server_client_deadline(d, c));
		}
		if (d->control_on)
			add_fd(l, d->control_listener.fd, POLLIN, SLOT_CONTROL_LISTEN, NULL, 0);
		for (k = 0; k < d->controls.nactive; k++) {
			struct control_conn *cc = d->controls.active[k];
			if ((ev = controld_events(cc)) != 0)
				add_fd(l, cc->fd, ev, SLOT_CONTROL, cc, 0);
			add_deadline(l, controld_deadline(d, cc));
		}
		if (d->httpd.fd >= 0) {
			if (!d->stopping && d->now >= d->httpd.paused_until)
				add_fd(l, d->httpd.fd, POLLIN, SLOT_HTTPD_LISTEN, NULL, 0);
			else if (!d->stopping)
				add_deadline(l, d->httpd.paused_until);
			for (k = 0; k < HTTPD_CONNS; k++) {
				if ((fd = httpd_poll(d, k, &ev, &dl)) < 0)
					continue;
				add_fd(l, fd, ev, SLOT_HTTPD, NULL, k);
				add_deadline(l, dl);
			}
		}
		dl = INT64_MAX;
		if ((fd = redis_poll(d, &ev, &dl)) >= 0)
			add_fd(l, fd, ev, SLOT_REDIS, NULL, 0);
		add_deadline(l, dl);
		if (d->conf.proactive_fetch && d->proactive_cursor == CACHE_NIL)
			add_deadline(l, d->proactive_next);
		/* no wakeup for snapshots while nothing changed */
		if (d->conf.cache_file[0] != '\0' && d->cache_changes != d->snap_saved &&
		    d->snap_pid == 0)
			add_deadline(l, d->snap_next);
	}
	for (k = 0; k < d->jobs.nactive; k++) {
		struct job *j = d->jobs.active[k];
		if (j->state == JOB_DONE)
			continue;
		for (w = 0; w < 2; w++) {
			dl = INT64_MAX;
			ev = 0;
			if (!lookup_poll(j, w, &fd, &ev, &dl))
				continue;
			add_deadline(l, dl);
			if (fd >= 0 && ev != 0)
				add_fd(l, fd, ev, SLOT_JOB, j, w);
		}
	}
}

/* Phase 2: sleep until an event or the deadline (none: no timeout). */
static int
loop_poll(struct daemon *d, struct loop *l)
{
	int timeout;

	d->now = mono_now();
	if (l->deadline == INT64_MAX)
		timeout = -1;
	else if (l->deadline <= d->now)
		timeout = 0;
	else
		timeout = l->deadline - d->now > INT_MAX ? INT_MAX : (int)(l->deadline - d->now);
	if (poll(l->pfd, l->n, timeout) < 0 && errno != EINTR) {
		log_err("poll");
		return -1;
	}
	d->now = mono_now();
	return 0;
}

/* Phase 3: clients first, so a cached answer never waits behind lookup
 * work; and drain the signal pipe. */
static void
loop_clients(struct daemon *d, struct loop *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		short re = l->pfd[i].revents;
		if (re == 0)
			continue;
		if (l->map[i].type == SLOT_CLIENT) {
			struct client *c = l->map[i].p;
			/* an earlier client's answer may have closed this one */
			if (c->fd == l->pfd[i].fd)
				server_client_io(d, c, re);
		} else if (l->map[i].type == SLOT_CONTROL) {
			struct control_conn *cc = l->map[i].p;
			if (cc->fd == l->pfd[i].fd)
				controld_io(d, cc, re);
		} else if (l->map[i].type == SLOT_HTTPD) {
			httpd_step(d, l->map[i].which, re);
		} else if (l->map[i].type == SLOT_SIGNAL) {
			char buf[64];
			while (read(sig_pipe[0], buf, sizeof buf) > 0)
				;
		}
	}
}

/* Phase 4: job events.  A TLS step can cost milliseconds of public-key
 * work, so after JOB_SLICE_US the remaining job events wait for the next
 * pass (poll reports them again), after that pass's clients; it starts
 * where this one stopped, so every job gets its turn.  Jobs that finish
 * wake their clients in loop_housekeeping. */
static void
loop_job_slice(struct daemon *d, struct loop *l)
{
	int64_t slice_end = mono_usec() + JOB_SLICE_US;
	size_t i, t;

	for (t = 0; t < l->n; t++) {
		i = (l->job_turn + t) % l->n;
		if (l->map[i].type != SLOT_JOB || l->pfd[i].revents == 0)
			continue;
		lookup_step(d, l->map[i].p, l->map[i].which, l->pfd[i].revents);
		l->pfd[i].revents = 0;
		if (mono_usec() >= slice_end) {
			l->job_turn = i + 1;
			d->now = mono_now();
			break;
		}
	}
}

/* Phase 4b: the shared cache's connection, every pass (its timers too) */
static void
loop_redis(struct daemon *d, struct loop *l)
{
	short re = 0;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->map[i].type == SLOT_REDIS)
			re = l->pfd[i].revents;
	redis_step(d, re);
}

/* Phase 5: deadlines of jobs, then new connections, then deadlines of
 * clients (late answers, idle connections). */
static void
loop_expiries(struct daemon *d, struct loop *l, int serving)
{
	msec_t dl;
	size_t i;
	int k, w, fd;
	short ev;

	for (k = d->jobs.nactive - 1; k >= 0; k--) {
		struct job *j = d->jobs.active[k];
		for (w = 0; w < 2 && j->state != JOB_FREE && j->state != JOB_DONE; w++) {
			dl = INT64_MAX;
			if (lookup_poll(j, w, &fd, &ev, &dl) && dl <= d->now)
				lookup_step(d, j, w, 0);
		}
	}
	for (i = 0; i < l->n; i++)
		if (l->map[i].type == SLOT_LISTEN && l->pfd[i].revents != 0)
			server_accept(d, l->pfd[i].fd);
		else if (l->map[i].type == SLOT_CONTROL_LISTEN && l->pfd[i].revents != 0)
			controld_accept(d);
	if (!serving)
		return;
	for (k = d->controls.nactive - 1; k >= 0; k--) {
		struct control_conn *cc = d->controls.active[k];
		if (controld_deadline(d, cc) <= d->now)
			controld_timers(d, cc);
	}
	if (d->httpd.fd >= 0) {
		for (k = 0; k < HTTPD_CONNS; k++)
			if (httpd_poll(d, k, &ev, &dl) >= 0 && dl <= d->now)
				httpd_step(d, k, 0);
		for (i = 0; i < l->n; i++)
			if (l->map[i].type == SLOT_HTTPD_LISTEN && l->pfd[i].revents != 0)
				httpd_accept(d);
	}
	for (k = d->clients.nactive - 1; k >= 0; k--) {
		struct client *c = d->clients.active[k];
		if (server_client_deadline(d, c) <= d->now)
			server_client_timers(d, c);
	}
}

/* Phase 6: answer the clients of finished jobs, give waiting requests
 * the freed job slots; then background work, unless stopping. */
static void
loop_housekeeping(struct daemon *d)
{
	if (d->wake_clients)
		server_wake(d);
	if (d->need_job)
		server_retry_need_job(d);
	if (d->stopping) {
		server_close_idle(d);
		return;
	}
	lookup_proactive(d);
	snapshot_tick(d);
	anchors_swap(d);
}

/* One pass of the loop; serving is 0 in query mode (jobs only). */
static void
loop_once(struct daemon *d, struct loop *l, int serving)
{
	loop_build(d, l, serving);
	if (loop_poll(d, l) < 0)
		return;
	loop_clients(d, l);
	loop_job_slice(d, l);
	if (serving)
		loop_redis(d, l);
	loop_expiries(d, l, serving);
	if (serving)
		loop_housekeeping(d);
}

/* Every client and lookup needs descriptors: make sure the limit allows
 * the configured pools, so accept() never fails with EMFILE and spins.
 * Returns how many clients fit (max_clients, or fewer, with a warning). */
static int
fd_limit(const struct daemon *d)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)d->conf.max_clients +
	    FD_PER_LOOKUP * (rlim_t)d->conf.max_lookups + LISTEN_MAX + FD_RESERVE +
	    1 + HTTPD_CONNS;
	int room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return d->conf.max_clients;
	rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= need)
		return d->conf.max_clients;
	room = (int)rl.rlim_cur - FD_PER_LOOKUP * d->conf.max_lookups - LISTEN_MAX -
	    FD_RESERVE - 1 - HTTPD_CONNS;
	if (room < CLIENTS_MIN)
		room = CLIENTS_MIN;
	log_warnx("open file limit %lu is too low for max_clients %d: using %d clients",
	    (unsigned long)rl.rlim_cur, d->conf.max_clients, room);
	return room;
}

/* SIGTERM: take what is already queued on the listeners, then stop
 * accepting: a second instance (reuse_port) takes over. */
static msec_t
stop_accepting(struct daemon *d)
{
	int k;

	for (k = 0; k < d->nlisten; k++)
		server_accept(d, d->listen[k].fd);
	server_close_listeners(d);
	controld_free(d);
	httpd_close(d);         /* the next instance takes metrics_listen too */
	d->stopping = 1;
	notify_stopping();
	log_info("stopping: finishing requests in flight (at most %d s)",
	    d->conf.shutdown_timeout);
	return d->now + (msec_t)d->conf.shutdown_timeout * 1000;
}

static int
run_daemon(struct daemon *d)
{
	struct loop l;
	msec_t stop_deadline = 0;

	if (server_init(d, fd_limit(d)) < 0 || loop_init(&l, d) < 0) {
		log_errx("out of memory for %d clients", d->conf.max_clients);
		return 2;
	}
	if (server_listen(d) < 0 || httpd_listen(d) < 0 || controld_listen(d) < 0)
		return 2;
	snapshot_load(d);
	if (drop_privileges(d) < 0)
		return 2;
	d->now = mono_now();
	d->proactive_cursor = CACHE_NIL;
	d->proactive_next = d->now;
	d->snap_next = d->now + (msec_t)d->conf.snapshot_interval * 1000;
	d->metrics.start_wall = wall_now();
	if (redis_configure(d) < 0)
		return 2;
	log_info("mtasts %s started: %d cache entries, %d clients, %d lookups at once",
	    MTASTS_VERSION, d->conf.cache_size, d->clients.cap, d->conf.max_lookups);
	notify_ready();
	for (;;) {
		loop_once(d, &l, 1);
		if (got_chld)
			reap_children(d);
		if (got_hup) {
			got_hup = 0;
			if (!d->stopping) {
				notify_reloading();
				reload(d);
				notify_ready();
			}
		}
		if (got_usr1) {
			got_usr1 = 0;
			metrics_log(d);
		}
		if (got_term && !d->stopping)
			stop_deadline = stop_accepting(d);
		if (d->stopping && (d->clients.nactive == 0 || d->now >= stop_deadline))
			break;
	}
	while (d->clients.nactive > 0)
		server_client_close(d, d->clients.active[d->clients.nactive - 1], NULL);
	if (d->snap_pid != 0)
		waitpid(d->snap_pid, NULL, 0);
	if (d->conf.cache_file[0] != '\0')
		snapshot_save_now(d);
	httpd_close(d);
	loop_free(&l);
	daemon_free(d);
	log_info("stopped");
	return 0;
}

/* ---- query mode ------------------------------------------------------------ */

/* ,"key":"s" (null when s is NULL); no comma after an opening { or [ */
static void
json_member(struct json *w, const char *key, const char *s)
{
	if (w->len > 0 && w->buf[w->len - 1] != '{' && w->buf[w->len - 1] != '[')
		json_raw(w, ",");
	json_key(w, key);
	if (s != NULL)
		json_str(w, s, strlen(s));
	else
		json_raw(w, "null");
}

/* -q -j: the result as one JSON object */
static void
print_json(const struct job *j, const char *domain, const struct zone *z, const char *answer)
{
	/* on the stack: query mode only, and no bss for the daemon */
	char buf[NS_REPLY_MAX + 2 * MX_DATA_MAX + JOB_STEPS_MAX * 2 * JOB_STEP_TEXT +
	    8 * JOB_WHY_MAX];
	struct json w;
	size_t k;
	int i;

	json_init(&w, buf, sizeof buf);
	json_raw(&w, "{");
	json_member(&w, "domain", domain);
	json_member(&w, "zone", z->name);
	json_member(&w, "id", j->id[0] != '\0' ? j->id : NULL);
	json_member(&w, "mode", j->have_policy ? policy_mode_str(j->pol.mode) : NULL);
	json_raw(&w, ",");
	json_key(&w, "mx");
	json_raw(&w, "[");
	for (k = 0; j->have_policy && k < j->pol.mxlen; k += strlen(j->pol.mx + k) + 1) {
		if (k > 0)
			json_raw(&w, ",");
		json_str(&w, j->pol.mx + k, strlen(j->pol.mx + k));
	}
	json_raw(&w, "],");
	json_key(&w, "max_age");
	if (j->have_policy)
		json_int(&w, j->pol.max_age);
	else
		json_raw(&w, "null");
	json_member(&w, "answer", answer);
	json_member(&w, "why", j->why);
	json_member(&w, "code", j->code);
	if (j->dane != DANE_UNKNOWN)    /* only with dane = yes: the keys stay */
		json_member(&w, "dane", dane_state_str((enum dane_state)j->dane));
	json_raw(&w, ",");
	json_key(&w, "failure");        /* RPT-3: the failed fetch, or null */
	if (j->fail_wall != 0) {
		char t[UTC_TIME_MAX];
		utc_time(j->fail_wall, t);
		json_raw(&w, "{");
		json_member(&w, "time", t);
		json_member(&w, "result", http_class_str(j->fail_cls));
		json_member(&w, "reason", j->reason);
		json_member(&w, "ip", j->fail_ip[0] != '\0' ? j->fail_ip : NULL);
		json_raw(&w, "},");
	} else
		json_raw(&w, "null,");
	json_key(&w, "steps");
	json_raw(&w, "[");
	for (i = 0; i < j->nsteps; i++) {
		const struct job_step *st = &j->steps[i];
		json_raw(&w, i > 0 ? ",{" : "{");
		json_member(&w, "step", st->name);
		json_raw(&w, ",");
		json_key(&w, "ms");
		json_int(&w, st->ms);
		json_member(&w, "result", st->result);
		json_raw(&w, "}");
	}
	json_raw(&w, "]}");
	printf("%s\n", w.over ? "{\"error\": \"output too long\"}" : buf);
}

/* -q with a key that names no policy domain: NOTFOUND, and why; returns 1 */
static int
print_not_a_domain(const char *key, enum key_status ks, int json)
{
	char buf[REPLY_MAX];
	struct json w;

	if (!json) {
		printf("key: %s\nresult: not a policy domain (%s)\nanswer: NOTFOUND \n",
		    key, key_status_str(ks));
		return 1;
	}
	json_init(&w, buf, sizeof buf);
	json_raw(&w, "{");
	json_member(&w, "key", key);
	json_member(&w, "answer", "NOTFOUND ");
	json_member(&w, "why", "not a policy domain");
	json_raw(&w, "}");
	printf("%s\n", buf);
	return 1;
}

/* -q's lines: what was found, the steps with -v 3, why, and the answer */
static void
print_text(const struct job *j, const char *domain, const struct zone *z, const char *answer,
    int steps)
{
	char u[DOMAIN_MAX * 4 + 1];
	size_t k;
	int i;

	printf("domain: %s\n", domain);
	/* an international name: its U-label form too (IDN-1) */
	if (idn_to_unicode(domain, strlen(domain), u, sizeof u) > 0 && strcmp(u, domain) != 0)
		printf("unicode: %s\n", u);
	printf("zone: %s\n", z->name[0] ? z->name : "(default)");
	if (j->id[0] != '\0')
		printf("id: %s\n", j->id);
	if (j->have_policy) {
		printf("mode: %s\n", policy_mode_str(j->pol.mode));
		for (k = 0; k < j->pol.mxlen; k += strlen(j->pol.mx + k) + 1)
			printf("mx: %s\n", j->pol.mx + k);
		printf("max_age: %u\n", j->pol.max_age);
	}
	danejob_print(j);
	for (i = 0; steps && i < j->nsteps; i++)
		printf("step: %s: %lld ms: %s\n", j->steps[i].name, (long long)j->steps[i].ms,
		    j->steps[i].result);
	if (j->code[0] != '\0')
		printf("result: %s%s [%s]\n", j->failed ? "no policy: " : "", j->why, j->code);
	else
		printf("result: %s%s\n", j->failed ? "no policy: " : "", j->why);
	if (j->fail_wall != 0) {        /* RPT-3: the fields of the daemon's log line */
		char f[JOB_WHY_MAX];
		lookup_failure_fields(j, f, sizeof f);
		printf("failure: %s\n", f);
	}
	printf("answer: %s\n", answer);
}

static int
run_query(struct daemon *d, const char *key, const char *zone_name, int json, int steps)
{
	const struct zone *z = conf_zone(&d->conf, zone_name, strlen(zone_name));
	char domain[DOMAIN_MAX + 1], answer[NS_REPLY_MAX + 1];
	struct request r;
	enum lookup_start_result res;
	enum key_status ks;
	struct job *j;
	struct loop l;
	int rc = 2;

	ks = key_normalize(key, strlen(key), domain);
	if (ks != KEY_OK)
		return print_not_a_domain(key, ks, json);
	if (loop_init(&l, d) < 0)
		return 2;
	d->now = mono_now();
	j = lookup_start(d, domain, z, &res);
	if (j == NULL) {                /* cannot happen: the only job slot is free */
		log_errx("%s: no lookup slot", domain);
		goto out;
	}
	j->refs = 1;                    /* keep the result after it finishes */
	while (j->state != JOB_DONE && !got_term)
		loop_once(d, &l, 0);
	if (j->state != JOB_DONE)
		goto out;
	memset(&r, 0, sizeof r);
	r.kind = REQ_JOB;
	r.job = j;
	r.zone = (uint8_t)(z - d->conf.zone);
	strlcpy_m(r.domain, domain, sizeof r.domain);
	answer[server_answer(d, &r, answer, sizeof answer - 1)] = '\0';
	if (json)
		print_json(j, domain, z, answer);
	else
		print_text(j, domain, z, answer, steps);
	rc = strncmp(answer, "OK ", 3) == 0 ? 0 : 1;
out:
	loop_free(&l);
	daemon_free(d);
	return rc;
}

/* ---- main ------------------------------------------------------------------ */

struct options {
	const char *conf_path, *logfile, *query, *zone;
	const char *health;          /* -H ADDR: probe a running daemon */
	int level, check_only, conf_given, use_syslog;
	const char *control, *control_arg;   /* -d -p -r -S: control command */
	int json;                    /* -j: JSON output (-q, -d) */
};

/* The command line: 0 run, 1 done (help or version printed), 2 usage error. */
static int
parse_options(int argc, char **argv, struct options *o)
{
	int ch;

	memset(o, 0, sizeof *o);
	o->conf_path = default_conf;
	o->zone = "";
	o->level = LOG_LVL_INFO;
	while ((ch = getopt(argc, argv, "c:v:l:q:z:sthVH:dp:r:Sj")) != -1) {
		switch (ch) {
		case 'c':
			o->conf_path = optarg;
			o->conf_given = 1;
			break;
		case 'v':
			if (optarg[0] < '0' || optarg[0] > '3' || optarg[1] != '\0') {
				usage(stderr);
				return 2;
			}
			o->level = optarg[0] - '0';
			break;
		case 'l':
			o->logfile = optarg;
			break;
		case 'q':
			o->query = optarg;
			break;
		case 'z':
			o->zone = optarg;
			break;
		case 's':
			o->use_syslog = 1;
			break;
		case 't':
			o->check_only = 1;
			break;
		case 'H':
			o->health = optarg;
			break;
		case 'd':
		case 'p':
		case 'r':
		case 'S':
			o->control = ch == 'd' ? "DUMP" : ch == 'p' ? "PURGE" :
			    ch == 'r' ? "REFRESH" : "STATS";
			o->control_arg = ch == 'p' || ch == 'r' ? optarg : NULL;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("mtasts %s\n", MTASTS_VERSION);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* mtasts -d SNAPSHOT: the one operand there is */
	if (o->control != NULL && !strcmp(o->control, "DUMP") && optind + 1 == argc)
		o->control_arg = argv[optind++];
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct daemon d;
	struct options o;
	char err[512];
	int rc;

	if ((rc = parse_options(argc, argv, &o)) != 0)
		return rc == 1 ? 0 : 2;
	if (o.health != NULL)
		return health_check(o.health);
	if (conf_load(o.conf_path, o.conf_given, &d.conf, err, sizeof err) < 0) {
		fprintf(stderr, "mtasts: %s\n", err);
		return 2;
	}
	if (o.control != NULL)
		return control_client(d.conf.control, o.control, o.control_arg, o.json);
	d.conf_path = o.conf_path;
	d.conf_given = o.conf_given;
	if (o.query != NULL || o.check_only)
		o.use_syslog = 0;
	else
		o.use_syslog |= d.conf.use_syslog;
	log_open(o.query != NULL && o.level == LOG_LVL_INFO ? LOG_LVL_WARN : o.level,
	    o.logfile, o.use_syslog);
	if (o.check_only) {
		printf("%s: configuration ok\n", o.conf_given || access(o.conf_path, F_OK) == 0 ?
		    o.conf_path : "built-in defaults");
		return 0;
	}
	if (signals_init() < 0) {
		log_err("signal pipe");
		return 2;
	}
	if (o.query != NULL) {
		d.conf.max_lookups = 1;
		if (engine_init(&d, QUERY_CACHE_ENTRIES) < 0)
			return 2;
		return run_query(&d, o.query, o.zone, o.json, o.level == LOG_LVL_DEBUG);
	}
	if (engine_init(&d, (uint32_t)d.conf.cache_size) < 0)
		return 2;
	return run_daemon(&d);
}
