/* unit_httpd.c - the metrics_listen request parser on valid and hostile
 * heads: each whole, each prefix, and against a guard page */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "unit.h"

static int
parse(const char *s, size_t len, struct httpd_request *r)
{
	return httpd_parse(guarded(s, len), len, r);
}

#define R(s) s, sizeof s - 1   /* a literal and its length, NULs included */
static const struct {
	const char *in;
	size_t len;
	int code;
} cases[] = {
	/* what scrapers send */
	{ R("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n"), 200 },
	{ R("GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: Prometheus/2.45\r\n"
	  "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n"
	  "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"), 200 },
	{ R("GET /metrics HTTP/1.0\r\n\r\n"), 200 },
	{ R("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), 200 },
	{ R("GET /metrics HTTP/1.1\nHost: x\n\n"), 200 },            /* bare LF */
	{ R("GET /metrics HTTP/1.1\r\nhOsT:\tx \r\n\r\n"), 200 },
	{ R("GET /metrics HTTP/1.1\r\nHost: x\r\nX: \x80\xff obs-text\r\n\r\n"), 200 },
	{ R("GET /metrics HTTP/1.1\r\nHost:\r\n\r\n"), 200 },          /* empty value */
	/* routes */
	{ R("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 404 },
	{ R("GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n"), 404 },
	{ R("GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n"), 404 },
	{ R("GET /METRICS HTTP/1.0\r\n\r\n"), 404 },
	{ R("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), 405 },
	{ R("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 405 },
	{ R("get /metrics HTTP/1.0\r\n\r\n"), 405 },
	{ R("GET /metrics HTTP/2.0\r\n\r\n"), 505 },
	{ R("GET /metrics HTTP/0.9\r\n\r\n"), 505 },
	/* Host rules of RFC 9112 3.2 */
	{ R("GET /metrics HTTP/1.1\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHosts: x\r\n\r\n"), 400 },
	/* request-line syntax */
	{ R("GET http://x/metrics HTTP/1.0\r\n\r\n"), 400 },
	{ R("GET * HTTP/1.0\r\n\r\n"), 400 },
	{ R(" GET /metrics HTTP/1.0\r\n\r\n"), 400 },
	{ R("\r\nGET /metrics HTTP/1.0\r\n\r\n"), 400 },
	{ R("GET  /metrics HTTP/1.0\r\n\r\n"), 400 },
	{ R("GET /metrics  HTTP/1.0\r\n\r\n"), 400 },
	{ R("GET\t/metrics HTTP/1.0\r\n\r\n"), 400 },
	{ R("GET /met\x01rics HTTP/1.0\r\n\r\n"), 400 },
	{ R("GET /met\x80rics HTTP/1.0\r\n\r\n"), 400 },
	{ R("GET /metrics http/1.0\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.10\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/11\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1 \r\nHost: x\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.0\r\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.0\rX\n\r\n"), 400 },
	{ R("GET /metrics\r\n\r\n"), 400 },                       /* HTTP/0.9 form */
	{ R("G\0T /metrics HTTP/1.0\r\n\r\n"), 400 },
	{ R("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400 },  /* a TLS hello */
	/* header syntax */
	{ R("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHost x\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHost: x\0y\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHost: x\x7f\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHost: x\ry\r\n\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\r\n"), 400 },
	{ R("GET /metrics HTTP/1.1\r\nH\x80st: x\r\n\r\n"), 400 },
};

/* Every case whole, then every proper prefix of the valid ones (which
 * must ask for more), all against the guard page. */
static void
test_table(void)
{
	struct httpd_request r;
	size_t i, k, len;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got;
		len = cases[i].len;
		got = parse(cases[i].in, len, &r);
		if (got != cases[i].code)
			printf("case %zu: \"%s\"\n", i, cases[i].in);
		CHECK_INT(got, cases[i].code);
		if (cases[i].code == 400)
			continue;
		CHECK_INT(r.len, len);
		for (k = 0; k < len; k++) {
			got = parse(cases[i].in, k, &r);
			if (got != 0) {
				printf("case %zu prefix %zu: %d\n", i, k, got);
				CHECK_INT(got, 0);
				break;
			}
		}
	}
}

static void
test_fields(void)
{
	static const char req[] = "GET /metrics?a=b HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\nBODY";
	struct httpd_request r;

	CHECK_INT(parse(req, sizeof req - 1, &r), 200);
	CHECK_MEM(r.method, r.methodlen, "GET");
	CHECK_MEM(r.target, r.targetlen, "/metrics?a=b");
	CHECK_INT(r.minor, 1);
	CHECK_INT(r.nfields, 2);
	CHECK_INT(r.nhost, 1);
	CHECK_INT(r.len, sizeof req - 1 - 4);    /* the head only */
}

/* Bounds: HTTPD_REQ_MAX bytes without the end of the head, too many
 * fields, and input past the bound never looked at. */
static void
test_limits(void)
{
	static char buf[3 * HTTPD_REQ_MAX];
	struct httpd_request r;
	size_t n;
	int i;

	/* a request line that never ends: 414 at the bound, 0 before */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', sizeof buf - 5);
	CHECK_INT(parse(buf, HTTPD_REQ_MAX - 1, &r), 0);
	CHECK_INT(parse(buf, HTTPD_REQ_MAX, &r), 414);
	CHECK_INT(parse(buf, sizeof buf, &r), 414);
	/* a long method too */
	memset(buf, 'G', sizeof buf);
	CHECK_INT(parse(buf, HTTPD_REQ_MAX, &r), 414);

	/* fields that never end: 431 */
	n = (size_t)snprintf(buf, sizeof buf, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: ");
	memset(buf + n, 'v', sizeof buf - n);
	CHECK_INT(parse(buf, HTTPD_REQ_MAX - 1, &r), 0);
	CHECK_INT(parse(buf, HTTPD_REQ_MAX, &r), 431);
	CHECK_INT(parse(buf, sizeof buf, &r), 431);

	/* a complete head one byte over the bound is too large all the same */
	n = (size_t)snprintf(buf, sizeof buf, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: ");
	memset(buf + n, 'v', HTTPD_REQ_MAX - n - 4 + 1);
	memcpy(buf + HTTPD_REQ_MAX - 4 + 1, "\r\n\r\n", 4);
	CHECK_INT(parse(buf, HTTPD_REQ_MAX + 1, &r), 431);
	/* the same less its first byte fits, and "ET" is some other method */
	CHECK_INT(parse(buf + 1, HTTPD_REQ_MAX, &r), 405);
	/* exactly at the bound: answered */
	n = (size_t)snprintf(buf, sizeof buf, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: ");
	memset(buf + n, 'v', HTTPD_REQ_MAX - n - 4);
	memcpy(buf + HTTPD_REQ_MAX - 4, "\r\n\r\n", 4);
	CHECK_INT(parse(buf, HTTPD_REQ_MAX, &r), 200);

	/* HTTPD_FIELDS_MAX fields are fine, one more is not */
	n = (size_t)snprintf(buf, sizeof buf, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
	for (i = 1; i < HTTPD_FIELDS_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "X%d: y\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	CHECK_INT(parse(buf, n + 2, &r), 200);
	CHECK_INT(r.nfields, HTTPD_FIELDS_MAX);
	memcpy(buf + n, "Y: z\r\n\r\n", 8);
	CHECK_INT(parse(buf, n + 8, &r), 431);
	CHECK_INT(parse(buf, n + 1, &r), 0);
	CHECK_INT(parse(buf, n + 2, &r), 431);   /* known at its colon */
}

/* Random bytes: never a crash, never a read past the end (guard page),
 * and an answer only from the allowed set. */
static void
test_random(void)
{
	static const char alphabet[] = "GET /metricsHTP1.0\r\n:\t \x80\x7f\0Host";
	unsigned char buf[300];
	struct httpd_request r;
	unsigned seed = 12345;
	int i, bad = 0;
	size_t k, len;

	for (i = 0; i < 100000; i++) {
		int code;
		len = (seed = seed * 1103515245 + 12345) % sizeof buf;
		for (k = 0; k < len; k++) {
			seed = seed * 1103515245 + 12345;
			buf[k] = (seed >> 16) & 1 ? (unsigned char)alphabet[(seed >> 17) % (sizeof alphabet - 1)] :
			    (unsigned char)(seed >> 20);
		}
		code = parse((const char *)buf, len, &r);
		if (code != 0 && code != 200 && code != 400 && code != 404 && code != 405 &&
		    code != 505)
			bad++;
	}
	CHECK_INT(bad, 0);
}

int
main(void)
{
	test_table();
	test_fields();
	test_limits();
	test_random();
	UNIT_DONE();
}
