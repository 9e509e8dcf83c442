/* unit_conf.c - mta-sts.conf parser: every key, zones, every error path */
#include <stdlib.h>
#include <unistd.h>

#include "mtasts.h"
#include "unit.h"

static int
parse(const char *text, struct config *c, char *err, size_t errlen)
{
	conf_defaults(c);
	err[0] = '\0';
	return conf_parse(text, strlen(text), "t.conf", c, err, errlen);
}

int
main(void)
{
	struct config c;
	char err[256];
	const struct zone *z;

	/* empty file: built-in defaults */
	CHECK_INT(parse("", &c, err, sizeof err), 0);
	CHECK_INT(c.nlisten, 1);
	CHECK_STR(c.listen[0], "127.0.0.1:8461");
	CHECK_INT(c.cache_size, 10000);
	CHECK_INT(c.cache_grace, 60);
	CHECK_STR(c.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	CHECK_STR(c.resolv_conf, "/etc/resolv.conf");
	CHECK_INT(c.zone[0].timeout, 4);
	CHECK_INT(c.zone[0].strict_testing, 0);
	CHECK_INT(c.zone[0].require_sni, 1);
	CHECK_INT(c.zone[0].tlsrpt, 0);             /* PFX-4: off by default */
	CHECK_INT(c.zone[0].fetch_failure, 0);      /* RPT-4: open by default */

	/* every key, comments, spacing, CRLF */
	CHECK_INT(parse(
	    "# comment\n"
	    "listen = 127.0.0.1:9000\r\n"
	    "listen=[::1]:9000   # trailing comment\n"
	    "listen = unix:/run/mtasts.sock\n"
	    "socket_mode = 0600\n"
	    "cache_size = 500\n"
	    "cache_grace = 0\n"
	    "resolv_conf = /tmp/resolv.conf\n"
	    "nameserver = 127.0.0.53\n"
	    "nameserver = [::1]:5353\n"
	    "ca_file = /tmp/ca.pem\n"
	    "max_clients = 10\n"
	    "max_lookups = 3\n"
	    "idle_timeout = 30\n"
	    "strict_testing = yes\n"
	    "timeout = 7\n"
	    "require_sni = no\n"
	    "tlsrpt = yes\n"
	    "\n"
	    "[zone strict]\n"
	    "timeout = 2\n"
	    "fetch_failure = fail\n"
	    "[zone  other ]\n"
	    "strict_testing = no\n"
	    "tlsrpt = no\n"
	    "fetch_failure = open\n", &c, err, sizeof err), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.nlisten, 3);
	CHECK_STR(c.listen[1], "[::1]:9000");
	CHECK_STR(c.listen[2], "unix:/run/mtasts.sock");
	CHECK_INT(c.socket_mode, 0600);
	CHECK_INT(c.cache_size, 500);
	CHECK_INT(c.cache_grace, 0);
	CHECK_STR(c.resolv_conf, "/tmp/resolv.conf");
	CHECK_INT(c.nnameserver, 2);
	CHECK_STR(c.nameserver[1], "[::1]:5353");
	CHECK_STR(c.ca_file, "/tmp/ca.pem");
	CHECK_INT(c.max_clients, 10);
	CHECK_INT(c.max_lookups, 3);
	CHECK_INT(c.idle_timeout, 30);
	CHECK_INT(c.nzones, 3);
	/* a zone starts as a copy of the default zone */
	z = conf_zone(&c, "strict", 6);
	CHECK_STR(z->name, "strict");
	CHECK_INT(z->timeout, 2);
	CHECK_INT(z->strict_testing, 1);
	CHECK_INT(z->require_sni, 0);
	CHECK_INT(z->tlsrpt, 1);
	CHECK_INT(z->fetch_failure, 1);
	CHECK_INT(c.zone[0].fetch_failure, 0);
	z = conf_zone(&c, "other", 5);
	CHECK_INT(z->strict_testing, 0);
	CHECK_INT(z->timeout, 7);
	CHECK_INT(z->tlsrpt, 0);
	CHECK_INT(z->fetch_failure, 0);
	/* unknown names use the default zone */
	z = conf_zone(&c, "postfix", 7);
	CHECK(z == &c.zone[0]);
	z = conf_zone(&c, "stric", 5);
	CHECK(z == &c.zone[0]);

	/* lifecycle keys (issue: snapshot, proactive refresh, backoff, ...) */
	CHECK_INT(parse("", &c, err, sizeof err), 0);
	CHECK_STR(c.cache_file, "");
	CHECK_INT(c.snapshot_interval, 300);
	CHECK_INT(c.proactive_fetch, 0);
	CHECK_INT(c.proactive_interval, 86400);
	CHECK_INT(c.proactive_concurrency, 100);
	CHECK_INT(c.proactive_grace_ratio, 2);
	CHECK_INT(c.refresh_unused_after, -1);      /* as proactive_interval */
	CHECK_INT(c.backoff_max, 3600);
	CHECK_INT(c.shutdown_timeout, 20);
	CHECK_INT(c.reuse_port, 1);
	CHECK_STR(c.user, "");
	CHECK_INT(c.use_syslog, 0);
	CHECK_INT(parse("cache_file = /var/lib/mtasts/cache.snap\nsnapshot_interval = 10\n"
	    "proactive_fetch = yes\nproactive_interval = 600\nproactive_concurrency = 5\n"
	    "proactive_grace_ratio = 3\nbackoff_max = 120\nshutdown_timeout = 0\n"
	    "reuse_port = no\nuser = mtasts\nlog = syslog\n", &c, err, sizeof err), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.cache_file, "/var/lib/mtasts/cache.snap");
	CHECK_INT(c.snapshot_interval, 10);
	CHECK_INT(c.proactive_fetch, 1);
	CHECK_INT(c.proactive_interval, 600);
	CHECK_INT(c.proactive_concurrency, 5);
	CHECK_INT(c.proactive_grace_ratio, 3);
	CHECK_INT(c.backoff_max, 120);
	CHECK_INT(c.shutdown_timeout, 0);
	CHECK_INT(c.reuse_port, 0);
	CHECK_STR(c.user, "mtasts");
	CHECK_INT(c.use_syslog, 1);
	CHECK_INT(parse("cache_file = relative.snap\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: cache_file: bad value \"relative.snap\": expected an absolute path");
	CHECK_INT(parse("log = file\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("proactive_grace_ratio = 0\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("refresh_unused_after = 0\n", &c, err, sizeof err), 0);
	CHECK_INT(c.refresh_unused_after, 0);
	CHECK_INT(parse("refresh_unused_after = 600\n", &c, err, sizeof err), 0);
	CHECK_INT(c.refresh_unused_after, 600);
	CHECK_INT(parse("refresh_unused_after = -1\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("refresh_unused_after = 31557601\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("snapshot_interval = 0\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("[zone z]\nuser = x\n", &c, err, sizeof err), -1);

	/* errors name the file and line */
	CHECK_INT(parse("cache_size = 10\nbogus = 1\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:2: unknown key \"bogus\"");
	CHECK_INT(parse("timeout = 0\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: timeout: bad value \"0\": expected seconds, 1 to 300");
	CHECK_INT(parse("strict_testing = maybe\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: strict_testing: bad value \"maybe\": expected yes or no");
	CHECK_INT(parse("fetch_failure = closed\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: fetch_failure: bad value \"closed\": expected open or fail");
	CHECK_INT(parse("tlsrpt = 3.10\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("[zone a]\n[zone a]\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:2: duplicate zone \"a\"");
	CHECK_INT(parse("[zone a]\ncache_size = 5\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:2: unknown zone key \"cache_size\"");
	CHECK_INT(parse("[zone]\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: expected [zone NAME]");
	CHECK_INT(parse("[zones a]\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("[zone a b]\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("[zone a] x\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: expected key = value");
	CHECK_INT(parse("listen =\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: listen: empty value");
	CHECK_INT(parse("listen = 127.0.0.1\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = 127.0.0.1:0\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = 127.0.0.1:65536\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = [::1:8461\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = unix:relative\n", &c, err, sizeof err), -1);
	/* the listen syntax (hostport_split, port required): the address
	 * itself is only checked when it is bound */
	CHECK_INT(parse("listen = :8461\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = []:8461\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = [::1]\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = [::1]8461\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = 127.0.0.1:+8461\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("listen = ::1:8461\n", &c, err, sizeof err), 0);
	CHECK_INT(parse("listen = localhost:8461\n", &c, err, sizeof err), 0);
	CHECK_INT(parse("listen = 127.0.0.1:0008461\n", &c, err, sizeof err), 0);
	CHECK_INT(parse("listen = unix:/a\n", &c, err, sizeof err), 0);
	/* metrics_listen: off by default, an IP literal and a port */
	CHECK_INT(parse("", &c, err, sizeof err), 0);
	CHECK_STR(c.metrics_listen, "");
	CHECK_INT(parse("metrics_listen = 127.0.0.1:9100\n", &c, err, sizeof err), 0);
	CHECK_STR(c.metrics_listen, "127.0.0.1:9100");
	CHECK_INT(parse("metrics_listen = [::1]:9100\n", &c, err, sizeof err), 0);
	CHECK_STR(c.metrics_listen, "[::1]:9100");
	CHECK_INT(parse("metrics_listen = localhost:9100\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: metrics_listen: bad value \"localhost:9100\": "
	    "expected ADDR:PORT or [ADDR6]:PORT");
	CHECK_INT(parse("metrics_listen = 127.0.0.1\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("metrics_listen = unix:/run/m.sock\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("[zone z]\nmetrics_listen = 127.0.0.1:9100\n", &c, err, sizeof err), -1);
	{
		/* unix paths: 107 characters fit sun_path with its NUL, 108 do not */
		char text[200];
		snprintf(text, sizeof text, "listen = unix:/%0106d\n", 0);
		CHECK_INT(parse(text, &c, err, sizeof err), 0);
		snprintf(text, sizeof text, "listen = unix:/%0107d\n", 0);
		CHECK_INT(parse(text, &c, err, sizeof err), -1);
	}
	/* counts: digits only, leading zeros fine, min and max inclusive */
	CHECK_INT(parse("cache_size = 0010\n", &c, err, sizeof err), 0);
	CHECK_INT(c.cache_size, 10);
	CHECK_INT(parse("cache_size = 10000000\n", &c, err, sizeof err), 0);
	CHECK_INT(parse("cache_size = 10000001\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("cache_size = 0\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("cache_size = +5\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("cache_grace = 0\n", &c, err, sizeof err), 0);
	CHECK_INT(parse("cache_size = -1\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("cache_size = 1x\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("cache_size = 99999999999999999999\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("socket_mode = 0999\n", &c, err, sizeof err), -1);
	/* CTL-1: the control socket is a unix socket or nothing */
	CHECK_INT(parse("", &c, err, sizeof err), 0);
	CHECK_STR(c.control, "");
	CHECK_INT(parse("control = unix:/run/mtasts/control.sock\n", &c, err, sizeof err), 0);
	CHECK_STR(c.control, "unix:/run/mtasts/control.sock");
	CHECK_INT(parse("control = 127.0.0.1:8462\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:1: control: bad value \"127.0.0.1:8462\": expected unix:/path");
	CHECK_INT(parse("control = unix:relative\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("control = unix:\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("nameserver = example.com\n", &c, err, sizeof err), -1);
	CHECK_INT(parse("nameserver = 1.1.1.1\nnameserver = 1.1.1.2\nnameserver = 1.1.1.3\n"
	    "nameserver = 1.1.1.4\n", &c, err, sizeof err), -1);
	CHECK_STR(err, "t.conf:4: nameserver: bad value \"1.1.1.4\": at most 3 nameserver lines");
	{
		/* a line longer than the parser's line buffer */
		static char big[2000];
		memset(big, 'a', sizeof big - 1);
		CHECK_INT(parse(big, &c, err, sizeof err), -1);
		CHECK_STR(err, "t.conf:1: line too long");
	}
	{
		const char nul[] = "cache_size = 1\0\n";
		conf_defaults(&c);
		CHECK_INT(conf_parse(nul, sizeof nul - 1, "t.conf", &c, err, sizeof err), -1);
		CHECK_STR(err, "t.conf:1: NUL byte");
	}
	/* too many zones */
	{
		char text[2048];
		size_t n = 0;
		int i;
		for (i = 0; i < ZONE_MAX; i++)
			n += (size_t)snprintf(text + n, sizeof text - n, "[zone z%d]\n", i);
		CHECK_INT(parse(text, &c, err, sizeof err), -1);
	}
	/* conf_load: missing file is fine unless -c named it */
	CHECK_INT(conf_load("/nonexistent/mta-sts.conf", 0, &c, err, sizeof err), 0);
	CHECK_STR(c.listen[0], "127.0.0.1:8461");
	CHECK_INT(conf_load("/nonexistent/mta-sts.conf", 1, &c, err, sizeof err), -1);
	CHECK_STR(err, "/nonexistent/mta-sts.conf: No such file or directory");
	/* a file larger than CONF_FILE_MAX is refused, one that size is read */
	{
		static char big[CONF_FILE_MAX + 1];
		char path[] = "/tmp/unit_conf.XXXXXX";
		int fd = mkstemp(path);
		size_t i;

		for (i = 0; i < sizeof big; i++)
			big[i] = i % 64 == 63 ? '\n' : '#';
		CHECK(fd >= 0 && write(fd, big, sizeof big) == (ssize_t)sizeof big);
		close(fd);
		CHECK_INT(conf_load(path, 1, &c, err, sizeof err), -1);
		CHECK(strstr(err, "larger than 65535 bytes") != NULL);
		CHECK(truncate(path, CONF_FILE_MAX) == 0);
		CHECK_INT(conf_load(path, 1, &c, err, sizeof err), 0);
		unlink(path);
	}
	/* the shipped sample must parse */
	CHECK_INT(conf_load("mta-sts.conf", 1, &c, err, sizeof err), 0);
	UNIT_DONE();
}
