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

#include "mtasts.h"

static const char *default_conf = "/etc/mta-sts.conf";

static volatile sig_atomic_t got_term, got_hup;
static int sig_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
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
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mtasts [-c FILE] [-v LEVEL] [-l LOGFILE]   run the daemon (foreground)\n"
	    "       mtasts -q DOMAIN [-c FILE] [-z ZONE] [-v LEVEL]\n"
	    "                                               show DOMAIN's MTA-STS policy\n"
	    "       mtasts -t [-c FILE]                     check the configuration\n"
	    "       mtasts -h | -V\n"
	    "  -c FILE   configuration (default %s; built-in defaults if absent)\n"
	    "  -v LEVEL  0 error, 1 warning, 2 info (default), 3 debug\n"
	    "  -l FILE   log to FILE instead of stderr\n"
	    "  -z ZONE   zone whose settings query mode uses (default: the default zone)\n"
	    "exit: 0 ok (query mode: a policy applies), 1 no policy, 2 usage or config error\n",
	    default_conf);
}

/* ---- start-up --------------------------------------------------------- */

static int
resolver_init(struct daemon *d)
{
	int i;

	memset(&d->servers, 0, sizeof d->servers);
	if (d->conf.nnameserver > 0) {
		d->servers.timeout_ms = 5000;
		d->servers.attempts = 2;
		for (i = 0; i < d->conf.nnameserver; i++)
			dns_servers_add(&d->servers, d->conf.nameserver[i]);
	} else {
		static char buf[8192];
		FILE *f = fopen(d->conf.resolv_conf, "re");
		size_t n = 0;
		if (f != NULL) {
			n = fread(buf, 1, sizeof buf, f);
			fclose(f);
		} else
			log_warn("%s: %s", d->conf.resolv_conf, strerror(errno));
		dns_servers_parse(buf, n, &d->servers);
	}
	if (d->servers.n == 0) {
		log_warn("no nameserver configured: using 127.0.0.1");
		dns_servers_add(&d->servers, "127.0.0.1");
	}
	return 0;
}

static int
engine_init(struct daemon *d, uint32_t cache_entries)
{
	char err[256];
	unsigned char probe[4];

	if (rand_fill(probe, sizeof probe) < 0) {
		log_err("no randomness (getrandom failed): refusing to run a DNS resolver");
		return -1;
	}
	resolver_init(d);
	if (tls_anchors_load(&d->anchors, d->conf.ca_file, err, sizeof err) < 0) {
		log_err("ca_file: %s", err);
		return -1;
	}
	log_debug("%zu trust anchors loaded from %s", d->anchors.n, d->conf.ca_file);
	if (cache_init(&d->cache, cache_entries) < 0 || lookup_init(d) < 0) {
		log_err("out of memory for the cache (%u entries)", cache_entries);
		return -1;
	}
	return 0;
}

/* ---- the loop --------------------------------------------------------------- */

enum slot_type { SLOT_SIGNAL, SLOT_LISTEN, SLOT_CLIENT, SLOT_JOB };
struct slot {
	uint8_t type;
	uint8_t which;
	void *p;
};

struct loop {
	struct pollfd *pfd;
	struct slot *map;
	size_t cap;
};

static int
loop_init(struct loop *l, const struct daemon *d)
{
	l->cap = 1 + LISTEN_MAX + (size_t)d->conf.max_clients + 2 * (size_t)d->njobs;
	l->pfd = calloc(l->cap, sizeof *l->pfd);
	l->map = calloc(l->cap, sizeof *l->map);
	return l->pfd == NULL || l->map == NULL ? -1 : 0;
}

static void
add_fd(struct loop *l, size_t *n, int fd, short ev, int type, void *p, int which)
{
	l->pfd[*n].fd = fd;
	l->pfd[*n].events = ev;
	l->pfd[*n].revents = 0;
	l->map[*n].type = (uint8_t)type;
	l->map[*n].p = p;
	l->map[*n].which = (uint8_t)which;
	(*n)++;
}

/* Requests that found every job slot busy get one when a slot frees. */
static void
retry_need_job(struct daemon *d)
{
	int i, k, still = 0;

	d->need_job = 0;
	for (i = 0; i < d->conf.max_clients; i++) {
		struct client *c = &d->clients[i];
		if (c->fd < 0)
			continue;
		for (k = 0; k < c->qlen; k++) {
			struct request *r = &c->q[(c->qhead + k) % REQ_QUEUE];
			const struct zone *z = &d->conf.zone[r->zone];
			if (r->kind != REQ_NEEDJOB)
				continue;
			if (lookup_cached(d, r->domain, z)) {
				r->kind = REQ_CACHE;
			} else if ((r->job = lookup_start(d, r->domain, z)) != NULL) {
				r->kind = REQ_JOB;
				r->job->refs++;
			} else
				still = 1;
		}
		if (c->qlen > 0)
			client_io(d, c, 0);
	}
	d->need_job = still;
}

/* One pass: poll, then jobs, clients, listeners, timers. */
static void
loop_once(struct daemon *d, struct loop *l, int serving)
{
	msec_t deadline = INT64_MAX, dl;
	size_t n = 0, i;
	int k, w, timeout;
	short ev;

	add_fd(l, &n, sig_pipe[0], POLLIN, SLOT_SIGNAL, NULL, 0);
	if (serving) {
		for (k = 0; k < d->nlisten; k++)
			add_fd(l, &n, d->listen[k].fd, POLLIN, SLOT_LISTEN, NULL, k);
		for (k = 0; k < d->conf.max_clients; k++) {
			struct client *c = &d->clients[k];
			if (c->fd < 0)
				continue;
			if ((ev = client_events(c)) != 0)
				add_fd(l, &n, c->fd, ev, SLOT_CLIENT, c, 0);
			if ((dl = client_deadline(d, c)) < deadline)
				deadline = dl;
		}
	}
	for (k = 0; k < d->njobs; k++) {
		struct job *j = &d->jobs[k];
		if (j->state == JOB_FREE || j->state == JOB_DONE)
			continue;
		for (w = 0; w < 2; w++) {
			int fd;
			dl = INT64_MAX;
			ev = 0;
			fd = lookup_poll(j, w, &ev, &dl);
			if (fd == -2)
				continue;
			if (dl < deadline)
				deadline = dl;
			if (fd >= 0 && ev != 0)
				add_fd(l, &n, fd, ev, SLOT_JOB, j, w);
		}
	}
	d->now = mono_now();
	if (deadline == INT64_MAX)
		timeout = -1;
	else if (deadline <= d->now)
		timeout = 0;
	else
		timeout = deadline - d->now > INT_MAX ? INT_MAX : (int)(deadline - d->now);
	if (poll(l->pfd, n, timeout) < 0 && errno != EINTR) {
		log_err("poll: %s", strerror(errno));
		return;
	}
	d->now = mono_now();

	/* jobs first: they only ever finish here, never start */
	for (i = 0; i < n; i++)
		if (l->map[i].type == SLOT_JOB && l->pfd[i].revents != 0)
			lookup_step(d, l->map[i].p, l->map[i].which, l->pfd[i].revents);
	for (k = 0; k < d->njobs; k++) {
		struct job *j = &d->jobs[k];
		for (w = 0; w < 2 && j->state != JOB_FREE && j->state != JOB_DONE; w++) {
			dl = INT64_MAX;
			if (lookup_poll(j, w, &ev, &dl) != -2 && dl <= d->now)
				lookup_step(d, j, w, 0);
		}
	}
	for (i = 0; i < n; i++) {
		short re = l->pfd[i].revents;
		if (re == 0)
			continue;
		if (l->map[i].type == SLOT_CLIENT) {
			struct client *c = l->map[i].p;
			if (c->fd == l->pfd[i].fd)
				client_io(d, c, re);
		} else if (l->map[i].type == SLOT_SIGNAL) {
			char buf[64];
			while (read(sig_pipe[0], buf, sizeof buf) > 0)
				;
		}
	}
	for (i = 0; i < n; i++)
		if (l->map[i].type == SLOT_LISTEN && l->pfd[i].revents != 0)
			server_accept(d, l->pfd[i].fd);
	if (serving) {
		for (k = 0; k < d->conf.max_clients; k++) {
			struct client *c = &d->clients[k];
			if (c->fd >= 0 && client_deadline(d, c) <= d->now)
				client_timers(d, c);
		}
		if (d->wake_clients) {
			d->wake_clients = 0;
			for (k = 0; k < d->conf.max_clients; k++) {
				struct client *c = &d->clients[k];
				if (c->fd >= 0 && c->qlen > 0)
					client_io(d, c, 0);
			}
		}
		if (d->need_job)
			retry_need_job(d);
	}
}

static int
run_daemon(struct daemon *d)
{
	struct loop l;

	if (server_clients_init(d) < 0 || loop_init(&l, d) < 0) {
		log_err("out of memory for %d clients", d->conf.max_clients);
		return 2;
	}
	if (server_listen(d) < 0)
		return 2;
	log_info("mtasts %s started: %u cache entries, %d clients, %d lookups at once",
	    MTASTS_VERSION, d->conf.cache_size, d->conf.max_clients, d->conf.max_lookups);
	while (!got_term) {
		loop_once(d, &l, 1);
		if (got_hup) {
			got_hup = 0;
			if (log_reopen() < 0)
				log_warn("cannot reopen the log file: %s", strerror(errno));
			log_info("SIGHUP: log file reopened");
		}
	}
	log_info("shutting down");
	server_close_listeners(d);
	return 0;
}

/* ---- query mode ------------------------------------------------------------ */

static int
run_query(struct daemon *d, const char *key, const char *zone_name)
{
	const struct zone *z = conf_zone(&d->conf, zone_name, strlen(zone_name));
	char domain[DOMAIN_MAX + 1], answer[REPLY_MAX];
	struct request r;
	enum key_status ks;
	struct job *j;
	struct loop l;
	int i;

	ks = key_normalize(key, strlen(key), domain);
	if (ks != KEY_OK) {
		printf("key: %s\nresult: not a policy domain (%s)\nanswer: NOTFOUND \n",
		    key, key_status_str(ks));
		return 1;
	}
	if (loop_init(&l, d) < 0)
		return 2;
	j = lookup_start(d, domain, z);
	j->refs = 1;                    /* keep the result after it finishes */
	while (j->state != JOB_DONE && !got_term)
		loop_once(d, &l, 0);
	if (j->state != JOB_DONE)
		return 2;
	printf("domain: %s\n", domain);
	printf("zone: %s\n", z->name[0] ? z->name : "(default)");
	if (j->id[0] != '\0')
		printf("id: %s\n", j->id);
	if (j->have_policy) {
		printf("mode: %s\n", sts_mode_str(j->pol.mode));
		for (i = 0; i < j->pol.nmx; i++)
			printf("mx: %s\n", j->pol.mx[i]);
		printf("max_age: %u\n", j->pol.max_age);
	}
	printf("result: %s\n", j->why);
	memset(&r, 0, sizeof r);
	r.kind = REQ_JOB;
	r.job = j;
	r.zone = (uint8_t)(z - d->conf.zone);
	strlcpy_m(r.domain, domain, sizeof r.domain);
	answer_format(d, &r, answer, sizeof answer);
	printf("answer: %s\n", answer);
	return strncmp(answer, "OK ", 3) == 0 ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	static struct daemon d;
	const char *conf_path = default_conf, *logfile = NULL, *query = NULL, *zone = "";
	int level = LOG_LVL_INFO, check_only = 0, conf_given = 0, ch;
	char err[512];

	while ((ch = getopt(argc, argv, "c:v:l:q:z:thV")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			conf_given = 1;
			break;
		case 'v':
			if (optarg[0] < '0' || optarg[0] > '3' || optarg[1] != '\0') {
				usage(stderr);
				return 2;
			}
			level = optarg[0] - '0';
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'q':
			query = optarg;
			break;
		case 'z':
			zone = optarg;
			break;
		case 't':
			check_only = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mtasts %s\n", MTASTS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_open(query != NULL && level == LOG_LVL_INFO ? LOG_LVL_WARN : level, logfile, 0);
	if (conf_load(conf_path, conf_given, &d.conf, err, sizeof err) < 0) {
		fprintf(stderr, "mtasts: %s\n", err);
		return 2;
	}
	if (check_only) {
		printf("%s: configuration ok\n", conf_given || access(conf_path, F_OK) == 0 ?
		    conf_path : "built-in defaults");
		return 0;
	}
	if (signals_init() < 0) {
		log_err("signal pipe: %s", strerror(errno));
		return 2;
	}
	if (query != NULL) {
		d.conf.max_lookups = 1;
		if (engine_init(&d, 16) < 0)
			return 2;
		return run_query(&d, query, zone);
	}
	if (engine_init(&d, d.conf.cache_size) < 0)
		return 2;
	return run_daemon(&d);
}
