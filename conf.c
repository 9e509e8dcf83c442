/*
 * conf.c - mta-sts.conf: "key = value" lines, '#' comments, [zone NAME]
 * sections.  Keys before any section are global or set the default zone;
 * a zone section starts as a copy of the default zone and overrides it.
 * conf_parse() is pure over the text; conf_load() reads the file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

#define ARRAY_LEN(a) (sizeof (a) / sizeof (a)[0])

void
conf_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->socket_mode = 0660;
	c->cache_size = 10000;
	c->cache_grace = 60;
	strlcpy_m(c->resolv_conf, "/etc/resolv.conf", sizeof c->resolv_conf);
	strlcpy_m(c->ca_file, "/etc/ssl/certs/ca-certificates.crt", sizeof c->ca_file);
	c->max_clients = 256;
	c->max_lookups = 64;
	c->idle_timeout = 300;
	c->snapshot_interval = 300;
	c->proactive_interval = 86400;
	c->proactive_concurrency = 100;
	c->proactive_grace_ratio = 2;
	c->refresh_unused_after = -1;   /* as proactive_interval */
	c->backoff_max = 3600;
	c->shutdown_timeout = 20;
	c->reuse_port = 1;
	strlcpy_m(c->redis_prefix, "mtasts:", sizeof c->redis_prefix);
	c->redis_timeout = 1;
	c->nzones = 1;
	c->zone[0].strict_testing = 0;
	c->zone[0].timeout = 4;
	c->zone[0].require_sni = 1;
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* "127.0.0.1:8461", "[::1]:8461", "unix:/path": the syntax is checked
 * here, the address when it is bound */
static int
valid_listen(const char *v)
{
	struct hostport hp;

	if (!strncmp(v, "unix:", 5))
		return v[5] == '/' && strlen(v + 5) <= LISTEN_PATH_MAX;
	return hostport_split(v, strlen(v), 0, &hp) == 0;
}

/* Every key: where its value goes and what it may be.  One table, so a new
 * key is one line here, one in mta-sts.conf and one in the README. */
enum key_type { K_BOOL, K_UINT, K_STR, K_PATH, K_LISTEN, K_ADDR, K_MODE, K_NAMESERVER,
	K_LOG, K_CONTROL, K_REDIS, K_SENTINEL, K_DANEFAIL, K_FAIL };
struct key {
	const char *name;
	enum key_type type;
	size_t off;             /* in struct config, or struct zone for zone keys */
	long min, max;          /* K_UINT */
	size_t cap;             /* K_STR, K_PATH */
	const char *why;        /* shown for a bad value */
};
#define C(f) offsetof(struct config, f)
#define Z(f) offsetof(struct zone, f)
#define SECS(f, lo, hi) K_UINT, C(f), lo, hi, 0, "expected seconds, " #lo " to " #hi
#define COUNT(f, lo, hi) K_UINT, C(f), lo, hi, 0, "expected a count, " #lo " to " #hi
#define YESNO "expected yes or no"
static const struct key zone_keys[] = {
	{ "dane", K_BOOL, Z(dane), 0, 0, 0, YESNO },
	{ "dane_failure", K_DANEFAIL, Z(dane_failure), 0, 0, 0, "expected temp or sts" },
	{ "fetch_failure", K_FAIL, Z(fetch_failure), 0, 0, 0, "expected open or fail" },
	{ "require_sni", K_BOOL, Z(require_sni), 0, 0, 0, YESNO },
	{ "strict_testing", K_BOOL, Z(strict_testing), 0, 0, 0, YESNO },
	{ "timeout", K_UINT, Z(timeout), 1, 300, 0, "expected seconds, 1 to 300" },
	{ "tlsrpt", K_BOOL, Z(tlsrpt), 0, 0, 0, YESNO },
};
static const struct key global_keys[] = {
	{ "backoff_max", SECS(backoff_max, 1, 604800) },
	{ "ca_file", K_STR, C(ca_file), 0, 0, sizeof ((struct config *)0)->ca_file, "too long" },
	{ "cache_file", K_PATH, C(cache_file), 0, 0, sizeof ((struct config *)0)->cache_file - 8,
	    "expected an absolute path" },
	{ "cache_grace", SECS(cache_grace, 0, 86400) },
	{ "cache_size", K_UINT, C(cache_size), 1, 10000000, 0, "expected entries, 1 to 10000000" },
	{ "control", K_CONTROL, C(control), 0, 0, 0, "expected unix:/path" },
	{ "idle_timeout", SECS(idle_timeout, 1, 86400) },
	{ "listen", K_LISTEN, C(listen), 0, 0, 0,
	    "expected ADDR:PORT, [ADDR6]:PORT or unix:/path" },
	{ "log", K_LOG, C(use_syslog), 0, 0, 0, "expected stderr or syslog" },
	{ "max_clients", COUNT(max_clients, 1, 100000) },
	{ "max_lookups", COUNT(max_lookups, 1, 10000) },
	{ "metrics_listen", K_ADDR, C(metrics_listen), 0, 0,
	    sizeof ((struct config *)0)->metrics_listen, "expected ADDR:PORT or [ADDR6]:PORT" },
	{ "nameserver", K_NAMESERVER, C(nameserver), 0, 0, 0,
	    "expected an IPv4 or IPv6 address, optionally with :port" },
	{ "proactive_concurrency", COUNT(proactive_concurrency, 1, 10000) },
	{ "proactive_fetch", K_BOOL, C(proactive_fetch), 0, 0, 0, YESNO },
	{ "proactive_grace_ratio", K_UINT, C(proactive_grace_ratio), 1, 1000, 0,
	    "expected a number, 1 to 1000" },
	{ "proactive_interval", SECS(proactive_interval, 1, 31557600) },
	{ "redis", K_REDIS, C(redis), 0, 0, 0, "expected ADDR:PORT, [ADDR6]:PORT or unix:/path" },
	{ "redis_db", COUNT(redis_db, 0, 1000000) },
	{ "redis_master", K_STR, C(redis_master), 0, 0, sizeof ((struct config *)0)->redis_master,
	    "name too long" },
	{ "redis_password_file", K_PATH, C(redis_password_file), 0, 0,
	    sizeof ((struct config *)0)->redis_password_file, "expected an absolute path" },
	{ "redis_prefix", K_STR, C(redis_prefix), 0, 0, sizeof ((struct config *)0)->redis_prefix,
	    "too long" },
	{ "redis_sentinel", K_SENTINEL, C(redis_sentinel), 0, 0, 0,
	    "expected ADDR:PORT or [ADDR6]:PORT" },
	{ "redis_timeout", SECS(redis_timeout, 1, 60) },
	{ "refresh_unused_after", SECS(refresh_unused_after, 0, 31557600) },
	{ "resolv_conf", K_STR, C(resolv_conf), 0, 0, sizeof ((struct config *)0)->resolv_conf,
	    "too long" },
	{ "reuse_port", K_BOOL, C(reuse_port), 0, 0, 0, YESNO },
	{ "shutdown_timeout", SECS(shutdown_timeout, 0, 3600) },
	{ "snapshot_interval", SECS(snapshot_interval, 1, 86400) },
	{ "socket_mode", K_MODE, C(socket_mode), 0, 0, 0, "expected an octal mode like 0660" },
	{ "user", K_STR, C(user), 0, 0, sizeof ((struct config *)0)->user, "name too long" },
};

static const struct key *
key_find(const struct key *keys, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

/* v is word w0 (*ip = 0) or word w1 (*ip = 1); else -1 */
static int
choice(const char *v, const char *w0, const char *w1, int *ip)
{
	if (strcmp(v, w0) != 0 && strcmp(v, w1) != 0)
		return -1;
	*ip = !strcmp(v, w1);
	return 0;
}

/* Store value v for key k into the struct at base; -1 with *why if bad. */
static int
key_set(struct config *c, void *base, const struct key *k, const char *v, const char **why)
{
	int *ip = (int *)((char *)base + k->off);
	char *end;
	uint64_t u;
	long n;

	*why = k->why;
	switch (k->type) {
	case K_BOOL:
		return parse_bool(v, ip);
	case K_UINT:
		if (dec_parse(v, strlen(v), SIZE_MAX, (uint64_t)k->max, &u) < 0 ||
		    u < (uint64_t)k->min)
			return -1;
		*ip = (int)u;
		return 0;
	case K_PATH:
		if (v[0] != '/')
			return -1;
		/* FALLTHROUGH */
	case K_STR:
		if (strlen(v) >= k->cap)
			return -1;
		strlcpy_m((char *)base + k->off, v, k->cap);
		return 0;
	case K_ADDR: {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (strlen(v) >= k->cap || hostport_addr(v, strlen(v), 0, &ss, &sl) < 0)
			return -1;
		strlcpy_m((char *)base + k->off, v, k->cap);
		return 0;
	}
	case K_MODE:
		n = strtol(v, &end, 8);
		if (*v == '\0' || *end != '\0' || n < 0 || n > 0777)
			return -1;
		*ip = (int)n;
		return 0;
	case K_LOG:
		return choice(v, "stderr", "syslog", ip);
	case K_DANEFAIL:
		return choice(v, "temp", "sts", ip);
	case K_FAIL:
		return choice(v, "open", "fail", ip);
	case K_LISTEN:
		if (!valid_listen(v))
			return -1;
		if (c->nlisten == LISTEN_MAX)
			return *why = "too many listen lines", -1;
		strlcpy_m(c->listen[c->nlisten++], v, sizeof c->listen[0]);
		return 0;
	case K_CONTROL:
		if (strncmp(v, "unix:", 5) != 0 || !valid_listen(v))
			return -1;
		strlcpy_m(c->control, v, sizeof c->control);
		return 0;
	case K_REDIS:
		if (!strncmp(v, "unix:", 5) ? !valid_listen(v) :
		    hostport_addr(v, strlen(v), 0, &(struct sockaddr_storage){ 0 },
		    &(socklen_t){ 0 }) < 0)
			return -1;
		strlcpy_m(c->redis, v, sizeof c->redis);
		return 0;
	case K_SENTINEL:
		if (hostport_addr(v, strlen(v), 0, &(struct sockaddr_storage){ 0 },
		    &(socklen_t){ 0 }) < 0)
			return -1;
		if (c->redis_nsentinel == REDIS_SENTINELS_MAX)
			return *why = "at most 3 redis_sentinel lines", -1;
		strlcpy_m(c->redis_sentinel[c->redis_nsentinel++], v, sizeof c->redis_sentinel[0]);
		return 0;
	case K_NAMESERVER: {
		struct dns_servers probe;
		memset(&probe, 0, sizeof probe);
		if (dns_servers_add(&probe, v) < 0)
			return -1;
		if (c->nnameserver == DNS_NS_MAX)
			return *why = "at most 3 nameserver lines", -1;
		strlcpy_m(c->nameserver[c->nnameserver++], v, sizeof c->nameserver[0]);
		return 0;
	}
	}
	return -1;
}

static char *
trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* Where a line is, for its error: "file:line: why" into err. */
struct conf_at {
	const char *fname;
	int lineno;
	char *err;
	size_t errlen;
};

static int conf_fail(const struct conf_at *at, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Always -1, with the message in at->err. */
static int
conf_fail(const struct conf_at *at, const char *fmt, ...)
{
	char why[CONF_LINE_MAX + 256];  /* a whole line may be quoted */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(at->err, at->errlen, "%s:%d: %s", at->fname, at->lineno, why);
	return -1;
}

/* "[zone NAME]" (k trimmed, comment gone): a new zone, a copy of the
 * default zone, becomes *zone.  0, or -1 with the error. */
static int
conf_zone_header(struct config *c, char *k, struct zone **zone, const struct conf_at *at)
{
	char *close = strchr(k, ']'), *name;
	int i;

	if (close == NULL || close[1] != '\0' || strncmp(k, "[zone", 5) != 0 ||
	    (k[5] != ' ' && k[5] != '\t'))
		return conf_fail(at, "expected [zone NAME]");
	name = trim(k + 5, close);
	if (*name == '\0' || strlen(name) > ZONE_NAME_MAX || strpbrk(name, " \t") != NULL)
		return conf_fail(at, "bad zone name");
	for (i = 1; i < c->nzones; i++)
		if (!strcmp(c->zone[i].name, name))
			return conf_fail(at, "duplicate zone \"%s\"", name);
	if (c->nzones == ZONE_MAX)
		return conf_fail(at, "too many zones (at most %d)", ZONE_MAX - 1);
	*zone = &c->zone[c->nzones++];
	**zone = c->zone[0];
	strlcpy_m((*zone)->name, name, sizeof (*zone)->name);
	return 0;
}

/* "key = value" (k trimmed, comment gone) into zone, or into the globals
 * while in the default zone.  0, or -1 with the error. */
static int
conf_key_line(struct config *c, char *k, struct zone *zone, const struct conf_at *at)
{
	const struct key *key;
	const char *why = NULL;
	char *v, *eq;
	int r;

	if ((eq = strchr(k, '=')) == NULL)
		return conf_fail(at, "expected key = value");
	v = trim(eq + 1, eq + 1 + strlen(eq + 1));
	k = trim(k, eq);
	if (*v == '\0')
		return conf_fail(at, "%s: empty value", k);
	if ((key = key_find(zone_keys, ARRAY_LEN(zone_keys), k)) != NULL)
		r = key_set(c, zone, key, v, &why);
	else if (zone != &c->zone[0])
		return conf_fail(at, "unknown zone key \"%s\"", k);
	else if ((key = key_find(global_keys, ARRAY_LEN(global_keys), k)) != NULL)
		r = key_set(c, c, key, v, &why);
	else
		return conf_fail(at, "unknown key \"%s\"", k);
	if (r < 0)
		return conf_fail(at, "%s: bad value \"%s\": %s", k, v, why);
	return 0;
}

int
conf_parse(const char *buf, size_t len, const char *fname, struct config *c,
    char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 1];
	struct zone *zone = &c->zone[0];
	struct conf_at at = { fname, 0, err, errlen };
	size_t pos = 0;

	while (pos < len) {
		size_t start = pos, n;
		char *k, *hash;
		int r;

		while (pos < len && buf[pos] != '\n')
			pos++;
		n = pos - start;
		pos++;                  /* the newline */
		at.lineno++;
		if (n >= sizeof line)
			return conf_fail(&at, "line too long");
		memcpy(line, buf + start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL)
			return conf_fail(&at, "NUL byte");
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		k = trim(line, line + strlen(line));
		if (*k == '\0')
			continue;
		if (*k == '[')
			r = conf_zone_header(c, k, &zone, &at);
		else
			r = conf_key_line(c, k, zone, &at);
		if (r < 0)
			return -1;
	}
	if (c->nlisten == 0)
		strlcpy_m(c->listen[c->nlisten++], LISTEN_DEFAULT, sizeof c->listen[0]);
	at.lineno = 0;
	if ((c->redis_nsentinel > 0) != (c->redis_master[0] != '\0'))
		return conf_fail(&at, "redis_sentinel and redis_master go together");
	return 0;
}

int
conf_load(const char *path, int must_exist, struct config *c, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	conf_defaults(c);
	if ((buf = read_file(path, CONF_FILE_MAX, &len, err, errlen)) == NULL) {
		if (errno == ENOENT && !must_exist) {
			strlcpy_m(c->listen[c->nlisten++], LISTEN_DEFAULT, sizeof c->listen[0]);
			return 0;
		}
		return -1;
	}
	rc = conf_parse(buf, len, path, c, err, errlen);
	free(buf);
	return rc;
}

const struct zone *
conf_zone(const struct config *c, const char *name, size_t len)
{
	int i;

	for (i = 1; i < c->nzones; i++)
		if (strlen(c->zone[i].name) == len && !memcmp(c->zone[i].name, name, len))
			return &c->zone[i];
	return &c->zone[0];
}
