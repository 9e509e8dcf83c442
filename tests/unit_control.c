/* unit_control.c - the control socket's command parser (hostile input
 * included) and the dump formatter, text and JSON */
#include <string.h>

#include "mtasts.h"
#include "unit.h"

static const struct {
	const char *line;
	enum control_cmd cmd;
	const char *domain;         /* or the error text for CTL_BAD */
} cases[] = {
	{ "DUMP", CTL_DUMP, "" },
	{ "DUMP\r", CTL_DUMP, "" },
	{ "DUMP JSON", CTL_DUMP_JSON, "" },
	{ "STATS", CTL_STATS, "" },
	{ "PURGE example.com", CTL_PURGE, "example.com" },
	{ "PURGE Example.COM.", CTL_PURGE, "example.com" },
	{ "PURGE ALL", CTL_PURGE_ALL, "" },
	{ "REFRESH mail.example.org", CTL_REFRESH, "mail.example.org" },
	{ "", CTL_BAD, "unknown command" },
	{ "dump", CTL_BAD, "unknown command" },
	{ "DUMPX", CTL_BAD, "unknown command" },
	{ " DUMP", CTL_BAD, "unknown command" },
	{ "DUMP TEXT", CTL_BAD, "expected DUMP or DUMP JSON" },
	{ "DUMP JSON x", CTL_BAD, "expected DUMP or DUMP JSON" },
	{ "DUMP ", CTL_BAD, "expected DUMP or DUMP JSON" },
	{ "STATS now", CTL_BAD, "no argument expected" },
	{ "STATS ", CTL_BAD, "no argument expected" },
	{ "PURGE", CTL_BAD, "missing domain" },
	{ "PURGE ", CTL_BAD, "missing domain" },
	{ "PURGE  example.com", CTL_BAD, "not a policy domain" },
	{ "PURGE example.com extra", CTL_BAD, "not a policy domain" },
	{ "PURGE all", CTL_BAD, "not a policy domain" },   /* one label */
	{ "PURGE [10.0.0.1]", CTL_BAD, "not a policy domain" },
	{ "PURGE 10.0.0.1", CTL_BAD, "not a policy domain" },
	{ "PURGE .example.com", CTL_BAD, "not a policy domain" },
	{ "REFRESH", CTL_BAD, "missing domain" },
	{ "REFRESH exa\xc3\xa9mple.com", CTL_REFRESH, "xn--example-dya.com" },   /* IDN-1 */
	{ "PURGE B\xc3\x9c" "CHER.example", CTL_PURGE, "xn--bcher-kva.example" },
	{ "REFRESH exa\xffmple.com", CTL_BAD, "not a policy domain" },
	{ "PURGE exa\xc2\xa0mple.com", CTL_BAD, "not a policy domain" },
	{ "REFRESH ALL", CTL_BAD, "not a policy domain" },
	{ "\r", CTL_BAD, "unknown command" },
};

static void
test_parse_table(void)
{
	struct control_request r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = strlen(cases[i].line);
		int rc = control_parse((const char *)guarded(cases[i].line, len), len, &r);
		if (r.cmd != cases[i].cmd)
			printf("case \"%s\"\n", cases[i].line);
		CHECK_INT(r.cmd, cases[i].cmd);
		CHECK_INT(rc, cases[i].cmd == CTL_BAD ? -1 : 0);
		CHECK_STR(rc == 0 ? r.domain : r.err, cases[i].domain);
	}
}

/* NUL bytes, a line of CONTROL_LINE_MAX, a domain over 253, every byte */
static void
test_parse_hostile(void)
{
	struct control_request r;
	char buf[CONTROL_LINE_MAX + 1];
	int c;

	CHECK_INT(control_parse((const char *)guarded("DUMP\0", 5), 5, &r), -1);
	CHECK_INT(control_parse((const char *)guarded("PURGE a\0.com", 12), 12, &r), -1);
	CHECK_INT(control_parse((const char *)guarded("", 0), 0, &r), -1);
	memcpy(buf, "PURGE ", 6);
	memset(buf + 6, 'a', sizeof buf - 6);
	CHECK_INT(control_parse((const char *)guarded(buf, sizeof buf), sizeof buf, &r), -1);
	CHECK_STR(r.err, "not a policy domain");
	CHECK_STR(r.domain, "");
	for (c = 0; c < 256; c++) {
		char line[] = "DUMP?";
		line[4] = (char)c;
		CHECK_INT(control_parse((const char *)guarded(line, 5), 5, &r),
		    c == '\r' ? 0 : -1);
	}
	/* the prefixes of a command: bad until the domain has two labels
	 * ("PURGE example.c" is a domain too) */
	for (c = 0; c <= 17; c++) {
		int rc = control_parse((const char *)guarded("PURGE example.com", (size_t)c),
		    (size_t)c, &r);
		CHECK_INT(rc, c >= 15 ? 0 : -1);
	}
}

static void
test_format(void)
{
	static const char mx[] = "mx1.example.com\0*.example.net";
	struct control_row r;
	static char out[CONTROL_ROW_MAX];
	size_t n;

	memset(&r, 0, sizeof r);
	r.domain = "example.com";
	r.policy = 1;
	r.mode = STS_ENFORCE;
	r.id = "20261202";
	r.mx = mx;
	r.mxlen = sizeof mx;
	r.fetched = 1796227200;     /* 2026-12-02T16:00:00Z */
	r.expires = 1796227200 + 86400;
	r.checked = 1796227260;
	r.fails = 0;
	n = control_format_row(&r, 0, out, sizeof out);
	CHECK_STR(out, "example.com mode=enforce id=20261202 mx=mx1.example.com,*.example.net "
	    "fetched=2026-12-02T16:00:00Z expires=2026-12-03T16:00:00Z "
	    "checked=2026-12-02T16:01:00Z fails=0 failure=-\n");
	CHECK_INT(n, strlen(out));
	n = control_format_row(&r, 1, out, sizeof out);
	CHECK_STR(out, "{\"domain\":\"example.com\",\"mode\":\"enforce\",\"id\":\"20261202\","
	    "\"mx\":[\"mx1.example.com\",\"*.example.net\"],\"fetched\":1796227200,"
	    "\"expires\":1796313600,\"checked\":1796227260,\"fails\":0,\"failure\":null}");
	CHECK_INT(n, strlen(out));

	/* a domain without a policy, after failures */
	memset(&r, 0, sizeof r);
	r.domain = "broken.example";
	r.id = "";
	r.checked = 1796227260;
	r.fails = 3;
	r.failure = "sts-webpki-invalid";
	control_format_row(&r, 0, out, sizeof out);
	CHECK_STR(out, "broken.example mode=- id=- mx=- fetched=- expires=- "
	    "checked=2026-12-02T16:01:00Z fails=3 failure=sts-webpki-invalid\n");
	control_format_row(&r, 1, out, sizeof out);
	CHECK_STR(out, "{\"domain\":\"broken.example\",\"mode\":null,\"id\":null,\"mx\":[],"
	    "\"fetched\":null,\"expires\":null,\"checked\":1796227260,\"fails\":3,"
	    "\"failure\":\"sts-webpki-invalid\"}");

	/* from a snapshot: no check history */
	r.checked = 0;
	r.fails = -1;
	r.failure = NULL;
	control_format_row(&r, 0, out, sizeof out);
	CHECK_STR(out, "broken.example mode=- id=- mx=- fetched=- expires=- checked=- fails=- "
	    "failure=-\n");
	control_format_row(&r, 1, out, sizeof out);
	CHECK(strstr(out, "\"checked\":null,\"fails\":null,\"failure\":null}") != NULL);
}

/* the largest entries fit CONTROL_ROW_MAX (MX_DATA_MAX of patterns, the
 * shortest ones costing most as JSON); a small buffer gives 0 */
static void
test_format_bounds(void)
{
	static char mx[MX_DATA_MAX], dom[DOMAIN_MAX + 1], out[CONTROL_ROW_MAX];
	struct control_row r;
	size_t n, cap;

	memset(dom, 'd', DOMAIN_MAX);
	dom[DOMAIN_MAX] = '\0';
	for (n = 0; n + 4 <= sizeof mx; n += 4)
		memcpy(mx + n, "m.b", 4);
	memset(&r, 0, sizeof r);
	r.domain = dom;
	r.policy = 1;
	r.id = "12345678901234567890123456789012";
	r.mx = mx;
	r.mxlen = n;
	r.fetched = r.expires = r.checked = 4102444800;  /* 2100 */
	r.fails = 65535;
	r.failure = "sts-policy-fetch-error";
	CHECK(control_format_row(&r, 1, out, sizeof out) > 0);
	CHECK(control_format_row(&r, 0, out, sizeof out) > 0);
	for (n = 0; n + MX_PATTERN_MAX + 1 <= sizeof mx; n += MX_PATTERN_MAX + 1) {
		memset(mx + n, 'm', MX_PATTERN_MAX);
		mx[n + MX_PATTERN_MAX] = '\0';
	}
	r.mxlen = n;
	r.fetched = r.expires = r.checked = 4102444800;  /* 2100 */
	r.fails = 65535;
	r.failure = "sts-policy-fetch-error";
	CHECK(control_format_row(&r, 0, out, sizeof out) > 0);
	CHECK(control_format_row(&r, 1, out, sizeof out) > 0);
	n = control_format_row(&r, 0, out, sizeof out);
	for (cap = 0; cap <= n; cap += 97)
		CHECK_INT(control_format_row(&r, 0, out, cap), 0);
	CHECK_INT(control_format_row(&r, 0, out, n), 0);     /* no room for the NUL */
	CHECK_INT(control_format_row(&r, 0, out, n + 1), n);
	n = control_format_row(&r, 1, out, sizeof out);
	CHECK_INT(control_format_row(&r, 1, out, n), 0);
	CHECK_INT(control_format_row(&r, 1, out, n + 1), n);
}

int
main(void)
{
	test_parse_table();
	test_parse_hostile();
	test_format();
	test_format_bounds();
	UNIT_DONE();
}
