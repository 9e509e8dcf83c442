/* unit_key.c - socketmap key normalisation (KEY-1..KEY-11, IDN-1, IDN-2) */
#include "mtasts.h"
#include "unit.h"

struct kcase {
	const char *in;
	enum key_status st;
	const char *out;        /* expected domain when KEY_OK */
};

static const struct kcase cases[] = {
	/* plain names, KEY-3 case folding, KEY-4 one trailing dot */
	{ "example.com", KEY_OK, "example.com" },
	{ "Example.COM", KEY_OK, "example.com" },
	{ "MAIL.EXAMPLE.COM", KEY_OK, "mail.example.com" },
	{ "example.com.", KEY_OK, "example.com" },
	{ "example.com..", KEY_BAD, NULL },
	{ "a.b.c.d.e.example.org", KEY_OK, "a.b.c.d.e.example.org" },
	{ "xn--bcher-kva.example", KEY_OK, "xn--bcher-kva.example" },
	{ "a-b.c-d.example", KEY_OK, "a-b.c-d.example" },
	{ "1example.com", KEY_OK, "1example.com" },
	{ "123.example.com", KEY_OK, "123.example.com" },
	{ "example.c0m", KEY_OK, "example.c0m" },
	{ "x.y", KEY_OK, "x.y" },
	/* KEY-5 brackets and ports */
	{ "[mail.example.com]", KEY_OK, "mail.example.com" },
	{ "[Mail.Example.com]:587", KEY_OK, "mail.example.com" },
	{ "[example.net]:msa", KEY_OK, "example.net" },
	{ "[mail.example.com.]", KEY_OK, "mail.example.com" },
	{ "[mail.example.com]:", KEY_BAD, NULL },
	{ "[mail.example.com]x", KEY_BAD, NULL },
	{ "[mail.example.com]:25:26", KEY_BAD, NULL },
	{ "[mail.example.com]:2]", KEY_BAD, NULL },
	{ "[mail.example.com", KEY_BAD, NULL },
	{ "[]", KEY_BAD, NULL },
	{ "[]:25", KEY_BAD, NULL },
	{ "[.example.com]", KEY_BAD, NULL },
	{ "[[example.com]]", KEY_BAD, NULL },
	{ "[localhost]", KEY_BAD, NULL },
	/* KEY-6 host:port */
	{ "example.com:2525", KEY_OK, "example.com" },
	{ "Example.com.:smtp", KEY_OK, "example.com" },
	{ "example.com:", KEY_BAD, NULL },
	{ ":25", KEY_BAD, NULL },
	/* KEY-7 IP literals */
	{ "[192.0.2.1]", KEY_IP_LITERAL, NULL },
	{ "[192.0.2.1]:25", KEY_IP_LITERAL, NULL },
	{ "192.0.2.1", KEY_IP_LITERAL, NULL },
	{ "192.0.2.1.", KEY_IP_LITERAL, NULL },
	{ "192.0.2.1:25", KEY_IP_LITERAL, NULL },
	{ "[2001:db8::1]", KEY_IP_LITERAL, NULL },
	{ "[2001:db8::1]:25", KEY_IP_LITERAL, NULL },
	{ "[ipv6:2001:db8::1]", KEY_IP_LITERAL, NULL },
	{ "[IPv6:2001:db8::1]", KEY_IP_LITERAL, NULL },
	{ "[IPV6:2001:DB8::1]:25", KEY_IP_LITERAL, NULL },
	{ "[ipv6:::ffff:192.0.2.1]", KEY_IP_LITERAL, NULL },
	{ "2001:db8::1", KEY_IP_LITERAL, NULL },
	{ "::1", KEY_IP_LITERAL, NULL },
	{ "::ffff:192.0.2.1", KEY_IP_LITERAL, NULL },
	{ "fe80::1%eth0", KEY_BAD, NULL },
	{ "[a:b.example]", KEY_BAD, NULL },
	{ "a.example:b:c", KEY_BAD, NULL },
	/* numeric last labels */
	{ "127.1", KEY_IP_LITERAL, NULL },
	{ "3232235777", KEY_IP_LITERAL, NULL },
	{ "1.2.3.4.5", KEY_BAD, NULL },
	{ "example.123", KEY_BAD, NULL },
	{ "host.example.0", KEY_BAD, NULL },
	{ "[example.123]", KEY_BAD, NULL },
	/* KEY-2 parent keys */
	{ ".example.com", KEY_PARENT, NULL },
	{ ".com", KEY_PARENT, NULL },
	{ ".b.example.com", KEY_PARENT, NULL },
	{ ".", KEY_PARENT, NULL },
	/* KEY-8 syntax */
	{ "a..b", KEY_BAD, NULL },
	{ "localhost", KEY_BAD, NULL },
	{ "localhost.", KEY_BAD, NULL },
	{ "/var/run/lmtp", KEY_BAD, NULL },
	{ "unix:/var/run/lmtp", KEY_BAD, NULL },
	{ "private/dovecot-lmtp", KEY_BAD, NULL },
	{ "-example.com", KEY_BAD, NULL },
	{ "example-.com", KEY_BAD, NULL },
	{ "example.-com", KEY_BAD, NULL },
	{ "example.com-", KEY_BAD, NULL },
	{ "exa_mple.com", KEY_BAD, NULL },
	{ "*.example.com", KEY_BAD, NULL },
	{ "example.com/", KEY_BAD, NULL },
	{ "ex@mple.com", KEY_BAD, NULL },
	{ "..", KEY_PARENT, NULL },
	/* KEY-9, IDN-1, IDN-2: U-labels become A-labels; every spelling
	 * of one name gives one key (KEY-11) */
	{ "b\xc3\xbc" "cher.example", KEY_OK, "xn--bcher-kva.example" },
	{ "B\xc3\x9c" "CHER.example", KEY_OK, "xn--bcher-kva.example" },
	{ "XN--BCHER-KVA.example", KEY_OK, "xn--bcher-kva.example" },
	{ "b\xc3\xbc" "cher.example.", KEY_OK, "xn--bcher-kva.example" },
	{ "[b\xc3\xbc" "cher.example]:25", KEY_OK, "xn--bcher-kva.example" },
	{ "b\xc3\xbc" "cher.example:smtp", KEY_OK, "xn--bcher-kva.example" },
	{ "mail.b\xc3\xbc" "cher.example", KEY_OK, "mail.xn--bcher-kva.example" },
	{ ".b\xc3\xbc" "cher.example", KEY_PARENT, NULL },
	{ "\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b\xe8\xaf\x95", KEY_OK, "xn--fsqu00a.xn--0zwm56d" },
	{ "b\xc3\xbc" "cher", KEY_BAD, NULL },               /* one label [D] */
	{ "example.b\xc3\xbc" "cher", KEY_OK, "example.xn--bcher-kva" },
	{ "example.com\xff", KEY_BAD_UTF8, NULL },
	{ "b\xff" "cher.example", KEY_BAD_UTF8, NULL },
	{ "\xc0\xaf.example", KEY_BAD_UTF8, NULL },
	{ "\xed\xa0\x80.example", KEY_BAD_UTF8, NULL },
	{ "example.com:\xff", KEY_BAD_UTF8, NULL },
	{ "[example.com]:\xc3", KEY_BAD_UTF8, NULL },
	{ "a\xc2\xa0" "b.example", KEY_BAD_IDN, NULL },
	{ "a\xe2\x80\x8b" "b.example", KEY_BAD_IDN, NULL },
	{ "xn--bcher-kva9.example", KEY_BAD_IDN, NULL },
	{ "xn--abc-.example", KEY_BAD_IDN, NULL },
	{ "b\xc3\xbc-.example", KEY_BAD_IDN, NULL },
	{ "ab--cd.example", KEY_BAD, NULL },                  /* reserved for IDNA */
	{ "b\xc3\xbc" "cher .example", KEY_BAD, NULL },
	/* KEY-10 empty and whitespace */
	{ "", KEY_BAD, NULL },
	{ "example .com", KEY_BAD, NULL },
	{ " example.com", KEY_BAD, NULL },
	{ "example.com ", KEY_BAD, NULL },
	{ "example.com\t", KEY_BAD, NULL },
	{ "example.com\n", KEY_BAD, NULL },
	{ "example.com\r", KEY_BAD, NULL },
	{ "exa\x7fmple.com", KEY_BAD, NULL },
	{ "[ mail.example.com]", KEY_BAD, NULL },
};

static void
test_table(void)
{
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct kcase *k = &cases[i];
		char out[DOMAIN_MAX + 1];
		size_t n = strlen(k->in);
		enum key_status st = key_normalize((const char *)guarded(k->in, n), n, out);

		if (st != k->st)
			printf("case %zu \"%s\": %s\n", i, k->in, key_status_str(st));
		CHECK_INT(st, k->st);
		if (k->st == KEY_OK)
			CHECK_STR(out, k->out);
		else
			CHECK_STR(out, "");
	}
}

static void
test_lengths(void)
{
	char key[600], out[DOMAIN_MAX + 1];
	const char *lab63 =
	    "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij"
	    "abcdefghij" "abcdefghij" "abc";
	size_t n;

	/* 63-octet label ok, 64 not */
	n = (size_t)snprintf(key, sizeof key, "%s.example", lab63);
	CHECK_INT(key_normalize(key, n, out), KEY_OK);
	CHECK_INT(strlen(out), 63 + 8);
	n = (size_t)snprintf(key, sizeof key, "%sd.example", lab63);
	CHECK_INT(key_normalize(key, n, out), KEY_BAD);
	n = (size_t)snprintf(key, sizeof key, "[%sd.example]:25", lab63);
	CHECK_INT(key_normalize(key, n, out), KEY_BAD);

	/* POLICY_DOMAIN_MAX (244) is the longest accepted policy domain:
	 * 3 labels of 63, 50, 1 and 4 dots = 189 + 50 + 1 + 4 = 244 */
	n = (size_t)snprintf(key, sizeof key, "%s.%s.%s.%.50s.x", lab63, lab63, lab63, lab63);
	CHECK_INT(n, 244);
	CHECK_INT(key_normalize(key, n, out), KEY_OK);
	CHECK_INT(strlen(out), 244);
	/* with one trailing dot still fine */
	key[n] = '.';
	CHECK_INT(key_normalize((const char *)guarded(key, n + 1), n + 1, out), KEY_OK);
	CHECK_INT(strlen(out), 244);
	n = (size_t)snprintf(key, sizeof key, "%s.%s.%s.%.51s.x", lab63, lab63, lab63, lab63);
	CHECK_INT(n, 245);
	CHECK_INT(key_normalize(key, n, out), KEY_BAD);
	/* 253 (a valid DNS name) is still too long for _mta-sts. */
	n = (size_t)snprintf(key, sizeof key, "%s.%s.%s.%.59s.x", lab63, lab63, lab63, lab63);
	CHECK_INT(n, 253);
	CHECK_INT(key_normalize(key, n, out), KEY_BAD);
	n = (size_t)snprintf(key, sizeof key, "%s.%s.%s.%s.%s", lab63, lab63, lab63, lab63, lab63);
	CHECK_INT(key_normalize(key, n, out), KEY_BAD);

	/* len is honoured: bytes after it are never looked at */
	CHECK_INT(key_normalize("example.com extra", 11, out), KEY_OK);
	CHECK_STR(out, "example.com");
	CHECK_INT(key_normalize("example.comX", 11, out), KEY_OK);
	CHECK_INT(key_normalize("[a.example]", 10, out), KEY_BAD);
	/* embedded NUL */
	CHECK_INT(key_normalize("exa\0mple.com", 12, out), KEY_BAD);
	CHECK_INT(key_normalize(NULL, 0, out), KEY_BAD);
}

/* every prefix of each key against the guard page: never crashes, and a
 * KEY_OK result is always a lowercase LDH name */
static void
test_prefixes(void)
{
	size_t i, j;
	int bad = 0;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = strlen(cases[i].in);
		for (j = 0; j <= n; j++) {
			char out[DOMAIN_MAX + 1];
			const char *g = (const char *)guarded(cases[i].in, j);
			size_t k;
			if (key_normalize(g, j, out) != KEY_OK)
				continue;
			for (k = 0; out[k] != '\0'; k++)
				if (!((out[k] >= 'a' && out[k] <= 'z') ||
				    (out[k] >= '0' && out[k] <= '9') ||
				    out[k] == '-' || out[k] == '.'))
					bad++;
		}
	}
	CHECK_INT(bad, 0);
}

static void
test_strings(void)
{
	CHECK_STR(key_status_str(KEY_OK), "ok");
	CHECK_STR(key_status_str(KEY_PARENT), "parent");
	CHECK_STR(key_status_str(KEY_IP_LITERAL), "ip-literal");
	CHECK_STR(key_status_str(KEY_BAD), "bad-key");
	CHECK_STR(key_status_str(KEY_BAD_UTF8), "bad-utf8");
	CHECK_STR(key_status_str(KEY_BAD_IDN), "bad-idn");
	CHECK_STR(key_status_str((enum key_status)42), "unknown");
}

int
main(void)
{
	test_table();
	test_lengths();
	test_prefixes();
	test_strings();
	UNIT_DONE();
}
