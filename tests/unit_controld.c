/* unit_controld.c - the daemon's side of the control socket over a real
 * unix socket, driven by hand: a dump row of each kind of cache entry, a
 * dump streamed in pieces while the cache changes under it (each slot at
 * most once, none twice), purges, STATS, and the line limit. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon.h"
#include "unit.h"

static struct daemon d;
static char path[108];

static int
client(void)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strlcpy_m(sun.sun_path, path, sizeof sun.sun_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		return -1;
	controld_accept(&d);
	return fd;
}

static struct control_conn *
last_conn(void)
{
	return d.controls.nactive > 0 ? d.controls.active[d.controls.nactive - 1] : NULL;
}

/* Send line, run the connection until it has nothing to say, return what
 * arrived (NUL-terminated, static). */
static const char *
ask(int fd, const char *line)
{
	static char buf[1 << 20];
	size_t len = 0;
	int i;
	ssize_t n;

	send(fd, line, strlen(line), 0);
	for (i = 0; i < 1000; i++) {
		struct control_conn *c = last_conn();
		if (c == NULL)
			break;
		controld_io(&d, c, POLLIN | POLLOUT);
		while ((n = recv(fd, buf + len, sizeof buf - 1 - len, MSG_DONTWAIT)) > 0)
			len += (size_t)n;
		if (len > 0 && (strstr(buf, "OK") != NULL || strstr(buf, "ERR") != NULL) &&
		    buf[len - 1] == '\n' && c->dumping == CTL_BAD)
			break;
		if (n == 0)
			break;
	}
	buf[len] = '\0';
	return buf;
}

static struct cache_entry *
store(const char *domain, int policy)
{
	static const char mx[] = "mail.example.com\0*.example.net";
	static struct policy p;
	struct cache_entry *e;

	if (!policy)
		return cache_store(&d.cache, domain, CE_NOPOLICY, NULL, 0, d.now);
	memset(&p, 0, sizeof p);
	p.mode = STS_ENFORCE;
	p.max_age = 86400;
	p.nmx = 2;
	p.mxlen = sizeof mx;
	memcpy(p.mx, mx, sizeof mx);
	e = cache_store_policy(&d.cache, domain, &p, "id1", 1796227200, d.now + 86400000, d.now);
	return e;
}

static void
test_rows(void)
{
	static char data[CONTROL_ROW_MAX], out[CONTROL_ROW_MAX];
	struct control_row r;
	struct cache_entry *e;

	e = store("policy.example", 1);
	e->checked_wall = 1796227260;
	CHECK_INT(controld_row(&d, e, data, &r), 0);
	control_format_row(&r, 0, out, sizeof out);
	CHECK_STR(out, "policy.example mode=enforce id=id1 mx=mail.example.com,*.example.net "
	    "fetched=2026-12-02T16:00:00Z expires=2026-12-03T16:00:00Z "
	    "checked=2026-12-02T16:01:00Z fails=0 failure=-\n");

	e = store("dnsfail.example", 0);
	e->fails = 2;
	e->fail_class = FETCH_OK;
	CHECK_INT(controld_row(&d, e, data, &r), 0);
	control_format_row(&r, 0, out, sizeof out);
	CHECK_STR(out, "dnsfail.example mode=- id=- mx=- fetched=- expires=- checked=- "
	    "fails=2 failure=dns-error\n");

	e = store("webpki.example", 0);
	e->fails = 1;
	e->fail_class = FETCH_ERR_WEBPKI;
	CHECK_INT(controld_row(&d, e, data, &r), 0);
	CHECK_STR(r.failure, "sts-webpki-invalid");
	CHECK_INT(r.mxlen, 0);
}

static int
count_lines(const char *s, const char *prefix)
{
	int n = 0;
	const char *p = s;

	while ((p = strstr(p, prefix)) != NULL) {
		if (p == s || p[-1] == '\n')
			n++;
		p++;
	}
	return n;
}

/* 3000 entries; after the first piece (the cursor is past d0..d9, far
 * from d2000), d0..d9 and d2000..d2099 are purged and 110 new domains
 * take the freed slots: every domain is listed at most once, d0..d9 (sent
 * before the purge) once, d2000..d2099 not at all, and exactly the 100
 * new ones in the slots ahead of the cursor. */
static void
test_stream(void)
{
	static char all[1 << 20];
	char name[64];
	size_t len = 0;
	int fd, i, rounds, dup = 0;
	ssize_t n;

	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof name, "d%d.example", i);
		store(name, i % 2);
	}
	fd = client();
	CHECK(fd >= 0);
	send(fd, "DUMP\n", 5, 0);
	controld_io(&d, last_conn(), POLLIN);
	CHECK(last_conn()->dumping == CTL_DUMP);
	CHECK(last_conn()->cursor > 20 && last_conn()->cursor < 2000);
	for (i = 0; i < 110; i++) {
		snprintf(name, sizeof name, "d%d.example", i < 10 ? i : 1990 + i);
		cache_drop(&d.cache, cache_find(&d.cache, name));
	}
	for (i = 0; i < 110; i++) {
		snprintf(name, sizeof name, "new%d.example", i);
		store(name, 1);
	}
	for (rounds = 0; rounds < 100000 && last_conn() != NULL; rounds++) {
		struct control_conn *c = last_conn();
		controld_io(&d, c, POLLOUT);
		n = recv(fd, all + len, 4096 < sizeof all - 1 - len ? 4096 : sizeof all - 1 - len,
		    MSG_DONTWAIT);
		if (n > 0)
			len += (size_t)n;
		if (c->dumping == CTL_BAD && c->outoff == c->outlen && n <= 0)
			break;
	}
	all[len] = '\0';
	/* 3 from test_rows, d0..d9, the 2890 others, the 100 new ones */
	CHECK(strstr(all, "\nOK 3003 entries\n") != NULL);
	for (i = 0; i < 3000; i++) {
		char pat[80];
		int k;
		snprintf(pat, sizeof pat, "d%d.example ", i);
		k = count_lines(all, pat);
		dup += k > 1;
		if (k != (i >= 2000 && i < 2100 ? 0 : 1))
			printf("d%d.example listed %d times\n", i, k);
		CHECK_INT(k, i >= 2000 && i < 2100 ? 0 : 1);
	}
	CHECK_INT(dup, 0);
	CHECK_INT(count_lines(all, "new"), 100);
	close(fd);
	for (i = 0; i < 100 && last_conn() != NULL; i++)
		controld_io(&d, last_conn(), POLLIN);
}

static void
test_commands(void)
{
	static char big[CONTROL_LINE_MAX + 100];
	int fd = client();
	const char *r;

	r = ask(fd, "PURGE d500.example\n");
	CHECK_STR(r, "OK purged d500.example\n");
	CHECK(cache_find(&d.cache, "d500.example") == NULL);
	CHECK_STR(ask(fd, "PURGE d500.example\n"), "OK d500.example was not cached\n");
	CHECK_STR(ask(fd, "purge x.example\n"), "ERR unknown command\n");
	CHECK_STR(ask(fd, "PURGE\n"), "ERR missing domain\n");
	r = ask(fd, "STATS\n");
	CHECK(strncmp(r, "# HELP ", 7) == 0);
	CHECK(strlen(r) > 3 && strcmp(r + strlen(r) - 4, "\nOK\n") == 0);
	r = ask(fd, "DUMP JSON\n");
	CHECK(strncmp(r, "[\n{\"domain\":", 12) == 0);
	CHECK(strstr(r, "\n]\nOK ") != NULL);
	r = ask(fd, "PURGE ALL\n");
	CHECK(strncmp(r, "OK purged ", 10) == 0);
	CHECK_INT(d.cache.count, 0);
	CHECK_STR(ask(fd, "DUMP\n"), "OK 0 entries\n");
	CHECK_STR(ask(fd, "DUMP JSON\n"), "[]\nOK 0 entries\n");
	/* two commands in one write are answered in order */
	CHECK_STR(ask(fd, "DUMP\nPURGE a.example\n"), "OK 0 entries\nOK a.example was not cached\n");
	memset(big, 'A', sizeof big);
	big[sizeof big - 1] = '\0';
	CHECK_STR(ask(fd, big), "ERR line too long\n");
	CHECK(last_conn() == NULL);         /* and the connection is closed */
	close(fd);
}

static void
test_slots(void)
{
	int fds[CONTROL_CLIENTS + 1], i;

	for (i = 0; i <= CONTROL_CLIENTS; i++) {
		d.now += 10;
		fds[i] = client();
	}
	/* the first (longest-idle) made room for the last */
	CHECK_INT(d.controls.nactive, CONTROL_CLIENTS);
	CHECK_INT(recv(fds[0], path, 1, 0), 0);
	d.now += (msec_t)d.conf.idle_timeout * 1000;
	for (i = d.controls.nactive - 1; i >= 0; i--) {
		struct control_conn *c = d.controls.active[i];
		if (controld_deadline(&d, c) <= d.now)
			controld_timers(&d, c);
	}
	CHECK_INT(d.controls.nactive, 0);
	for (i = 0; i <= CONTROL_CLIENTS; i++)
		close(fds[i]);
}

int
main(void)
{
	struct stat sb;

	log_open(LOG_LVL_ERR, NULL, 0);
	conf_defaults(&d.conf);
	snprintf(path, sizeof path, "/tmp/unit_controld.%d.sock", (int)getpid());
	snprintf(d.conf.control, sizeof d.conf.control, "unix:%s", path);
	d.now = 1000;
	if (cache_init(&d.cache, 8192) < 0 || controld_listen(&d) < 0)
		return 2;
	CHECK_INT(stat(path, &sb), 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	test_rows();
	test_stream();
	test_commands();
	test_slots();
	controld_free(&d);
	CHECK_INT(stat(path, &sb), -1);     /* unlinked */
	cache_free(&d.cache);
	UNIT_DONE();
}
