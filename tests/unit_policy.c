/* unit_policy.c - TXT rules (TXT-1..TXT-5), policy parser (POL-1..POL-12),
 * Postfix answer (PFX-1..PFX-3, PFX-6, PFX-7, SM-4, SEC-8) */
#include <stdint.h>
#include <stdlib.h>

#include "mtasts.h"
#include "unit.h"

static const char rfc_policy[] =
    "version: STSv1\n"
    "mode: enforce\n"
    "mx: mail.example.com\n"
    "mx: *.example.net\n"
    "mx: backupmx.example.com\n"
    "max_age: 604800\n";

/* ---- TXT ------------------------------------------------------------- */

struct tcase {
	const char *in;
	int rc;
	const char *id;
};

static const struct tcase txt_cases[] = {
	{ "v=STSv1; id=20160831085700Z;", 1, "20160831085700Z" },
	{ "v=STSv1; id=abc; foo=bar", 1, "abc" },
	{ "v=STSv1; id=20240101", 1, "20240101" },        /* TXT-1, joined */
	{ "v=STSv1;id=a", 1, "a" },
	{ "v=STSv1 ; id=a", 1, "a" },                     /* erratum 6285 */
	{ "v=STSv1\t;\tid=a\t;\t", 1, "a" },
	{ "v=STSv1; id=a; ", 1, "a" },
	{ "v=STSv1; id=a;", 1, "a" },
	{ "v=STSv1; id=a; id=b", 1, "a" },                /* TXT-5 first wins */
	{ "v=STSv1; ID=a; id=b", 1, "b" },                /* ID= is an extension */
	{ "v=STSv1; foo=bar; id=x", 1, "x" },
	{ "v=STSv1; id=a; foo=b;c=d", 1, "a" },
	{ "v=STSv1; id=a; foo.bar-baz_1=x!\"#$%&'()*+,-./0123456789:<>?@[\\]^_`{|}~", 1, "a" },
	{ "v=STSv1; id=abcdefghijklmnopqrstuvwxyz012345", 1, "abcdefghijklmnopqrstuvwxyz012345" },
	{ "v=STSv1; id=a; n2345678901234567890123456789012=x", 1, "a" },
	/* STSv1 records that are invalid */
	{ "v=STSv1; id=a b", -1, "" },
	{ "v=STSv1; id=", -1, "" },
	{ "v=STSv1; id=abcdefghijklmnopqrstuvwxyz0123456", -1, "" },  /* 33 */
	{ "v=STSv1;", -1, "" },
	{ "v=STSv1; ", -1, "" },
	{ "v=STSv1; ID=a", -1, "" },                      /* no id */
	{ "v=STSv1; foo=bar", -1, "" },
	{ "v=STSv1; id=a;;", -1, "" },
	{ "v=STSv1;; id=a", -1, "" },
	{ "v=STSv1; id=a ", -1, "" },                     /* WSP needs a ";" */
	{ "v=STSv1; id=a; foo", -1, "" },
	{ "v=STSv1; id=a; foo=", -1, "" },
	{ "v=STSv1; id=a; foo=b=c", -1, "" },
	{ "v=STSv1; id=a; _foo=b", -1, "" },
	{ "v=STSv1; id=a; n23456789012345678901234567890123=x", -1, "" },
	{ "v=STSv1; id=a; id=", -1, "" },                 /* later id still checked */
	{ "v=STSv1; id=a; id=b-c", -1, "" },
	{ "v=STSv1; id=a-b", -1, "" },
	{ "v=STSv1; id=a=b", -1, "" },
	{ "v=STSv1; id=a; foo=b\xc3\xa9", -1, "" },       /* TXT-2 US-ASCII */
	{ "v=STSv1; id=a\r\n", -1, "" },
	{ "v=STSv1; id=a; foo=b c", -1, "" },
	{ "v=STSv1; id =a", -1, "" },
	{ "v=STSv1; id= a", -1, "" },
	/* not STSv1 records at all (TXT-3) */
	{ "v=STSv1", 0, "" },
	{ "v=STSv1 ", 0, "" },
	{ "v=STSv1 id=a", 0, "" },
	{ "v=STSv10; id=x", 0, "" },
	{ "V=STSv1; id=a", 0, "" },
	{ "v=stsv1; id=a", 0, "" },
	{ " v=STSv1; id=a", 0, "" },
	{ "v=spf1 -all", 0, "" },
	{ "", 0, "" },
	{ "v=STS", 0, "" },
};

static void
test_txt_record(void)
{
	size_t i, j;
	int bad = 0;

	for (i = 0; i < sizeof txt_cases / sizeof txt_cases[0]; i++) {
		const struct tcase *t = &txt_cases[i];
		char id[TXT_ID_MAX + 1];
		size_t n = strlen(t->in);
		int rc;

		memset(id, 'X', sizeof id);
		rc = policy_txt_record(guarded(t->in, n), n, id);
		if (rc != t->rc)
			printf("txt case %zu \"%s\": %d\n", i, t->in, rc);
		CHECK_INT(rc, t->rc);
		CHECK_STR(id, t->id);
		/* every prefix: never past len, id always a short string */
		for (j = 0; j < n; j++) {
			memset(id, 'X', sizeof id);
			rc = policy_txt_record(guarded(t->in, j), j, id);
			if (strnlen(id, sizeof id) > TXT_ID_MAX || (rc != 1 && id[0] != '\0'))
				bad++;
		}
	}
	CHECK_INT(bad, 0);
	/* NUL inside */
	{
		char id[TXT_ID_MAX + 1];
		CHECK_INT(policy_txt_record((const uint8_t *)"v=STSv1; id=a\0b", 15, id), -1);
		CHECK_INT(policy_txt_record((const uint8_t *)"v=STSv1; id=ab", 13, id), 1);
		CHECK_STR(id, "a");
		CHECK_INT(policy_txt_record(NULL, 0, id), 0);
	}
}

static void
add_txt(struct dns_result *r, const char *s, size_t len, int too_long)
{
	static size_t used;
	struct dns_txt_rr *t = &r->txt[r->ntxt++];

	if (r->ntxt == 1)
		used = 0;
	t->off = (uint16_t)used;
	t->len = (uint16_t)len;
	t->too_long = (uint8_t)too_long;
	memcpy(r->txtbuf + used, s, len);
	used += len;
}

static enum txt_status
select2(const char *a, const char *b, char id[TXT_ID_MAX + 1])
{
	static struct dns_result r;

	memset(&r, 0, sizeof r);
	if (a != NULL)
		add_txt(&r, a, strlen(a), 0);
	if (b != NULL)
		add_txt(&r, b, strlen(b), 0);
	return policy_txt_select(&r, id, NULL);
}

static void
test_txt_select(void)
{
	static struct dns_result r;
	char id[TXT_ID_MAX + 1];
	int i;

	CHECK_INT(select2("v=STSv1; id=a", "v=STSv1; id=b", id), TXT_NONE);
	CHECK_STR(id, "");
	CHECK_INT(select2("v=spf1 -all", "v=STSv1; id=a", id), TXT_FOUND);
	CHECK_STR(id, "a");
	CHECK_INT(select2("v=STSv10; id=x", "v=STSv1; id=a", id), TXT_FOUND);
	CHECK_STR(id, "a");
	CHECK_INT(select2("v=STSv1; id=a", "V=STSv1; id=b", id), TXT_FOUND);
	CHECK_STR(id, "a");
	CHECK_INT(select2("v=STSv1", "v=STSv1; id=c", id), TXT_FOUND);
	CHECK_STR(id, "c");
	CHECK_INT(select2("v=STSv1; id=20240101", NULL, id), TXT_FOUND);
	CHECK_STR(id, "20240101");
	CHECK_INT(select2("v=STSv1; id=a b", NULL, id), TXT_NONE);
	CHECK_INT(select2("v=STSv1; id=a b", "v=STSv1; id=c", id), TXT_NONE);
	CHECK_INT(select2("v=STSv1; id=c", "v=STSv1; id=a b", id), TXT_NONE);
	CHECK_STR(id, "");
	CHECK_INT(select2("v=STSv1; id=a", "v=STSv1; id=a", id), TXT_NONE);
	CHECK_INT(select2(NULL, NULL, id), TXT_NONE);
	CHECK_INT(select2("v=spf1 -all", NULL, id), TXT_NONE);
	CHECK_INT(select2("", "v=STSv1; id=z", id), TXT_FOUND);
	CHECK_STR(id, "z");
	CHECK_INT(policy_txt_select(NULL, id, NULL), TXT_NONE);

	/* a too-long record: its start decides whether it competes */
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=STSv1; id=long; x=aaaa", 24, 1);
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_NONE);
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=spf1 include:aaaa", 19, 1);
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_FOUND);
	CHECK_STR(id, "a");
	memset(&r, 0, sizeof r);
	add_txt(&r, "", 0, 1);                  /* nothing stored: assume STS */
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_NONE);
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=ST", 4, 1);
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_NONE);
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=STSv1; id=a", 13, 1);   /* valid text but flagged */
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_NONE);
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=STSv10", 8, 1);
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_FOUND);

	/* hostile descriptors */
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	r.txt[0].off = DNS_TXT_BUF - 5;
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_NONE);
	r.txt[0].off = 0xffff;
	r.txt[0].len = 0xffff;
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_NONE);
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	r.ntxt = -3;
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_NONE);
	r.ntxt = 1000;           /* clamped to DNS_TXT_MAX, the rest are empty */
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_FOUND);
	CHECK_STR(id, "a");

	/* eight records, only one of them STSv1 */
	memset(&r, 0, sizeof r);
	for (i = 0; i < DNS_TXT_MAX - 1; i++)
		add_txt(&r, "google-site-verification=x", 26, 0);
	add_txt(&r, "v=STSv1; id=last", 16, 0);
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_FOUND);
	CHECK_STR(id, "last");
	/* a record filling the whole buffer */
	memset(&r, 0, sizeof r);
	r.ntxt = 1;
	r.txt[0].len = TXT_RECORD_MAX;
	memcpy(r.txtbuf, "v=STSv1; id=big; x=", 19);
	memset(r.txtbuf + 19, 'y', TXT_RECORD_MAX - 19);
	CHECK_INT(policy_txt_select(&r, id, NULL), TXT_FOUND);
	CHECK_STR(id, "big");
}

/* ---- policy ----------------------------------------------------------- */

static struct policy pol;
static struct policy_error perr;

static int
parse_n(const void *s, size_t n)
{
	memset(&pol, 0x5a, sizeof pol);
	perr.line = -1;
	perr.reason = "unset";
	return policy_parse(guarded(s, n), n, &pol, &perr);
}

/* pattern i of pol, or "" */
static const char *
mxat(int i)
{
	size_t k = 0;

	for (; i > 0 && k < pol.mxlen; i--)
		k += strlen(pol.mx + k) + 1;
	return k < pol.mxlen ? pol.mx + k : "";
}

static int
parse(const char *s)
{
	return parse_n(s, strlen(s));
}

/* expect an invalid policy with reason and line */
#define BAD(s, why, ln) do { \
	CHECK_INT(parse(s), -1); \
	CHECK_STR(perr.reason, why); \
	CHECK_INT(perr.line, ln); \
	CHECK_INT(pol.nmx, 0); \
} while (0)

static void
check_rfc(int rc)
{
	CHECK_INT(rc, 0);
	CHECK_INT(pol.mode, STS_ENFORCE);
	CHECK_INT(pol.max_age, 604800);
	CHECK_INT(pol.nmx, 3);
	CHECK_STR(mxat(0), "mail.example.com");
	CHECK_STR(mxat(1), "*.example.net");
	CHECK_STR(mxat(2), "backupmx.example.com");
}

static void
test_policy_basic(void)
{
	char crlf[512];
	size_t i, o = 0;

	/* POL-1: LF, CRLF, no final terminator */
	check_rfc(parse(rfc_policy));
	for (i = 0; rfc_policy[i] != '\0'; i++) {
		if (rfc_policy[i] == '\n')
			crlf[o++] = '\r';
		crlf[o++] = rfc_policy[i];
	}
	crlf[o] = '\0';
	check_rfc(parse(crlf));
	check_rfc(parse_n(rfc_policy, strlen(rfc_policy) - 1));
	check_rfc(parse_n(crlf, o - 2));
	/* mixed line ends */
	check_rfc(parse("version: STSv1\r\nmode: enforce\nmx: mail.example.com\r\n"
	    "mx: *.example.net\nmx: backupmx.example.com\r\nmax_age: 604800"));
	/* bare CR as separator, and a lone CR anywhere */
	BAD("version: STSv1\rmode: enforce\rmx: a.example.com\rmax_age: 5\r", "bare CR", 1);
	BAD("version: STSv1\nmode: enforce\r\r\nmx: a.example.com\nmax_age: 5\n", "bare CR", 2);
	BAD("version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 5\r", "bare CR", 4);
	BAD("version: STSv1\nmode: en\rforce\n", "bare CR", 2);
	/* POL-6: version anywhere */
	CHECK_INT(parse("mode: none\nmax_age: 86400\nversion: STSv1"), 0);
	CHECK_INT(pol.mode, STS_NONE);
	CHECK_INT(pol.max_age, 86400);
	CHECK_INT(pol.nmx, 0);
	/* RFC 8461 3.2 second example shape */
	CHECK_INT(parse("version: STSv1\nmode: testing\nmx: mx1.example.org\nmax_age: 86400\n"), 0);
	CHECK_INT(pol.mode, STS_TESTING);
}

static void
test_policy_lines(void)
{
	/* POL-2: names are exact and case-sensitive */
	BAD("version: STSv1\nMode: enforce\nmx: a.example.com\nmax_age: 5\n", "missing mode", 0);
	BAD("version: STSv1\n mode: enforce\nmx: a.example.com\nmax_age: 5\n", "malformed line", 2);
	BAD("version: STSv1\n\tmode: enforce\n", "malformed line", 2);
	BAD("version: STSv1\nmode : enforce\n", "malformed line", 2);
	BAD("version: STSv1\nmode\t: enforce\n", "malformed line", 2);
	BAD("version: STSv1\nmode enforce\n", "malformed line", 2);
	BAD("version: STSv1\ngarbage\n", "malformed line", 2);
	BAD(":\n", "malformed line", 1);
	BAD(": STSv1\n", "malformed line", 1);
	BAD("_foo: bar\n", "malformed line", 1);
	BAD("-foo: bar\n", "malformed line", 1);
	BAD("fo o: bar\n", "malformed line", 1);
	BAD("f\xc3\xa9: bar\n", "malformed line", 1);
	BAD("\xef\xbb\xbfversion: STSv1\n", "malformed line", 1);   /* BOM */
	/* extension name: 1 + up to 31 */
	CHECK_INT(parse("version: STSv1\nmode: none\nmax_age: 1\n"
	    "a.b-c_d: x\nn2345678901234567890123456789012: y\n"), 0);
	BAD("version: STSv1\nn23456789012345678901234567890123: y\n", "malformed line", 2);
	/* values: leading WSP after the colon, trailing WSP dropped */
	CHECK_INT(parse("version:STSv1\nmode:\t enforce \t\nmx:a.example.com  \nmax_age:  7\t\n"), 0);
	CHECK_INT(pol.mode, STS_ENFORCE);
	CHECK_INT(pol.max_age, 7);
	CHECK_STR(mxat(0), "a.example.com");
	/* POL-3: blank lines skipped, whitespace-only lines too */
	CHECK_INT(parse("\n\nversion: STSv1\n\n\r\nmode: none\n  \n\t\nmax_age: 1\n\n"), 0);
	/* POL-4: extensions ignored, UTF-8 allowed and checked */
	CHECK_INT(parse("version: STSv1\nfoo_bar: \xe2\x98\x83\nmode: none\nmax_age: 1\n"), 0);
	CHECK_INT(parse("version: STSv1\nfoo: a\tb  c \xf0\x9f\x98\x80 \xc3\xa9\nmode: none\nmax_age: 1\n"), 0);
	CHECK_INT(parse("version: STSv1\nfoo: \xf4\x8f\xbf\xbf\nmode: none\nmax_age: 1\n"), 0);
	BAD("version: STSv1\nfoo: \xc3\n", "bad utf-8", 2);
	BAD("version: STSv1\nfoo: \xc3x\n", "bad utf-8", 2);
	BAD("version: STSv1\nfoo: \xc0\xaf\n", "bad utf-8", 2);           /* overlong */
	BAD("version: STSv1\nfoo: \xe0\x80\xaf\n", "bad utf-8", 2);       /* overlong */
	BAD("version: STSv1\nfoo: \xed\xa0\x80\n", "bad utf-8", 2);       /* surrogate */
	BAD("version: STSv1\nfoo: \xf4\x90\x80\x80\n", "bad utf-8", 2);   /* > U+10FFFF */
	BAD("version: STSv1\nfoo: \xf8\x88\x80\x80\x80\n", "bad utf-8", 2);
	BAD("version: STSv1\nfoo: \xff\n", "bad utf-8", 2);
	BAD("version: STSv1\nfoo: \x80\n", "bad utf-8", 2);
	BAD("version: STSv1\nmode: none\nmax_age: 1\nfoo: \xe2\x98\n", "bad utf-8", 4);
	/* an extension needs a value (ABNF) */
	BAD("version: STSv1\nfoo:\n", "empty value", 2);
	BAD("version: STSv1\nfoo: \t \n", "empty value", 2);
	/* control characters */
	BAD("version: STSv1\nfoo: a\x01" "b\n", "control character", 2);
	BAD("version: STSv1\nfoo: a\x7f\n", "control character", 2);
	BAD("version: STSv1\nfoo: \x1b[31m\n", "control character", 2);
	BAD("version: STSv1\nmode: none\nmax_age: 1\n\x0b\n", "control character", 4);
	BAD("version: STSv1\nmode: none\nmax_age: 1\n\x0c", "control character", 4);
	CHECK_INT(parse_n("version: STSv1\nmode: none\0\nmax_age: 1\n", 38), -1);
	CHECK_STR(perr.reason, "control character");
	CHECK_INT(perr.line, 2);
	CHECK_INT(parse_n("\0", 1), -1);
	CHECK_STR(perr.reason, "control character");
	CHECK_INT(perr.line, 1);
}

static void
test_policy_fields(void)
{
	/* POL-5: first wins, later ones are not even looked at */
	CHECK_INT(parse("version: STSv1\nmode: enforce\nmode: none\nmx: a.example.com\nmax_age: 5\n"), 0);
	CHECK_INT(pol.mode, STS_ENFORCE);
	CHECK_INT(parse("version: STSv1\nmode: none\nmode: enforce\nmax_age: 5\nmax_age: 99\n"
	    "version: STSv2\nmode: bogus\nmax_age: x\n"), 0);
	CHECK_INT(pol.mode, STS_NONE);
	CHECK_INT(pol.max_age, 5);
	BAD("version: STSv2\nversion: STSv1\n", "bad version", 1);
	BAD("mode: bogus\nmode: enforce\n", "bad mode", 1);
	/* POL-6, POL-7 exact values */
	BAD("version: stsv1\n", "bad version", 1);
	BAD("version: STSv1.0\n", "bad version", 1);
	BAD("version: STSv1 x\n", "bad version", 1);
	BAD("version:\n", "bad version", 1);
	BAD("version: STSv1\nmode: Enforce\n", "bad mode", 2);
	BAD("version: STSv1\nmode: ENFORCE\n", "bad mode", 2);
	BAD("version: STSv1\nmode: enforce x\n", "bad mode", 2);
	BAD("version: STSv1\nmode:\n", "bad mode", 2);
	BAD("version: STSv1\nmode: report\n", "bad mode", 2);
	/* POL-8 max_age */
#define AGE(v, want) do { \
	CHECK_INT(parse("version: STSv1\nmode: none\nmax_age: " v "\n"), 0); \
	CHECK_INT(pol.max_age, want); \
} while (0)
#define BADAGE(v) BAD("version: STSv1\nmode: none\nmax_age: " v "\n", "bad max_age", 3)
	AGE("9999999999", MAX_AGE_MAX);
	AGE("00086400", 86400);
	AGE("0", 0);
	AGE("0000000000", 0);
	AGE("31557600", 31557600);
	AGE("31557601", MAX_AGE_MAX);
	AGE("4294967295", MAX_AGE_MAX);
	AGE("4294967296", MAX_AGE_MAX);
	AGE("1", 1);
	BADAGE("86_400");
	BADAGE("-1");
	BADAGE("+5");
	BADAGE("1e5");
	BADAGE("86 400");
	BADAGE("0x10");
	BADAGE("12345678901");
	BADAGE("00000000000");
	BADAGE("");
	BADAGE("\xd9\xa1");      /* ARABIC-INDIC DIGIT ONE */
	BADAGE("99999999999999999999999999999999999999999999999999999999999");
	/* POL-10 and the required fields */
	BAD("version: STSv1\nmode: enforce\nmax_age: 5\n", "missing mx", 0);
	BAD("version: STSv1\nmode: testing\nmax_age: 5\n", "missing mx", 0);
	CHECK_INT(parse("version: STSv1\nmode: none\nmax_age: 5\n"), 0);
	BAD("mode: none\nmax_age: 5\n", "missing version", 0);
	BAD("version: STSv1\nmax_age: 5\n", "missing mode", 0);
	BAD("version: STSv1\nmode: none\n", "missing max_age", 0);
	BAD("version: STSv1\nmode: none\nmax-age: 5\n", "missing max_age", 0);
	BAD("", "missing version", 0);
	BAD("\n\n\n", "missing version", 0);
	/* mode none keeps and checks its mx */
	CHECK_INT(parse("version: STSv1\nmode: none\nmx: a.example.com\nmax_age: 5\n"), 0);
	CHECK_INT(pol.nmx, 1);
	BAD("version: STSv1\nmode: none\nmx: a\nmax_age: 5\n", "bad mx", 3);
}

struct mxcase {
	const char *in;
	const char *out;        /* NULL: invalid */
};

static const struct mxcase mx_cases[] = {
	{ "mail.example.com", "mail.example.com" },
	{ "MX1.Example.COM.", "mx1.example.com" },
	{ "*.example.net", "*.example.net" },
	{ "*.Example.NET.", "*.example.net" },
	{ "*.a.b.c.example", "*.a.b.c.example" },
	{ "x--y.example", "x--y.example" },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
	{ "1mx.example.com", "1mx.example.com" },
	{ "mx.123example", "mx.123example" },
	{ "mx.example.com servername=evil", NULL },
	{ "", NULL },
	{ "*", NULL },
	{ "*.", NULL },
	{ "*..", NULL },
	{ ".", NULL },
	{ "**.x.net", NULL },
	{ "*x.example.net", NULL },
	{ "a.*.example.net", NULL },
	{ "*.*.example.net", NULL },
	{ "*.com", NULL },
	{ "com", NULL },
	{ "nexthop", NULL },
	{ "dot-nexthop", NULL },
	{ "hostname", NULL },
	{ "192.0.2.1", NULL },
	{ "mx.example.123", NULL },
	{ "*.192.0.2", NULL },
	{ "[192.0.2.1]", NULL },
	{ "a,b.example", NULL },
	{ "a.example,b.example", NULL },
	{ "a:b.example", NULL },
	{ "a.example:25", NULL },
	{ "a=b.example", NULL },
	{ "{a}.example", NULL },
	{ "a}.example", NULL },
	{ "a b.example", NULL },
	{ "a\tb.example", NULL },
	{ "a_b.example", NULL },
	{ "-a.example", NULL },
	{ "a-.example", NULL },
	{ "a..example", NULL },
	{ ".a.example", NULL },
	{ "mx.example.com..", NULL },
	{ "b\xc3\xbc" "cher.example", NULL },
	{ "mx.example.com/", NULL },
	{ "mx.example.com;", NULL },
};

static void
test_mx(void)
{
	char buf[1200];
	const char *lab63 =
	    "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij"
	    "abcdefghij" "abcdefghij" "abc";
	size_t i;

	for (i = 0; i < sizeof mx_cases / sizeof mx_cases[0]; i++) {
		const struct mxcase *m = &mx_cases[i];
		int rc;

		snprintf(buf, sizeof buf, "version: STSv1\nmode: enforce\nmax_age: 5\nmx: %s\n", m->in);
		rc = parse(buf);
		if ((rc == 0) != (m->out != NULL))
			printf("mx case %zu \"%s\": %d %s\n", i, m->in, rc, perr.reason);
		if (m->out != NULL) {
			CHECK_INT(rc, 0);
			CHECK_INT(pol.nmx, 1);
			CHECK_STR(mxat(0), m->out);
		} else {
			CHECK_INT(rc, -1);
			/* "mx:" with an empty value is "bad mx" too */
			CHECK_STR(perr.reason, "bad mx");
			CHECK_INT(perr.line, 4);
		}
	}
	/* label and name lengths */
	snprintf(buf, sizeof buf, "version: STSv1\nmode: enforce\nmax_age: 5\nmx: %s.example\n", lab63);
	CHECK_INT(parse(buf), 0);
	snprintf(buf, sizeof buf, "version: STSv1\nmode: enforce\nmax_age: 5\nmx: %sd.example\n", lab63);
	BAD(buf, "bad mx", 4);
	/* 253 octets, with "*." and a trailing dot: the longest pattern */
	snprintf(buf, sizeof buf, "version: STSv1\nmode: enforce\nmax_age: 5\nmx: *.%s.%s.%s.%.59s.x.\n",
	    lab63, lab63, lab63, lab63);
	CHECK_INT(parse(buf), 0);
	CHECK_INT(strlen(mxat(0)), MX_PATTERN_MAX);
	snprintf(buf, sizeof buf, "version: STSv1\nmode: enforce\nmax_age: 5\nmx: *.%s.%s.%s.%.60s.x\n",
	    lab63, lab63, lab63, lab63);
	BAD(buf, "bad mx", 4);
	/* POL-9: a single bad mx spoils the policy, wherever it is */
	BAD("version: STSv1\nmode: enforce\nmx: a.example.com\nmx: b.example.com x\nmax_age: 5\n",
	    "bad mx", 4);
	BAD("mx: *\nversion: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 5\n", "bad mx", 1);
	/* POL-11: case-insensitive dedupe in first-seen order */
	CHECK_INT(parse("version: STSv1\nmode: enforce\nmx: B.example.com\nmx: a.example.com\n"
	    "mx: b.EXAMPLE.com.\nmx: *.example.com\nmx: A.Example.Com\nmx: example.com\nmax_age: 5\n"), 0);
	CHECK_INT(pol.nmx, 4);
	CHECK_STR(mxat(0), "b.example.com");
	CHECK_STR(mxat(1), "a.example.com");
	CHECK_STR(mxat(2), "*.example.com");
	CHECK_STR(mxat(3), "example.com");
}

/* A policy of n distinct mx lines "mx: m<i>.<suffix>" into buf */
static size_t
many_mx(char *buf, size_t cap, int n, const char *suffix)
{
	size_t o = (size_t)snprintf(buf, cap, "version: STSv1\nmode: enforce\nmax_age: 604800\n");
	int i;

	for (i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "mx: m%d.%s\n", i, suffix);
	return o;
}

/* The longest answer for pol (what the parser bounds, PFX-8) */
static size_t
longest(void)
{
	static char dom[DOMAIN_MAX + 1];
	struct policy_reply r;
	size_t i;

	for (i = 0; i < DOMAIN_MAX; i++)
		dom[i] = i % 64 == 63 ? '.' : 'a';
	memset(&r, 0, sizeof r);
	r.mode = STS_ENFORCE;
	r.max_age = MAX_AGE_MAX;
	r.mx = pol.mx;
	r.mxlen = pol.mxlen;
	r.domain = dom;
	r.sni = r.tlsrpt = 1;
	return policy_answer(&r, NULL, 0);
}

static void
test_mx_count(void)
{
	static char buf[HTTP_BODY_MAX + 1], out[NS_REPLY_MAX + 1];
	const char *lab63 =
	    "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij"
	    "abcdefghij" "abcdefghij" "abc";
	struct policy_reply r;
	size_t o, n;
	int i, lo, hi;

	/* PFX-8, POL-11: no fixed cap; 100 and 1000 mx are valid */
	many_mx(buf, sizeof buf, 100, "example.com");
	CHECK_INT(parse(buf), 0);
	CHECK_INT(pol.nmx, 100);
	CHECK_STR(mxat(99), "m99.example.com");
	/* repeats are dropped and cost nothing */
	o = many_mx(buf, sizeof buf, 100, "example.com");
	for (i = 0; i < 3000; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "mx: M%d.example.com.\n", i % 100);
	CHECK_INT(parse(buf), 0);
	CHECK_INT(pol.nmx, 100);
	many_mx(buf, sizeof buf, 1000, "ex.org");
	CHECK_INT(parse(buf), 0);
	CHECK_INT(pol.nmx, 1000);
	CHECK_STR(mxat(999), "m999.ex.org");
	CHECK(longest() <= NS_REPLY_MAX);
	/* the 1000-mx enforce answer, without and with TLSRPT, fits Postfix */
	memset(&r, 0, sizeof r);
	r.mode = STS_ENFORCE;
	r.max_age = pol.max_age;
	r.mx = pol.mx;
	r.mxlen = pol.mxlen;
	r.domain = "example.org";
	r.sni = 1;
	n = policy_answer(&r, out, sizeof out);
	CHECK(n > 0 && n < REPLY_MAX);
	CHECK_INT(n, strlen(out));
	CHECK(strstr(out, ":m999.ex.org servername=hostname") != NULL);
	r.tlsrpt = 1;
	n = policy_answer(&r, out, sizeof out);
	CHECK(n > REPLY_MAX && n <= NS_REPLY_MAX);
	CHECK(strstr(out, " { policy_string = mx: m999.ex.org } { policy_string = max_age: 604800 }")
	    != NULL);
	CHECK_INT(policy_answer(&r, NULL, 0), n);
	CHECK_INT(policy_answer(&r, out, n), 0);       /* and its NUL */
	CHECK_INT(policy_answer(&r, out, n + 1), n);

	/* the largest count that fits, found by bisection: every count up to
	 * it is valid, one more is invalid with a reason (PFX-8) */
	lo = 1000;
	hi = 8000;
	while (hi - lo > 1) {
		int mid = (lo + hi) / 2;
		many_mx(buf, sizeof buf, mid, "ex.org");
		if (parse(buf) == 0)
			lo = mid;
		else
			hi = mid;
	}
	many_mx(buf, sizeof buf, lo, "ex.org");
	CHECK_INT(parse(buf), 0);
	CHECK_INT(pol.nmx, lo);
	CHECK(lo > 1250 && lo < 1400);   /* 79 bytes per "m1234.ex.org" */
	n = longest();
	CHECK(n <= NS_REPLY_MAX && n > NS_REPLY_MAX - 60);
	many_mx(buf, sizeof buf, lo + 1, "ex.org");
	CHECK_INT(parse(buf), -1);
	CHECK_STR(perr.reason, "too many mx");
	CHECK_INT(pol.nmx, 0);
	{
		char why[200];
		policy_error_explain(&perr, why, sizeof why);
		CHECK(strstr(why, "100000-byte") != NULL);
	}
	/* a body of short mx lines up to the 64 KiB limit: refused early,
	 * on the line that crossed */
	o = many_mx(buf, sizeof buf, 0, "");
	for (i = 0; o + 16 < HTTP_BODY_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "mx:%c%c.%c%c\n", 'a' + i % 26,
		    'a' + i / 26 % 26, 'a' + i / 676 % 26, 'a' + i / 17576 % 26);
	CHECK_INT(parse_n(buf, o), -1);
	CHECK_STR(perr.reason, "too many mx");
	CHECK(perr.line > 3 && perr.line < 3000);

	/* the bound holds whatever the mode (it may come last) */
	o = (size_t)snprintf(buf, sizeof buf, "version: STSv1\nmode: none\nmax_age: 5\n");
	for (i = 0; i < 2500; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "mx: m%d.ex.org\n", i);
	CHECK_INT(parse(buf), -1);
	CHECK_STR(perr.reason, "too many mx");

	/* 32 mx of 253 characters each */
	o = (size_t)snprintf(buf, sizeof buf, "version: STSv1\nmode: enforce\nmax_age: 5\n");
	for (i = 0; i < 32; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "mx: %s.%s.%s.%.57s%02d.x\n",
		    lab63, lab63, lab63, lab63, i);
	CHECK_INT(parse(buf), 0);
	CHECK_INT(pol.nmx, 32);
	CHECK_INT(strlen(mxat(0)), DOMAIN_MAX);
	CHECK_INT(strlen(mxat(31)), DOMAIN_MAX);
	{
		size_t want = 16 + 32 * DOMAIN_MAX + 31 + 20;

		memset(&r, 0, sizeof r);
		r.mode = STS_ENFORCE;
		r.mx = pol.mx;
		r.mxlen = pol.mxlen;
		r.sni = 1;
		n = policy_answer(&r, out, sizeof out);
		CHECK_INT(n, want);
		CHECK_INT(strlen(out), want);
		CHECK_INT(policy_answer(&r, out, want + 1), want);
		CHECK_INT(policy_answer(&r, out, want), 0);
	}
}

/* ---- hostile input ------------------------------------------------- */

static uint32_t rng = 12345;

static uint32_t
rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static void
test_hostile(void)
{
	static char buf[70000];
	size_t i, n = strlen(rfc_policy), agepos;
	int bad = 0;

	/* every prefix of the RFC policy: valid exactly once max_age has a
	 * digit (a truncated body would be accepted: TLS-8 is why the
	 * transport must never hand over a cut body) */
	agepos = (size_t)(strstr(rfc_policy, "max_age: ") - rfc_policy) + 9;
	for (i = 0; i <= n; i++) {
		int rc = parse_n(rfc_policy, i);
		char digits[16] = "";

		if ((rc == 0) != (i > agepos))
			bad++;
		if (rc == 0) {
			memcpy(digits, rfc_policy + agepos, i - agepos);
			digits[i - agepos] = '\0';
			if (pol.max_age != (uint32_t)strtoul(digits, NULL, 10) || pol.nmx != 3)
				bad++;
		} else if (perr.reason == NULL || pol.nmx != 0) {
			bad++;
		}
	}
	CHECK_INT(bad, 0);

	/* 64 KiB of random bytes: invalid, never a crash */
	for (i = 0; i < 65536; i++)
		buf[i] = (char)rnd();
	CHECK_INT(parse_n(buf, 65536), -1);
	CHECK(perr.reason != NULL && perr.line >= 1);
	/* 64 KiB of random printable lines: still invalid */
	for (i = 0; i < 65536; i++)
		buf[i] = rnd() % 13 == 0 ? '\n' : (char)(0x20 + rnd() % 95);
	CHECK_INT(parse_n(buf, 65536), -1);
	/* 64 KiB of one long line without a colon */
	memset(buf, 'a', 65536);
	CHECK_INT(parse_n(buf, 65536), -1);
	CHECK_STR(perr.reason, "malformed line");
	CHECK_INT(perr.line, 1);
	/* 64 KiB of NULs */
	memset(buf, 0, 65536);
	CHECK_INT(parse_n(buf, 65536), -1);
	CHECK_STR(perr.reason, "control character");
	/* 64 KiB of newlines */
	memset(buf, '\n', 65536);
	CHECK_INT(parse_n(buf, 65536), -1);
	CHECK_STR(perr.reason, "missing version");
	/* 64 KiB of CRs */
	memset(buf, '\r', 65536);
	CHECK_INT(parse_n(buf, 65536), -1);
	CHECK_STR(perr.reason, "bare CR");
	/* a valid policy padded to 64 KiB with extension lines, line count */
	n = (size_t)snprintf(buf, sizeof buf, "%s", rfc_policy);
	while (n + 20 < 65536)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "ext: %08u\n", (unsigned)n);
	check_rfc(parse_n(buf, n));
	n += (size_t)snprintf(buf + n, sizeof buf - n, "oops\n");
	CHECK_INT(parse_n(buf, n), -1);
	CHECK_STR(perr.reason, "malformed line");
	CHECK(perr.line > 4000);
	/* a huge max_age */
	n = (size_t)snprintf(buf, sizeof buf, "version: STSv1\nmode: none\nmax_age: ");
	memset(buf + n, '9', 60000);
	n += 60000;
	CHECK_INT(parse_n(buf, n), -1);
	CHECK_STR(perr.reason, "bad max_age");
	/* a huge mx */
	n = (size_t)snprintf(buf, sizeof buf, "version: STSv1\nmode: none\nmax_age: 1\nmx: ");
	for (i = 0; i < 30000; i++) {
		buf[n++] = 'a';
		buf[n++] = '.';
	}
	buf[n++] = 'b';
	CHECK_INT(parse_n(buf, n), -1);
	CHECK_STR(perr.reason, "bad mx");
	/* a huge name */
	memset(buf, 'n', 60000);
	buf[60000] = ':';
	CHECK_INT(parse_n(buf, 60001), -1);
	CHECK_STR(perr.reason, "malformed line");
	/* NULL buffer is an empty policy */
	CHECK_INT(policy_parse(NULL, 10, &pol, &perr), -1);
	CHECK_STR(perr.reason, "missing version");

	/* random mutations of the RFC policy: never a crash, and a valid
	 * result only ever holds clean patterns */
	bad = 0;
	for (i = 0; i < 20000; i++) {
		size_t k, len = strlen(rfc_policy);
		int m, j;

		memcpy(buf, rfc_policy, len);
		for (m = 0; m < 3 && len > 0; m++) {
			k = rnd() % len;
			switch (rnd() % 3) {
			case 0:
				buf[k] = (char)rnd();
				break;
			case 1:
				buf[k] = "\r\n\t :.*-Aa0\0,={}"[rnd() % 16];
				break;
			default:
				len = k;
				break;
			}
		}
		if (parse_n(buf, len) != 0)
			continue;
		for (j = 0; j < pol.nmx; j++)
			if (strpbrk(mxat(j), " \t,:={}\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL ||
			    strlen(mxat(j)) < 3)
				bad++;
	}
	CHECK_INT(bad, 0);
}

/* ---- the answer ----------------------------------------------------- */

static size_t
answer(enum sts_mode mode, int strict, int sni, const char *a, const char *b, char *out, size_t cap)
{
	char packed[1024];
	struct policy_reply r;
	size_t n = 0;

	memset(&r, 0, sizeof r);
	if (a != NULL) {
		memcpy(packed, a, strlen(a) + 1);
		n += strlen(a) + 1;
	}
	if (b != NULL) {
		memcpy(packed + n, b, strlen(b) + 1);
		n += strlen(b) + 1;
	}
	r.mode = mode;
	r.max_age = 86400;
	r.mx = packed;
	r.mxlen = n;
	r.strict_testing = strict;
	r.sni = sni;
	return policy_answer(&r, out, cap);
}

static void
test_answer(void)
{
	char out[512];
	struct policy_reply r;
	const char *pfx1 = "OK secure match=mail.example.com:.example.net servername=hostname";
	size_t n;

	/* PFX-1 exact string (65 bytes, "65:...," on the wire) */
	n = answer(STS_ENFORCE, 0, 1, "mail.example.com", "*.example.net", out, sizeof out);
	CHECK_INT(n, 65);
	CHECK_STR(out, pfx1);
	{
		char wire[600];
		snprintf(wire, sizeof wire, "%zu:%s,", n, out);
		CHECK_STR(wire, "65:OK secure match=mail.example.com:.example.net servername=hostname,");
	}
	/* PFX-5 off */
	n = answer(STS_ENFORCE, 0, 0, "mail.example.com", "*.example.net", out, sizeof out);
	CHECK_STR(out, "OK secure match=mail.example.com:.example.net");
	CHECK_INT(n, 45);
	/* CACHE-11 strict_testing */
	n = answer(STS_TESTING, 1, 1, "mail.example.com", "*.example.net", out, sizeof out);
	CHECK_STR(out, pfx1);
	/* PFX-7: NOTFOUND cases */
	strcpy(out, "untouched");
	CHECK_INT(answer(STS_TESTING, 0, 1, "mail.example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_NONE, 0, 1, "mail.example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_NONE, 1, 1, "mail.example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer((enum sts_mode)7, 1, 1, "mail.example.com", NULL, out, sizeof out), 0);
	CHECK_STR(out, "untouched");
	/* SM-4, PFX-3: never OK with empty data, never an empty match= */
	CHECK_INT(answer(STS_ENFORCE, 0, 1, NULL, NULL, out, sizeof out), 0);
	memset(&r, 0, sizeof r);
	r.mode = STS_ENFORCE;
	r.mxlen = 5;
	CHECK_INT(policy_answer(&r, out, sizeof out), 0);      /* mx NULL */
	r.mx = "a.b.c";                 /* not NUL-terminated within mxlen */
	CHECK_INT(policy_answer(&r, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 0, "", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "a.example.com", "", out, sizeof out), 0);
	/* SEC-8: nothing unvalidated gets through */
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "mx.example.com servername=evil", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "a.example.com,b.example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "a.example.com:b.example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "{a}.example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "a=b.example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "A.example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "a.example.com.", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, ".example.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "*", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "*.com", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "hostname", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "192.0.2.1", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "a.example.com\n", NULL, out, sizeof out), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "a.example.com", "b\xc3\xbc.example", out, sizeof out), 0);
	/* PFX-2 mapping; PFX-3 repeats are dropped by the parser */
	answer(STS_ENFORCE, 0, 0, "*.example.net", "example.net", out, sizeof out);
	CHECK_STR(out, "OK secure match=.example.net:example.net");
	CHECK_INT(parse("version: STSv1\nmode: enforce\nmx: a.example.net\nmx: A.example.net.\n"
	    "max_age: 5\n"), 0);
	memset(&r, 0, sizeof r);
	r.mode = pol.mode;
	r.mx = pol.mx;
	r.mxlen = pol.mxlen;
	policy_answer(&r, out, sizeof out);
	CHECK_STR(out, "OK secure match=a.example.net");
	/* cap: the reply and its NUL must fit */
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "mail.example.com", "*.example.net", out, 66), 65);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "mail.example.com", "*.example.net", out, 65), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "mail.example.com", "*.example.net", out, 10), 0);
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "mail.example.com", "*.example.net", out, 0), 0);
	/* out NULL: the length alone */
	CHECK_INT(answer(STS_ENFORCE, 0, 1, "mail.example.com", "*.example.net", NULL, 0), 65);
	/* RFC example end to end, and the PFX-6 rules on the result */
	CHECK_INT(parse(rfc_policy), 0);
	memset(&r, 0, sizeof r);
	r.mode = pol.mode;
	r.mx = pol.mx;
	r.mxlen = pol.mxlen;
	r.sni = 1;
	n = policy_answer(&r, out, sizeof out);
	CHECK_STR(out, "OK secure match=mail.example.com:.example.net:backupmx.example.com"
	    " servername=hostname");
	CHECK_INT(n, strlen(out));
	{
		const char *p = strstr(out, "servername=");
		int spaces = 0;
		CHECK(p != NULL && strstr(p + 1, "servername=") == NULL);
		CHECK(strstr(out, "policy_") == NULL);
		CHECK(strpbrk(out, ",{}\r\n") == NULL);
		for (p = out; *p != '\0'; p++)
			spaces += *p == ' ';
		CHECK_INT(spaces, 3);
	}
}

/* ---- TLSRPT attributes (PFX-4) and Postfix's rules (PFX-6) ------------ */

/* A name Postfix's valid_hostname() takes: LDH labels of 1-63, <= 253 */
static int
pf_hostname(const char *s, size_t n)
{
	size_t i, lab = 0;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';
		if (c == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return 0;
			lab = 0;
		} else if (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c == '-' && lab > 0)) && ++lab <= 63)
			continue;
		else
			return 0;
	}
	return 1;
}

static int
val_is(const char *v, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(v, s, n) == 0;
}

/*
 * Read the data of an "OK" reply the way Postfix's smtp_tls_policy.c
 * does: the level, then attributes "name=value" or "{ name = value }".
 * NULL when Postfix would take it, else the rule it breaks.
 */
static const char *
pf_check(const char *reply)
{
	static const char *const once[] = { "servername", "policy_type", "policy_domain",
		"policy_failure" };
	int seen[4] = { 0, 0, 0, 0 }, tlsrpt = 0, k;
	const char *p;

	if (strncmp(reply, "OK ", 3) != 0)
		return "not OK";
	p = reply + 3;
	if (strncmp(p, "secure", 6) != 0 || (p[6] != ' ' && p[6] != '\0'))
		return "level";
	for (p += 6; *p != '\0';) {
		const char *name, *val, *e;
		size_t nn, vn;

		if (*p != ' ')
			return "separator";
		p++;
		if (*p == '{') {
			if ((e = strchr(p, '}')) == NULL || strncmp(p, "{ ", 2) != 0 || e[-1] != ' ')
				return "brace";
			name = p + 2;
			if ((val = strstr(name, " = ")) == NULL || val > e)
				return "brace";
			nn = (size_t)(val - name);
			val += 3;
			vn = (size_t)(e - 1 - val);
			p = e + 1;
		} else {
			name = p;
			for (e = p; *e != '\0' && *e != ' '; e++)
				;
			if ((val = memchr(name, '=', (size_t)(e - p))) == NULL)
				return "no =";
			nn = (size_t)(val - name);
			val++;
			vn = (size_t)(e - val);
			p = e;
			if (memchr(val, '{', vn) != NULL || memchr(val, '}', vn) != NULL)
				return "brace in value";
		}
		if (vn == 0)
			return "empty value";
		if (memchr(val, '\n', vn) != NULL || memchr(val, '\r', vn) != NULL)
			return "control character";
		for (k = 0; k < 4; k++)
			if (val_is(name, nn, once[k]) && seen[k]++ > 0)
				return "attribute twice";
		if (val_is(name, nn, "match")) {
			if (val[0] == ':' || val[vn - 1] == ':' || strstr(val, "::") != NULL)
				return "empty match pattern";
		} else if (val_is(name, nn, "servername")) {
			if (!pf_hostname(val, vn))
				return "servername";
		} else if (val_is(name, nn, "policy_type")) {
			if (!val_is(val, vn, "sts") && !val_is(val, vn, "no-policy-found"))
				return "policy_type";
		} else if (val_is(name, nn, "policy_domain")) {
			if (!pf_hostname(val, vn))
				return "policy_domain";
			tlsrpt = 1;
		} else if (val_is(name, nn, "policy_failure")) {
			if (!val_is(val, vn, "sts-policy-fetch-error") &&
			    !val_is(val, vn, "sts-policy-invalid") &&
			    !val_is(val, vn, "sts-webpki-invalid") &&
			    !val_is(val, vn, "validation-failure"))
				return "policy_failure";
			tlsrpt = 1;
		} else if (val_is(name, nn, "mx_host_pattern") ||
		    val_is(name, nn, "policy_string")) {
			tlsrpt = 1;
		} else if (val_is(name, nn, "policy_ttl")) {
			return "policy_ttl";
		} else {
			return "unknown attribute";
		}
	}
	if (tlsrpt && !seen[1])
		return "TLSRPT attribute without policy_type";
	return NULL;
}

static void
test_tlsrpt(void)
{
	static const char want[] = "OK secure match=mail.example.com:.example.net:"
	    "backupmx.example.com servername=hostname policy_type=sts policy_domain=example.com "
	    "mx_host_pattern=mail.example.com mx_host_pattern=*.example.net "
	    "mx_host_pattern=backupmx.example.com { policy_string = version: STSv1 } "
	    "{ policy_string = mode: enforce } { policy_string = mx: mail.example.com } "
	    "{ policy_string = mx: *.example.net } { policy_string = mx: backupmx.example.com } "
	    "{ policy_string = max_age: 604800 }";
	static char out[NS_REPLY_MAX + 1], body[4096], wire[NS_REPLY_MAX + 16];
	static const char *const bad[] = {
		"OK secure match=a.example servername=hostname servername=hostname",
		"OK secure policy_type=sts policy_type=sts policy_domain=a.example",
		"OK secure policy_type=dane policy_domain=a.example",
		"OK secure policy_type=sts policy_domain=-a.example",
		"OK secure servername=a..example",
		"OK secure policy_type=sts policy_domain=a.example policy_failure=oops",
		"OK secure match=a.example mx_host_pattern=a.example",
		"OK secure match=a.example { policy_string = mode: enforce }",
		"OK secure policy_failure=sts-policy-invalid",
		"OK secure match=a.example policy_type=sts policy_domain=a.example policy_ttl=5",
		"OK secure match=",
		"OK secure match=a.example::b.example",
		"OK secure match=a.example policy_type=sts policy_domain=a.example "
		    "{ policy_string = mx: a } b }",
		"OK may",
	};
	static const char *const pats[] = { "mail.example.com", "*.example.net", "a-b.c.d.example",
		"x.y", "*.m.example.org", "b.example.com" };
	static const char *const doms[] = { "example.com", "a.b", "xn--bcher-kva.example",
		"a-1.example.net" };
	static const enum fetch_class cls[] = { FETCH_ERR_FETCH, FETCH_ERR_WEBPKI,
		FETCH_ERR_POLICY };
	static const char *const clsname[] = { "sts-policy-fetch-error", "sts-webpki-invalid",
		"sts-policy-invalid" };
	struct policy_reply r;
	size_t n, w;
	int i, k, bads = 0, checked = 0;

	/* PFX-4: the RFC 8461 3.2 example, byte for byte, on the wire too */
	CHECK_INT(parse(rfc_policy), 0);
	memset(&r, 0, sizeof r);
	r.mode = pol.mode;
	r.max_age = pol.max_age;
	r.mx = pol.mx;
	r.mxlen = pol.mxlen;
	r.domain = "example.com";
	r.sni = r.tlsrpt = 1;
	n = policy_answer(&r, out, sizeof out);
	CHECK_STR(out, want);
	CHECK_INT(n, 457);
	w = ns_write(wire, sizeof wire, out, n);
	CHECK_MEM(wire, w, "457:OK secure match=mail.example.com:.example.net:"
	    "backupmx.example.com servername=hostname policy_type=sts policy_domain=example.com "
	    "mx_host_pattern=mail.example.com mx_host_pattern=*.example.net "
	    "mx_host_pattern=backupmx.example.com { policy_string = version: STSv1 } "
	    "{ policy_string = mode: enforce } { policy_string = mx: mail.example.com } "
	    "{ policy_string = mx: *.example.net } { policy_string = mx: backupmx.example.com } "
	    "{ policy_string = max_age: 604800 },");
	CHECK(pf_check(out) == NULL);
	CHECK_INT(policy_answer(&r, NULL, 0), 457);
	/* tlsrpt off: not a byte of it */
	r.tlsrpt = 0;
	n = policy_answer(&r, out, sizeof out);
	CHECK_STR(out, "OK secure match=mail.example.com:.example.net:backupmx.example.com"
	    " servername=hostname");
	/* the max_age as applied: capped, without leading zeros */
	CHECK_INT(parse("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 09999999999\n"), -1);
	CHECK_INT(parse("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 9999999999\n"), 0);
	r.mode = pol.mode;
	r.max_age = pol.max_age;
	r.mx = pol.mx;
	r.mxlen = pol.mxlen;
	r.tlsrpt = r.strict_testing = 1;
	r.sni = 0;
	policy_answer(&r, out, sizeof out);
	CHECK_STR(out, "OK secure match=a.example policy_type=sts policy_domain=example.com "
	    "mx_host_pattern=a.example { policy_string = version: STSv1 } "
	    "{ policy_string = mode: testing } { policy_string = mx: a.example } "
	    "{ policy_string = max_age: 31557600 }");
	/* policy_domain must be a host name, or there is no answer */
	r.domain = "exa mple.com";
	CHECK_INT(policy_answer(&r, out, sizeof out), 0);
	r.domain = "example.com}";
	CHECK_INT(policy_answer(&r, out, sizeof out), 0);
	r.domain = NULL;
	CHECK_INT(policy_answer(&r, out, sizeof out), 0);
	r.tlsrpt = 0;               /* not needed without tlsrpt */
	CHECK(policy_answer(&r, out, sizeof out) > 0);

	/* RPT-4: the fetch_failure=fail answers */
	for (i = 0; i < 3; i++) {
		char exp[200];
		n = policy_failure_answer("example.com", cls[i], out, sizeof out);
		snprintf(exp, sizeof exp, "OK secure policy_type=sts policy_domain=example.com "
		    "policy_failure=%s", clsname[i]);
		CHECK_STR(out, exp);
		CHECK_INT(n, strlen(exp));
		CHECK(pf_check(out) == NULL);
		CHECK_INT(policy_failure_answer("example.com", cls[i], out, strlen(exp)), 0);
	}
	CHECK_INT(policy_failure_answer("example.com", FETCH_OK, out, sizeof out), 0);
	CHECK_INT(policy_failure_answer("a..example", FETCH_ERR_FETCH, out, sizeof out), 0);
	CHECK_INT(policy_failure_answer("a example", FETCH_ERR_FETCH, out, sizeof out), 0);

	/* the checker can fail: each of these breaks one rule */
	for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++)
		bads += pf_check(bad[i]) != NULL;
	CHECK_INT(bads, (int)(sizeof bad / sizeof bad[0]));

	/* PFX-6 on many generated answers: every mode, setting, domain and
	 * pattern mix, parsed through policy_parse first */
	for (i = 0; i < 4000; i++) {
		size_t o = (size_t)snprintf(body, sizeof body, "version: STSv1\nmode: %s\n",
		    i % 3 == 0 ? "enforce" : i % 3 == 1 ? "testing" : "none");
		const char *why;
		for (k = 0; k <= i % 7; k++)
			o += (size_t)snprintf(body + o, sizeof body - o, "mx: %s\n",
			    pats[(i / 7 + k * 5) % 6]);
		o += (size_t)snprintf(body + o, sizeof body - o, "max_age: %d\n", i * 7919);
		if (parse_n(body, o) < 0) {
			bads = -1;
			break;
		}
		memset(&r, 0, sizeof r);
		r.mode = pol.mode;
		r.max_age = pol.max_age;
		r.mx = pol.mx;
		r.mxlen = pol.mxlen;
		r.domain = doms[i % 4];
		r.strict_testing = i / 3 % 2;
		r.sni = i / 6 % 2;
		r.tlsrpt = i / 12 % 2;
		n = policy_answer(&r, out, sizeof out);
		if (n == 0)
			continue;
		checked++;
		why = pf_check(out);
		if (why != NULL) {
			printf("FAIL: %s: %s\n", why, out);
			bads = -1;
			break;
		}
		/* one mx_host_pattern and one policy_string mx per pattern */
		if (r.tlsrpt) {
			int hp = 0, ps = 0;
			const char *q;
			for (q = out; (q = strstr(q, "mx_host_pattern=")) != NULL; q++)
				hp++;
			for (q = out; (q = strstr(q, "policy_string = mx: ")) != NULL; q++)
				ps++;
			if (hp != pol.nmx || ps != pol.nmx)
				bads = -1;
		}
	}
	CHECK(bads >= 0);
	CHECK(checked > 1500);
}

static void
test_strings(void)
{
	CHECK_STR(policy_mode_str(STS_NONE), "none");
	CHECK_STR(policy_mode_str(STS_TESTING), "testing");
	CHECK_STR(policy_mode_str(STS_ENFORCE), "enforce");
	CHECK_STR(policy_mode_str((enum sts_mode)9), "unknown");
	CHECK_STR(http_class_str(FETCH_OK), "ok");
	CHECK_STR(http_class_str(FETCH_ERR_FETCH), "sts-policy-fetch-error");
	CHECK_STR(http_class_str(FETCH_ERR_WEBPKI), "sts-webpki-invalid");
	CHECK_STR(http_class_str(FETCH_ERR_POLICY), "sts-policy-invalid");
	CHECK_STR(http_class_str((enum fetch_class)9), "unknown");
}

/* The explanations for a person (issue 12): reason kinds and the text */
static void
txt_why(const char *rec, enum txt_why want, const char *text)
{
	char id[TXT_ID_MAX + 1], out[200];
	struct txt_error e;
	static struct dns_result r;

	memset(&r, 0, sizeof r);
	add_txt(&r, rec, strlen(rec), 0);
	CHECK_INT(policy_txt_select(&r, id, &e), TXT_NONE);
	CHECK_INT(e.why, want);
	policy_txt_explain(&e, "_mta-sts.example.com", out, sizeof out);
	CHECK_STR(out, text);
}

static void
pol_why(const char *body, int line, const char *reason, const char *text)
{
	struct policy_error pe;
	char out[200];

	CHECK_INT(policy_parse(guarded(body, strlen(body)), strlen(body), &pol, &pe), -1);
	CHECK_INT(pe.line, line);
	CHECK_STR(pe.reason, reason);
	policy_error_explain(&pe, out, sizeof out);
	CHECK_STR(out, text);
}

static void
test_explain(void)
{
	char id[TXT_ID_MAX + 1], out[200];
	struct txt_error e;
	static struct dns_result r;
	size_t k;

	txt_why("v=STSv1; id=0123456789012345678901234567890123456789", TXT_WHY_ID_LONG,
	    "TXT id has 40 characters (at most 32)");
	txt_why("v=STSv1; id=", TXT_WHY_ID_EMPTY, "TXT id is empty");
	txt_why("v=STSv1; id=ab-c", TXT_WHY_ID_CHAR,
	    "TXT id has a character other than letters and digits (byte 15 of the record)");
	txt_why("v=STSv1; x=y", TXT_WHY_NO_ID, "STSv1 TXT record without id");
	txt_why("v=STSv1; id=a b", TXT_WHY_SYNTAX, "STSv1 TXT record malformed at byte 15");
	txt_why("v=spf1 -all", TXT_WHY_NO_STS,
	    "no STSv1 TXT record at _mta-sts.example.com (only other TXT records)");
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	add_txt(&r, "v=STSv1; id=b", 13, 0);
	CHECK_INT(policy_txt_select(&r, id, &e), TXT_NONE);
	CHECK_INT(e.why, TXT_WHY_MANY);
	policy_txt_explain(&e, "_mta-sts.example.com", out, sizeof out);
	CHECK_STR(out, "two STSv1 TXT records");
	add_txt(&r, "v=STSv1; id=c", 13, 0);
	CHECK_INT(policy_txt_select(&r, id, &e), TXT_NONE);
	policy_txt_explain(&e, "_mta-sts.example.com", out, sizeof out);
	CHECK_STR(out, "3 STSv1 TXT records");
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=STSv1; id=a", 13, 1);
	CHECK_INT(policy_txt_select(&r, id, &e), TXT_NONE);
	policy_txt_explain(&e, "_mta-sts.example.com", out, sizeof out);
	CHECK_STR(out, "STSv1 TXT record over 4096 bytes");
	memset(&r, 0, sizeof r);
	add_txt(&r, "v=STSv1; id=a", 13, 0);
	CHECK_INT(policy_txt_select(&r, id, &e), TXT_FOUND);
	CHECK_INT(e.why, TXT_WHY_OK);

	static const struct {
		const char *body;
		int line;
		const char *reason, *text;
	} pw[] = {
		{ "version: STSv1\nmode: enforce\nmax_age: 12x\nmx: a.example\n", 3, "bad max_age",
		    "policy line 3: max_age not a number" },
		{ "version: STSv1\nmode: enforce\nmax_age: 12345678901\nmx: a.example\n", 3, "bad max_age",
		    "policy line 3: max_age has more than 10 digits" },
		{ "version: STSv1\nmx: 10.0.0.1\n", 2, "bad mx",
		    "mx line 2: '10.0.0.1' is an IP address" },
		{ "version: STSv1\nmx: [2001:db8::1]\n", 2, "bad mx",
		    "mx line 2: '[2001:db8::1]' is an IP address" },
		{ "version: STSv1\nmx: mail.example servername=evil\n", 2, "bad mx",
		    "mx line 2: 'mail.example servername=evil' has a space in it" },
		{ "version: STSv1\nmx: localhost\n", 2, "bad mx",
		    "mx line 2: 'localhost' is not a host name" },
		{ "version: STSv1\nmx: a\x01b.example\n", 2, "control character",
		    "policy line 2: a control character" },
		{ "mode: enforce\nmx: a.example\nmax_age: 1\n", 0, "missing version",
		    "policy: no version line (the first line should be 'version: STSv1')" },
		{ "version: STSv1\nmode: enforce\nmax_age: 1\n", 0, "missing mx",
		    "policy: no mx line (mode enforce and testing need one)" },
		{ "version: STSv1\nmode: enforce\nmx: a.example\n", 0, "missing max_age",
		    "policy: no max_age line" },
		{ "version: STSv1\nmode: enforced\n", 2, "bad mode",
		    "policy line 2: mode is not enforce, testing or none" },
		{ "version: STSv2\n", 1, "bad version",
		    "policy line 1: version is not STSv1" },
		{ "<html>\n", 1, "malformed line",
		    "policy line 1: not a 'name: value' line" },
		{ "version: STSv1\nmode: enforce\r\r\n", 2, "bare CR",
		    "policy line 2: a CR that does not end the line" },
		{ "version: STSv1\nnote: \xff\n", 2, "bad utf-8",
		    "policy line 2: not UTF-8 text" },
		{ "version: STSv1\nnote:\n", 2, "empty value",
		    "policy line 2: a field without a value" },
	};

	for (k = 0; k < sizeof pw / sizeof pw[0]; k++)
		pol_why(pw[k].body, pw[k].line, pw[k].reason, pw[k].text);
}

int
main(void)
{
	test_explain();
	test_txt_record();
	test_txt_select();
	test_policy_basic();
	test_policy_lines();
	test_policy_fields();
	test_mx();
	test_mx_count();
	test_hostile();
	test_answer();
	test_tlsrpt();
	test_strings();
	UNIT_DONE();
}
