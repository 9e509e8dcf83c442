/* unit_idn.c - Punycode (RFC 3492) and IDNA2008 lookup names (IDN-1..IDN-3) */
#include <stdlib.h>

#include "mtasts.h"
#include "unit.h"

/* RFC 3492 section 7.1's sample strings, as code points and Punycode.
 * (I) is the RFC's Russian sample with its one uppercase case flag
 * lowered: an encoder that writes no case flags gives that. */
struct pcase {
	const char *name;
	uint32_t cp[48];
	size_t n;
	const char *puny;
};

static const struct pcase samples[] = {
	{ "(A) Arabic (Egyptian)", { 0x644, 0x64a, 0x647, 0x645, 0x627, 0x628, 0x62a, 0x643, 0x644,
	    0x645, 0x648, 0x634, 0x639, 0x631, 0x628, 0x64a, 0x61f }, 17, "egbpdaj6bu4bxfgehfvwxn" },
	{ "(B) Chinese (simplified)", { 0x4ed6, 0x4eec, 0x4e3a, 0x4ec0, 0x4e48, 0x4e0d, 0x8bf4,
	    0x4e2d, 0x6587 }, 9, "ihqwcrb4cv8a8dqg056pqjye" },
	{ "(C) Chinese (traditional)", { 0x4ed6, 0x5011, 0x7232, 0x4ec0, 0x9ebd, 0x4e0d, 0x8aaa,
	    0x4e2d, 0x6587 }, 9, "ihqwctvzc91f659drss3x8bo0yb" },
	{ "(D) Czech", { 'P', 'r', 'o', 0x10d, 'p', 'r', 'o', 's', 't', 0x11b, 'n', 'e', 'm', 'l',
	    'u', 'v', 0xed, 0x10d, 'e', 's', 'k', 'y' }, 22, "Proprostnemluvesky-uyb24dma41a" },
	{ "(E) Hebrew", { 0x5dc, 0x5de, 0x5d4, 0x5d4, 0x5dd, 0x5e4, 0x5e9, 0x5d5, 0x5d8, 0x5dc,
	    0x5d0, 0x5de, 0x5d3, 0x5d1, 0x5e8, 0x5d9, 0x5dd, 0x5e2, 0x5d1, 0x5e8, 0x5d9, 0x5ea }, 22,
	    "4dbcagdahymbxekheh6e0a7fei0b" },
	{ "(F) Hindi (Devanagari)", { 0x92f, 0x939, 0x932, 0x94b, 0x917, 0x939, 0x93f, 0x928,
	    0x94d, 0x926, 0x940, 0x915, 0x94d, 0x92f, 0x94b, 0x902, 0x928, 0x939, 0x940, 0x902,
	    0x92c, 0x94b, 0x932, 0x938, 0x915, 0x924, 0x947, 0x939, 0x948, 0x902 }, 30,
	    "i1baa7eci9glrd9b2ae1bj0hfcgg6iyaf8o0a1dig0cd" },
	{ "(G) Japanese", { 0x306a, 0x305c, 0x307f, 0x3093, 0x306a, 0x65e5, 0x672c, 0x8a9e,
	    0x3092, 0x8a71, 0x3057, 0x3066, 0x304f, 0x308c, 0x306a, 0x3044, 0x306e, 0x304b }, 18,
	    "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa" },
	{ "(I) Russian", { 0x43f, 0x43e, 0x447, 0x435, 0x43c, 0x443, 0x436, 0x435, 0x43e, 0x43d,
	    0x438, 0x43d, 0x435, 0x433, 0x43e, 0x432, 0x43e, 0x440, 0x44f, 0x442, 0x43f, 0x43e,
	    0x440, 0x443, 0x441, 0x441, 0x43a, 0x438 }, 28, "b1abfaaepdrnnbgefbadotcwatmq2g4l" },
	{ "(J) Spanish", { 'P', 'o', 'r', 'q', 'u', 0xe9, 'n', 'o', 'p', 'u', 'e', 'd', 'e', 'n',
	    's', 'i', 'm', 'p', 'l', 'e', 'm', 'e', 'n', 't', 'e', 'h', 'a', 'b', 'l', 'a', 'r',
	    'e', 'n', 'E', 's', 'p', 'a', 0xf1, 'o', 'l' }, 40,
	    "PorqunopuedensimplementehablarenEspaol-fmd56a" },
	{ "(K) Vietnamese", { 'T', 0x1ea1, 'i', 's', 'a', 'o', 'h', 0x1ecd, 'k', 'h', 0xf4, 'n',
	    'g', 't', 'h', 0x1ec3, 'c', 'h', 0x1ec9, 'n', 0xf3, 'i', 't', 'i', 0x1ebf, 'n', 'g',
	    'V', 'i', 0x1ec7, 't' }, 31, "TisaohkhngthchnitingVit-kjcr8268qyxafd2f1b9g" },
	{ "(L) 3<nen>B<gumi><kinpachi><sensei>", { '3', 0x5e74, 'B', 0x7d44, 0x91d1, 0x516b,
	    0x5148, 0x751f }, 8, "3B-ww4c5e180e575a65lsy2b" },
	{ "(S) -> $1.00 <-", { '-', '>', ' ', '$', '1', '.', '0', '0', ' ', '<', '-' }, 11,
	    "-> $1.00 <--" },
};

static void
test_punycode(void)
{
	size_t i, j;

	for (i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		const struct pcase *p = &samples[i];
		char out[IDN_LABEL_CPS + 8];
		uint32_t cp[IDN_LABEL_CPS];
		size_t pl = strlen(p->puny);
		int n, same = 1;

		n = idn_encode_label(p->cp, p->n, out, sizeof out);
		if (n < 0 || (size_t)n != pl || memcmp(out, p->puny, pl) != 0)
			printf("encode %s: %.*s\n", p->name, n < 0 ? 0 : n, out);
		CHECK_MEM(out, n < 0 ? 0 : n, p->puny);
		n = idn_decode_label((const char *)guarded(p->puny, pl), pl, cp, IDN_LABEL_CPS);
		CHECK_INT(n, p->n);
		for (j = 0; n > 0 && j < p->n; j++)
			same &= cp[j] == p->cp[j];
		if (!same)
			printf("decode %s differs\n", p->name);
		CHECK(same);
		/* one octet too few: the encoder says so, never writes past cap */
		CHECK_INT(idn_encode_label(p->cp, p->n, out, pl - 1), -1);
		/* one code point too few: the decoder says so */
		CHECK_INT(idn_decode_label(p->puny, pl, cp, p->n - 1), -1);
	}
	/* the RFC's own spelling of (I), with an uppercase case flag */
	{
		uint32_t cp[IDN_LABEL_CPS];
		CHECK_INT(idn_decode_label("b1abfaaepdrnnbgefbaDotcwatmq2g4l", 32, cp, IDN_LABEL_CPS), 28);
		CHECK_INT(cp[0], 0x43f);
		CHECK_INT(cp[27], 0x438);
	}
}

/* hostile Punycode: the decoder fails cleanly */
static void
test_decode_hostile(void)
{
	static const char *const bad[] = {
		"99999999999999999999",         /* i overflows */
		"zzzzzzzzzzzzzzzzzzzzzzzzzzzzz", /* w overflows */
		"b",                            /* cut: no terminating digit */
		"abc-9",                        /* cut after the delimiter */
		"ab!c",                         /* no base-36 digit */
		"ab-c$",
		"\xc3\xbc-kva",                 /* non-ASCII basic code point */
		"ab-\xff",
		"egbpdaj6bu4bxfgehfvwx9999999", /* past U+10FFFF */
	};
	uint32_t cp[IDN_LABEL_CPS];
	size_t i, j;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n = strlen(bad[i]);
		int r = idn_decode_label((const char *)guarded(bad[i], n), n, cp, IDN_LABEL_CPS);
		if (r != -1)
			printf("decode \"%s\": %d\n", bad[i], r);
		CHECK_INT(r, -1);
	}
	/* U+10FFFF is the last code point a label can decode to: "en32g"
	 * would be U+110000 */
	CHECK_INT(idn_decode_label("dn32g", 5, cp, IDN_LABEL_CPS), 1);
	CHECK_INT(cp[0], 0x10ffff);
	CHECK_INT(idn_decode_label("en32g", 5, cp, IDN_LABEL_CPS), -1);
	/* no digits at all: the basic code points alone, or nothing */
	CHECK_INT(idn_decode_label("abc-", 4, cp, IDN_LABEL_CPS), 3);
	CHECK_INT(idn_decode_label("", 0, cp, IDN_LABEL_CPS), 0);
	/* every prefix of every sample against the guard page */
	for (i = 0; i < sizeof samples / sizeof samples[0]; i++)
		for (j = 0; j <= strlen(samples[i].puny); j++)
			(void)idn_decode_label((const char *)guarded(samples[i].puny, j), j, cp,
			    IDN_LABEL_CPS);
	CHECK_INT(idn_encode_label(samples[0].cp, IDN_LABEL_CPS + 1, (char *)cp, 64), -1);
	{
		uint32_t big = 0x110000;
		char out[16];
		CHECK_INT(idn_encode_label(&big, 1, out, sizeof out), -1);
	}
}

/* idn_to_ascii: a name in, its A-label form or the error */
struct acase {
	const char *in;
	int err;                /* 0: ok, else the IDN_ERR_ */
	const char *out;
};

static const struct acase names[] = {
	/* IDN-1: U-labels to A-labels, A-labels kept, one spelling */
	{ "b\xc3\xbc" "cher.example", 0, "xn--bcher-kva.example" },
	{ "xn--bcher-kva.example", 0, "xn--bcher-kva.example" },
	{ "XN--BCHER-KVA.Example", 0, "xn--bcher-kva.example" },
	{ "Xn--Bcher-Kva.example", 0, "xn--bcher-kva.example" },
	{ "example.com", 0, "example.com" },
	{ "MAIL.Example.COM", 0, "mail.example.com" },
	{ "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd0\xb8\xd1\x81\xd0\xbf\xd1\x8b"
	  "\xd1\x82\xd0\xb0\xd0\xbd\xd0\xb8\xd0\xb5", 0, "xn--e1afmkfd.xn--80akhbyknj4f" },
	{ "\xce\xb5\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac.example", 0,
	  "xn--hxargifdar.example" },
	{ "\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b\xe8\xaf\x95", 0, "xn--fsqu00a.xn--0zwm56d" },
	{ "xn--fsqu00a.xn--0zwm56d", 0, "xn--fsqu00a.xn--0zwm56d" },
	{ "stra\xc3\x9f" "e.de", 0, "xn--strae-oqa.de" },        /* sharp s stays (IDNA2008) */
	{ "m\xc3\xbcnchen.de", 0, "xn--mnchen-3ya.de" },
	{ "col\xc2\xb7legi.cat", 0, "xn--collegi-xma.cat" },      /* l.l: RFC 5892 A.3 */
	{ "xn--collegi-xma.cat", 0, "xn--collegi-xma.cat" },
	{ "\xc3\xbf.example", 0, "xn--wda.example" },
	/* IDN-2: capitals folded as UTS 46 does */
	{ "B\xc3\x9c" "CHER.EXAMPLE", 0, "xn--bcher-kva.example" },
	{ "\xc3\x9f" "B\xc3\x9c" "cher.example", 0, NULL },       /* checked below */
	{ "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x9c\xd0\x95\xd0\xa0.\xd0\xb8\xd1\x81\xd0\xbf\xd1\x8b"
	  "\xd1\x82\xd0\xb0\xd0\xbd\xd0\xb8\xd0\xb5", 0, "xn--e1afmkfd.xn--80akhbyknj4f" },
	{ "\xce\x95\xce\x9b\xce\x9b\xce\x97\xce\x9d\xce\x99\xce\x9a\xce\xac.example", 0,
	  "xn--hxargifdar.example" },
	{ "\xc5\x81\xc3\x93" "D\xc5\xb9.pl", 0, "xn--d-uga0v4h.pl" },  /* LODZ: U+0141 U+00D3 U+0179 */
	{ "\xc5\xa2" "ARA.ro", 0, "xn--ara-7za.ro" },              /* U+0162 */
	{ "\xc5\xb8.example", 0, "xn--wda.example" },             /* U+0178 -> U+00FF */
	{ "\xd0\x83.mk", 0, "xn--81a.mk" },                       /* U+0403 -> U+0453 */
	/* an A-label that decodes to a capital does not round-trip */
	{ "xn--bcher-2pa.example", IDN_ERR_LABEL, NULL },
	/* invalid UTF-8 */
	{ "b\xff" "cher.example", IDN_ERR_UTF8, NULL },
	{ "\xc0\xaf.example", IDN_ERR_UTF8, NULL },               /* overlong '/' */
	{ "\xc1\xbf.example", IDN_ERR_UTF8, NULL },
	{ "\xe0\x80\xaf.example", IDN_ERR_UTF8, NULL },           /* overlong, 3 octets */
	{ "\xf0\x80\x80\xaf.example", IDN_ERR_UTF8, NULL },       /* overlong, 4 octets */
	{ "\xed\xa0\x80.example", IDN_ERR_UTF8, NULL },           /* surrogate U+D800 */
	{ "\xed\xbf\xbf.example", IDN_ERR_UTF8, NULL },           /* surrogate U+DFFF */
	{ "\xf4\x90\x80\x80.example", IDN_ERR_UTF8, NULL },       /* U+110000 */
	{ "\xf5\x80\x80\x80.example", IDN_ERR_UTF8, NULL },
	{ "b\xc3.example", IDN_ERR_UTF8, NULL },                  /* cut before the dot */
	{ "example.b\xc3", IDN_ERR_UTF8, NULL },                  /* cut at the end */
	{ "\x80.example", IDN_ERR_UTF8, NULL },                   /* lone continuation */
	{ "b\xc3\xc3\xbc.example", IDN_ERR_UTF8, NULL },
	{ "\xf8\x90\x80\x80.example", IDN_ERR_UTF8, NULL },      /* no lead byte past F4 */
	{ "\xfe.example", IDN_ERR_UTF8, NULL },
	{ "b\xc3" "a.example", IDN_ERR_UTF8, NULL },              /* ASCII after a lead byte */
	{ "b\xe4\xbe" "a.example", IDN_ERR_UTF8, NULL },
	{ "\xe0\x83\xa9.example", IDN_ERR_UTF8, NULL },          /* overlong U+00E9, 3 octets */
	{ "\xf0\x8f\xbf\xbf.example", IDN_ERR_UTF8, NULL },      /* overlong U+FFFF, 4 octets */
	/* IDN-1: code points IDNA2008 never allows */
	{ "a\xc2\x85" "b.example", IDN_ERR_LABEL, NULL },         /* C1 control NEL */
	{ "a\xc2\xa0" "b.example", IDN_ERR_LABEL, NULL },         /* NBSP */
	{ "\xc2\xbf" "a.example", IDN_ERR_LABEL, NULL },          /* inverted question mark */
	{ "a\xc3\x97" "b.example", IDN_ERR_LABEL, NULL },         /* multiplication sign */
	{ "a\xe2\x80\x8b" "b.example", IDN_ERR_LABEL, NULL },     /* zero width space */
	{ "a\xe2\x80\xae" "b.example", IDN_ERR_LABEL, NULL },     /* right-to-left override */
	{ "a\xe2\x82\xac.example", IDN_ERR_LABEL, NULL },         /* euro sign */
	{ "a\xe2\x99\xa5.example", IDN_ERR_LABEL, NULL },         /* heart suit */
	{ "\xe4\xbe\x8b\xe5\xad\x90\xe3\x80\x82\xe6\xb5\x8b\xe8\xaf\x95", IDN_ERR_LABEL, NULL },
	{ "a\xee\x80\x80.example", IDN_ERR_LABEL, NULL },         /* private use U+E000 */
	{ "a\xef\xb7\x90.example", IDN_ERR_LABEL, NULL },         /* noncharacter U+FDD0 */
	{ "a\xef\xbf\xbe.example", IDN_ERR_LABEL, NULL },         /* noncharacter U+FFFE */
	{ "a\xf0\x9f\xbf\xbe.example", IDN_ERR_LABEL, NULL },     /* noncharacter U+1FFFE */
	{ "a\xef\xbb\xbf.example", IDN_ERR_LABEL, NULL },         /* BOM */
	{ "\xef\xbd\x85xample.com", IDN_ERR_LABEL, NULL },        /* full-width e */
	{ "a\xef\xb8\x8f.example", IDN_ERR_LABEL, NULL },         /* variation selector 16 */
	{ "i\xf0\x9f\x98\x80.example", IDN_ERR_LABEL, NULL },     /* emoji */
	{ "a\xf3\xa0\x80\x81.example", IDN_ERR_LABEL, NULL },     /* tag U+E0001 */
	{ "a\xf4\x8f\xbf\xbd.example", IDN_ERR_LABEL, NULL },     /* private use U+10FFFD */
	{ "a\xf1\x80\x80\x80.example", IDN_ERR_LABEL, NULL },     /* unassigned plane 4 */
	/* the contextual MIDDLE DOT, the hyphen rules, combining marks */
	{ "a\xc2\xb7" "b.cat", IDN_ERR_LABEL, NULL },
	{ "\xc2\xb7l.cat", IDN_ERR_LABEL, NULL },
	{ "l\xc2\xb7.cat", IDN_ERR_LABEL, NULL },
	{ "-b\xc3\xbc.example", IDN_ERR_LABEL, NULL },
	{ "b\xc3\xbc-.example", IDN_ERR_LABEL, NULL },
	{ "ab--\xc3\xbc.example", IDN_ERR_LABEL, NULL },
	{ "\xcc\x88" "a.example", IDN_ERR_LABEL, NULL },          /* starts with U+0308 */
	{ "b\xc3\xbc_r.example", IDN_ERR_LABEL, NULL },
	{ "b\xc3\xbc r.example", IDN_ERR_LABEL, NULL },
	/* A-labels that are no encoding of a U-label */
	{ "xn--.example", IDN_ERR_LABEL, NULL },
	{ "xn--abc-.example", IDN_ERR_LABEL, NULL },              /* pure ASCII */
	{ "xn---kva.example", IDN_ERR_LABEL, NULL },
	{ "xn--bcher-kva9.example", IDN_ERR_LABEL, NULL },
	{ "xn--99999999999.example", IDN_ERR_LABEL, NULL },
	{ "xn--bcher_kva.example", IDN_ERR_LABEL, NULL },
	{ "xn--ls8h.example", IDN_ERR_LABEL, NULL },              /* an emoji's A-label */
	{ "xn--uba.example", IDN_ERR_LABEL, NULL },               /* a lone U+00B7 */
	{ "xn--ab-0ea.example", IDN_ERR_LABEL, NULL },            /* a U+00B7 b */
	{ "xn--zca.example", 0, "xn--zca.example" },              /* sharp s */
	{ "xn--ab--c-ova.example", IDN_ERR_LABEL, NULL },         /* decodes to "ab--c" + U+00FC */
	/* plain LDH rules (IDN_ERR_SYNTAX) */
	{ "ab--cd.example", IDN_ERR_SYNTAX, NULL },               /* reserved for IDNA */
	{ "a..b", IDN_ERR_SYNTAX, NULL },
	{ ".a", IDN_ERR_SYNTAX, NULL },
	{ "a.", IDN_ERR_SYNTAX, NULL },
	{ "", IDN_ERR_SYNTAX, NULL },
	{ "-a.example", IDN_ERR_SYNTAX, NULL },
	{ "a_b.example", IDN_ERR_SYNTAX, NULL },
};

static void
test_to_ascii(void)
{
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct acase *a = &names[i];
		char out[DOMAIN_MAX + 1];
		size_t n = strlen(a->in);
		int r = idn_to_ascii(guarded(a->in, n), n, out, sizeof out);

		if (a->err != 0) {
			if (r != a->err)
				printf("case %zu: %d\n", i, r);
			CHECK_INT(r, a->err);
			continue;
		}
		if (r < 0)
			printf("case %zu: %d\n", i, r);
		CHECK(r >= 0);
		if (r < 0 || a->out == NULL)
			continue;
		CHECK_INT(r, strlen(a->out));
		CHECK_STR(out, a->out);
	}
}

static void
test_fold_and_lengths(void)
{
	char out[DOMAIN_MAX + 1], key[400], again[DOMAIN_MAX + 1];
	uint32_t cp[IDN_LABEL_CPS];
	int r, n;
	size_t i, len;

	/* "ssBUcher": folded, the sharp s kept */
	r = idn_to_ascii((const uint8_t *)"\xc3\x9f" "B\xc3\x9c" "cher.example", 17, out, sizeof out);
	CHECK(r > 0);
	if (r <= 0)
		strcpy(out, "xn--.");
	n = idn_decode_label(out + 4, (size_t)(strchr(out, '.') - out) - 4, cp, IDN_LABEL_CPS);
	CHECK_INT(n, 7);
	CHECK_INT(cp[0], 0xdf);
	CHECK_INT(cp[1], 'b');
	CHECK_INT(cp[2], 0xfc);
	/* Latin Extended-A: every capital folds to the small letter after it
	 * and the pair's A-labels agree; the unpaired ones are left alone */
	for (i = 0x100; i <= 0x17f; i++) {
		char u[8], l[8], ua[64], la[64];
		uint32_t c = (uint32_t)i;
		int small;

		small = c == 0x130 || c == 0x178 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17f ||
		    (c & 1) != ((c >= 0x139 && c <= 0x148) || c >= 0x179);
		if (small)
			continue;
		snprintf(u, sizeof u, "%c%c.x", 0xc0 | (int)(c >> 6), 0x80 | (int)(c & 0x3f));
		snprintf(l, sizeof l, "%c%c.x", 0xc0 | (int)((c + 1) >> 6), 0x80 | (int)((c + 1) & 0x3f));
		r = idn_to_ascii((const uint8_t *)u, 4, ua, sizeof ua);
		n = idn_to_ascii((const uint8_t *)l, 4, la, sizeof la);
		if (r < 0 || n < 0 || strcmp(ua, la) != 0)
			printf("U+%04X: %d %d\n", (unsigned)c, r, n);
		CHECK(r > 0 && n > 0 && strcmp(ua, la) == 0);
	}
	/* U+0130 (capital I with dot) is not folded: its own A-label */
	CHECK_INT(idn_to_ascii((const uint8_t *)"\xc4\xb0.x", 4, out, sizeof out), 9);

	/* IDN-1: the A-label at most 63 octets: "u-umlaut" + 55 a is 63, 56 is 64 */
	len = (size_t)snprintf(key, sizeof key, "\xc3\xbc%.55s.example",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	r = idn_to_ascii((const uint8_t *)key, len, out, sizeof out);
	CHECK_INT(r, 63 + 8);
	CHECK_INT(idn_to_ascii((const uint8_t *)out, (size_t)r, again, sizeof again), r);
	len = (size_t)snprintf(key, sizeof key, "\xc3\xbc%.56s.example",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK_INT(idn_to_ascii((const uint8_t *)key, len, out, sizeof out), IDN_ERR_LABEL);
	/* 64 code points in one U-label never fit */
	for (len = 0, i = 0; i < 64; i++)
		len += (size_t)snprintf(key + len, sizeof key - len, "\xc3\xbc");
	CHECK_INT(idn_to_ascii((const uint8_t *)key, len, out, sizeof out), IDN_ERR_LABEL);
	/* a 300-octet UTF-8 name whose A-label form fits is fine, and one that
	 * does not fit the output is a length error, never an overflow */
	for (len = 0, i = 0; i < 5; i++)
		len += (size_t)snprintf(key + len, sizeof key - len,
		    "%s\xe4\xbe\x8b\xe5\xad\x90\xe4\xbe\x8b\xe5\xad\x90\xe4\xbe\x8b\xe5\xad\x90"
		    "\xe4\xbe\x8b\xe5\xad\x90\xe4\xbe\x8b\xe5\xad\x90", i ? "." : "");
	r = idn_to_ascii((const uint8_t *)key, len, out, sizeof out);
	CHECK(len > 140 && r > 0 && r < (int)len);
	CHECK_INT(idn_to_ascii((const uint8_t *)key, len, out, 20), IDN_ERR_SYNTAX);
	CHECK_INT(idn_to_ascii((const uint8_t *)"b\xc3\xbc" "cher.example", 15, out, 21),
	    IDN_ERR_SYNTAX);
	CHECK_INT(idn_to_ascii((const uint8_t *)"b\xc3\xbc" "cher.example", 15, out, 22), 21);
}

static void
test_to_unicode(void)
{
	char out[DOMAIN_MAX * 4 + 1];

	CHECK_INT(idn_to_unicode("xn--bcher-kva.example", 21, out, sizeof out), 15);
	CHECK_STR(out, "b\xc3\xbc" "cher.example");
	CHECK_INT(idn_to_unicode("xn--fsqu00a.xn--0zwm56d", 23, out, sizeof out), 13);
	CHECK_STR(out, "\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b\xe8\xaf\x95");
	CHECK_INT(idn_to_unicode("example.com", 11, out, sizeof out), 11);
	CHECK_STR(out, "example.com");
	/* a 4-octet code point (CJK extension B, U+20000) */
	{
		uint32_t c = 0x20000;
		char a[16];
		int n = idn_encode_label(&c, 1, a, sizeof a);
		char name[32];
		CHECK(n > 0);
		snprintf(name, sizeof name, "xn--%.*s.x", n, a);
		CHECK_INT(idn_to_unicode(name, strlen(name), out, sizeof out), 6);
		CHECK_STR(out, "\xf0\xa0\x80\x80.x");
		CHECK_INT(idn_to_ascii((const uint8_t *)out, 6, a, sizeof a), (int)strlen(name));
		CHECK_STR(a, name);
	}
	/* does not fit */
	CHECK_INT(idn_to_unicode("xn--bcher-kva.example", 21, out, 15), -1);
	CHECK_INT(idn_to_unicode("xn--bcher-kva.example", 21, out, 16), 15);
	/* an undecodable xn-- label is shown as it is */
	CHECK_INT(idn_to_unicode("xn--99999999999.x", 17, out, sizeof out), 17);
}

/* every prefix of every name against the guard page: clean failure, or
 * an LDH result that converts to itself again */
static void
test_prefixes(void)
{
	size_t i, j;
	int bad = 0;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i].in);
		for (j = 0; j <= n; j++) {
			char out[DOMAIN_MAX + 1], again[DOMAIN_MAX + 1];
			int r = idn_to_ascii(guarded(names[i].in, j), j, out, sizeof out);
			if (r < 0) {
				bad += r != IDN_ERR_SYNTAX && r != IDN_ERR_UTF8 && r != IDN_ERR_LABEL;
				continue;
			}
			bad += idn_to_ascii((const uint8_t *)out, (size_t)r, again, sizeof again) != r ||
			    strcmp(out, again) != 0;
		}
	}
	CHECK_INT(bad, 0);
}

int
main(void)
{
	test_punycode();
	test_decode_hostile();
	test_to_ascii();
	test_fold_and_lengths();
	test_to_unicode();
	test_prefixes();
	UNIT_DONE();
}
