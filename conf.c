/*
 * conf.c - mta-sts.conf: "key = value" lines, '#' comments, [zone NAME]
 * sections.  Keys before any section are global or set the default zone;
 * a zone section starts as a copy of the default zone and overrides it.
 * conf_parse() is pure over the text; conf_load() reads the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

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
	c->backoff_max = 3600;
	c->shutdown_timeout = 20;
	c->reuse_port = 1;
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

static int
parse_uint(const char *v, long min, long max, long *out)
{
	long n = 0;

	if (*v == '\0')
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		n = n * 10 + (*v - '0');
		if (n > max)
			return -1;
	}
	if (n < min)
		return -1;
	*out = n;
	return 0;
}

/* "127.0.0.1:8461", "[::1]:8461", "unix:/path": checked here, bound later */
static int
valid_listen(const char *v)
{
	const char *colon;
	long port;

	if (!strncmp(v, "unix:", 5))
		return v[5] == '/' && strlen(v + 5) < 108;
	colon = strrchr(v, ':');
	if (colon == NULL || colon == v)
		return 0;
	if (v[0] == '[' && colon[-1] != ']')
		return 0;
	return parse_uint(colon + 1, 1, 65535, &port) == 0;
}

static int
zone_key(struct zone *z, const char *k, const char *v, const char **why)
{
	long n;

	if (!strcmp(k, "strict_testing")) {
		if (parse_bool(v, &z->strict_testing) < 0)
			return *why = "expected yes or no", -1;
	} else if (!strcmp(k, "require_sni")) {
		if (parse_bool(v, &z->require_sni) < 0)
			return *why = "expected yes or no", -1;
	} else if (!strcmp(k, "timeout")) {
		if (parse_uint(v, 1, 300, &n) < 0)
			return *why = "expected seconds, 1 to 300", -1;
		z->timeout = (int)n;
	} else
		return 1;       /* not a zone key */
	return 0;
}

static int
global_key(struct config *c, const char *k, const char *v, const char **why)
{
	long n;

	if (!strcmp(k, "listen")) {
		if (!valid_listen(v))
			return *why = "expected ADDR:PORT, [ADDR6]:PORT or unix:/path", -1;
		if (c->nlisten == LISTEN_MAX)
			return *why = "too many listen lines", -1;
		strlcpy_m(c->listen[c->nlisten++], v, sizeof c->listen[0]);
	} else if (!strcmp(k, "socket_mode")) {
		char *end;
		n = strtol(v, &end, 8);
		if (*v == '\0' || *end != '\0' || n < 0 || n > 0777)
			return *why = "expected an octal mode like 0660", -1;
		c->socket_mode = (int)n;
	} else if (!strcmp(k, "cache_size")) {
		if (parse_uint(v, 1, 10000000, &n) < 0)
			return *why = "expected entries, 1 to 10000000", -1;
		c->cache_size = (uint32_t)n;
	} else if (!strcmp(k, "cache_grace")) {
		if (parse_uint(v, 0, 86400, &n) < 0)
			return *why = "expected seconds, 0 to 86400", -1;
		c->cache_grace = (int)n;
	} else if (!strcmp(k, "resolv_conf")) {
		strlcpy_m(c->resolv_conf, v, sizeof c->resolv_conf);
	} else if (!strcmp(k, "nameserver")) {
		struct dns_servers probe;
		memset(&probe, 0, sizeof probe);
		if (dns_servers_add(&probe, v) < 0)
			return *why = "expected an IPv4 or IPv6 address, optionally with :port", -1;
		if (c->nnameserver == DNS_NS_MAX)
			return *why = "at most 3 nameserver lines", -1;
		strlcpy_m(c->nameserver[c->nnameserver++], v, sizeof c->nameserver[0]);
	} else if (!strcmp(k, "ca_file")) {
		strlcpy_m(c->ca_file, v, sizeof c->ca_file);
	} else if (!strcmp(k, "max_clients")) {
		if (parse_uint(v, 1, 100000, &n) < 0)
			return *why = "expected a count, 1 to 100000", -1;
		c->max_clients = (int)n;
	} else if (!strcmp(k, "max_lookups")) {
		if (parse_uint(v, 1, 10000, &n) < 0)
			return *why = "expected a count, 1 to 10000", -1;
		c->max_lookups = (int)n;
	} else if (!strcmp(k, "idle_timeout")) {
		if (parse_uint(v, 1, 86400, &n) < 0)
			return *why = "expected seconds, 1 to 86400", -1;
		c->idle_timeout = (int)n;
	} else if (!strcmp(k, "cache_file")) {
		if (v[0] != '/' || strlen(v) >= sizeof c->cache_file - 8)
			return *why = "expected an absolute path", -1;
		strlcpy_m(c->cache_file, v, sizeof c->cache_file);
	} else if (!strcmp(k, "snapshot_interval")) {
		if (parse_uint(v, 1, 86400, &n) < 0)
			return *why = "expected seconds, 1 to 86400", -1;
		c->snapshot_interval = (int)n;
	} else if (!strcmp(k, "proactive_fetch")) {
		if (parse_bool(v, &c->proactive_fetch) < 0)
			return *why = "expected yes or no", -1;
	} else if (!strcmp(k, "proactive_interval")) {
		if (parse_uint(v, 1, 31557600, &n) < 0)
			return *why = "expected seconds, 1 to 31557600", -1;
		c->proactive_interval = (int)n;
	} else if (!strcmp(k, "proactive_concurrency")) {
		if (parse_uint(v, 1, 10000, &n) < 0)
			return *why = "expected a count, 1 to 10000", -1;
		c->proactive_concurrency = (int)n;
	} else if (!strcmp(k, "proactive_grace_ratio")) {
		if (parse_uint(v, 1, 1000, &n) < 0)
			return *why = "expected a number, 1 to 1000", -1;
		c->proactive_grace_ratio = (int)n;
	} else if (!strcmp(k, "backoff_max")) {
		if (parse_uint(v, 1, 604800, &n) < 0)
			return *why = "expected seconds, 1 to 604800", -1;
		c->backoff_max = (int)n;
	} else if (!strcmp(k, "shutdown_timeout")) {
		if (parse_uint(v, 0, 3600, &n) < 0)
			return *why = "expected seconds, 0 to 3600", -1;
		c->shutdown_timeout = (int)n;
	} else if (!strcmp(k, "reuse_port")) {
		if (parse_bool(v, &c->reuse_port) < 0)
			return *why = "expected yes or no", -1;
	} else if (!strcmp(k, "user")) {
		if (strlen(v) >= sizeof c->user)
			return *why = "name too long", -1;
		strlcpy_m(c->user, v, sizeof c->user);
	} else if (!strcmp(k, "log")) {
		if (!strcmp(v, "syslog"))
			c->use_syslog = 1;
		else if (!strcmp(v, "stderr"))
			c->use_syslog = 0;
		else
			return *why = "expected stderr or syslog", -1;
	} else
		return 1;
	return 0;
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

int
conf_parse(const char *buf, size_t len, const char *fname, struct config *c,
    char *err, size_t errlen)
{
	char line[512];
	struct zone *zone = &c->zone[0];
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		size_t start = pos, n;
		char *k, *v, *eq, *hash;
		const char *why = NULL;
		int r;

		while (pos < len && buf[pos] != '\n')
			pos++;
		n = pos - start;
		pos++;                  /* the newline */
		lineno++;
		if (n >= sizeof line) {
			snprintf(err, errlen, "%s:%d: line too long", fname, lineno);
			return -1;
		}
		memcpy(line, buf + start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%d: NUL byte", fname, lineno);
			return -1;
		}
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		k = trim(line, line + strlen(line));
		if (*k == '\0')
			continue;
		if (*k == '[') {
			char *close = strchr(k, ']'), *name;
			int i;
			if (close == NULL || close[1] != '\0' || strncmp(k, "[zone", 5) != 0 ||
			    (k[5] != ' ' && k[5] != '\t')) {
				snprintf(err, errlen, "%s:%d: expected [zone NAME]", fname, lineno);
				return -1;
			}
			name = trim(k + 5, close);
			if (*name == '\0' || strlen(name) > ZONE_NAME_MAX || strpbrk(name, " \t") != NULL) {
				snprintf(err, errlen, "%s:%d: bad zone name", fname, lineno);
				return -1;
			}
			for (i = 1; i < c->nzones; i++)
				if (!strcmp(c->zone[i].name, name)) {
					snprintf(err, errlen, "%s:%d: duplicate zone \"%s\"", fname, lineno, name);
					return -1;
				}
			if (c->nzones == ZONE_MAX) {
				snprintf(err, errlen, "%s:%d: too many zones (at most %d)", fname, lineno, ZONE_MAX - 1);
				return -1;
			}
			zone = &c->zone[c->nzones++];
			*zone = c->zone[0];
			strlcpy_m(zone->name, name, sizeof zone->name);
			continue;
		}
		if ((eq = strchr(k, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected key = value", fname, lineno);
			return -1;
		}
		v = trim(eq + 1, eq + 1 + strlen(eq + 1));
		k = trim(k, eq);
		if (*v == '\0') {
			snprintf(err, errlen, "%s:%d: %s: empty value", fname, lineno, k);
			return -1;
		}
		r = zone_key(zone, k, v, &why);
		if (r == 1) {
			if (zone != &c->zone[0]) {
				snprintf(err, errlen, "%s:%d: unknown zone key \"%s\"", fname, lineno, k);
				return -1;
			}
			r = global_key(c, k, v, &why);
			if (r == 1) {
				snprintf(err, errlen, "%s:%d: unknown key \"%s\"", fname, lineno, k);
				return -1;
			}
		}
		if (r < 0) {
			snprintf(err, errlen, "%s:%d: %s: bad value \"%s\": %s", fname, lineno, k, v, why);
			return -1;
		}
	}
	if (c->nlisten == 0)
		strlcpy_m(c->listen[c->nlisten++], "127.0.0.1:8461", sizeof c->listen[0]);
	return 0;
}

int
conf_load(const char *path, int must_exist, struct config *c, char *err, size_t errlen)
{
	static char buf[65536];
	size_t len = 0;
	ssize_t n;
	int fd;

	conf_defaults(c);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist) {
			strlcpy_m(c->listen[c->nlisten++], "127.0.0.1:8461", sizeof c->listen[0]);
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf + len, sizeof buf - len)) > 0) {
		len += (size_t)n;
		if (len == sizeof buf) {
			close(fd);
			snprintf(err, errlen, "%s: file too large", path);
			return -1;
		}
	}
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return conf_parse(buf, len, path, c, err, errlen);
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
