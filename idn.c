/* idn.c - international domain names for lookups: UTF-8 -> A-labels (pure)
 *
 * Postfix passes SMTPUTF8 domains through as UTF-8 (U-labels), while
 * DNS, SNI, certificates and RFC 8461 mx patterns all use A-labels:
 * "xn--" and the label's Punycode (RFC 3492).  This is the IDNA2008
 * lookup side (RFC 5891 5) cut to what a lookup key needs, with no
 * Unicode tables.  Checked: UTF-8 validity, LDH rules for the ASCII in
 * a label, hyphens, lengths, code points IDNA2008 never allows (the
 * ranges in never[] below), and the round trip of "xn--" labels.  Not
 * checked: NFC, the Bidi rule (RFC 5893) and the contextual rules
 * (RFC 5892 A) other than MIDDLE DOT.  That is safe for a key: such a
 * name cannot be registered, so the DNS has no policy for it and the
 * answer is NOTFOUND, as for any unknown domain (IDN-3).
 */
#include <string.h>

#include "mtasts.h"

/* RFC 3492 5: Punycode's parameters for IDNA */
#define BASE  36
#define TMIN  1
#define TMAX  26
#define SKEW  38
#define DAMP  700
#define BIAS0 72

/* see mtasts.h */
size_t
idn_utf8(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0];
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xc2 || c > 0xf4)       /* continuation, overlong 2-byte, > U+10FFFF */
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	c &= 0x3f >> (len - 1);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong 3- and 4-byte forms, surrogates, past U+10FFFF */
	if (c < (len == 3 ? 0x800u : len == 4 ? 0x10000u : 0x80u) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Simple lowercase for the capitals of Latin-1, Latin Extended-A, basic
 * Greek and Cyrillic, as UTS 46 maps them; other capitals stay as they
 * are and give a name no registry accepts (IDN-2). */
static uint32_t
fold(uint32_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x391 && c <= 0x3ab && c != 0x3a2) || (c >= 0x410 && c <= 0x42f))
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c == 0x178)
		return 0xff;
	/* Latin Extended-A pairs capital, small; the pairing shifts by one
	 * at U+0139 and U+0179.  I-dot, dotless i, kra, 'n are no pairs. */
	if (c >= 0x100 && c <= 0x17e && c != 0x130 && c != 0x131 && c != 0x138 &&
	    c != 0x149 && (c & 1) == ((c >= 0x139 && c <= 0x148) || c >= 0x179))
		return c + 1;
	return c;
}

/* Code points that IDNA2008 never allows in a label (RFC 5892 2):
 * C1 controls and Latin-1 symbols (MIDDLE DOT is contextual, below),
 * general punctuation (ZWNJ and ZWJ, U+200C/D, are contextual and pass),
 * super- and subscripts, currency, the symbol blocks U+2190-2BFF,
 * ideographic space and stops, surrogates and private use, noncharacters,
 * variation selectors, vertical, small and full-width forms, emoji and
 * other symbols, and everything past plane 3 (unassigned, tags, private
 * use).  Other disallowed code points are not known here (see the top). */
static const uint32_t never[][2] = {
	{ 0x80, 0xb6 }, { 0xb8, 0xbf }, { 0xd7, 0xd7 }, { 0xf7, 0xf7 },
	{ 0x2000, 0x200b }, { 0x200e, 0x20cf }, { 0x2190, 0x2bff },
	{ 0x3000, 0x3003 }, { 0xd800, 0xf8ff }, { 0xfdd0, 0xfdef },
	{ 0xfe00, 0xfe1f }, { 0xfe30, 0xffff }, { 0x1f000, 0x1fbff },
	{ 0x40000, 0xffffffff },
};

/* A label's code points cp[0..n) by IDNA2008's rules, as far as they are
 * checked here (RFC 5891 4.2.3, RFC 5892): 1 ok, 0 not. */
static int
label_ok(const uint32_t *cp, size_t n)
{
	size_t i, k;

	if (n == 0 || cp[0] == '-' || cp[n - 1] == '-' ||
	    (n >= 4 && cp[2] == '-' && cp[3] == '-') ||
	    (cp[0] >= 0x300 && cp[0] <= 0x36f))        /* starts with a combining mark */
		return 0;
	for (i = 0; i < n; i++) {
		uint32_t c = cp[i];

		if (fold(c) != c || (c & 0xfffe) == 0xfffe)
			return 0;
		if (c < 0x80 && !(ascii_isalnum((int)c) || c == '-'))
			return 0;
		/* RFC 5892 A.3: MIDDLE DOT only between two l (Catalan) */
		if (c == 0xb7 && (i == 0 || i + 1 == n || cp[i - 1] != 'l' || cp[i + 1] != 'l'))
			return 0;
		for (k = 0; k < sizeof never / sizeof never[0]; k++)
			if (c >= never[k][0] && c <= never[k][1])
				return 0;
	}
	return 1;
}

/* RFC 3492 6.1 */
static uint32_t
adapt(uint32_t delta, uint32_t npoints, int first)
{
	uint32_t k = 0;

	delta = first ? delta / DAMP : delta / 2;
	delta += delta / npoints;
	while (delta > ((BASE - TMIN) * TMAX) / 2) {
		delta /= BASE - TMIN;
		k += BASE;
	}
	return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

static uint32_t
threshold(uint32_t k, uint32_t bias)
{
	return k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
}

/* see mtasts.h (RFC 3492 6.3; n <= IDN_LABEL_CPS keeps delta small) */
int
idn_encode_label(const uint32_t *cp, size_t n, char *out, size_t cap)
{
	uint32_t c = 0x80, delta = 0, bias = BIAS0, m, q, k, t;
	size_t h, b, j, o = 0;

	if (n > IDN_LABEL_CPS)
		return -1;
	for (j = 0; j < n; j++)
		if (cp[j] < 0x80) {
			if (o >= cap)
				return -1;
			out[o++] = (char)cp[j];
		}
	h = b = o;
	if (b > 0) {
		if (o >= cap)
			return -1;
		out[o++] = '-';
	}
	while (h < n) {
		m = 0xffffffff;
		for (j = 0; j < n; j++)
			if (cp[j] >= c && cp[j] < m)
				m = cp[j];
		if (m > 0x10ffff)
			return -1;
		delta += (m - c) * (uint32_t)(h + 1);
		c = m;
		for (j = 0; j < n; j++) {
			if (cp[j] < c)
				delta++;
			if (cp[j] != c)
				continue;
			for (q = delta, k = BASE;; k += BASE) {
				uint32_t d;

				t = threshold(k, bias);
				d = q < t ? q : t + (q - t) % (BASE - t);
				if (o >= cap)
					return -1;
				out[o++] = (char)(d < 26 ? 'a' + d : '0' + d - 26);
				if (q < t)
					break;
				q = (q - t) / (BASE - t);
			}
			bias = adapt(delta, (uint32_t)h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		c++;
	}
	return (int)o;
}

/* see mtasts.h (RFC 3492 6.2, with its overflow checks) */
int
idn_decode_label(const char *s, size_t len, uint32_t *cp, size_t cap)
{
	uint32_t c = 0x80, i = 0, bias = BIAS0, w, k, t, d, oldi;
	size_t j, b = 0, in, out;

	for (j = 0; j < len; j++)
		if (s[j] == '-')
			b = j;
	if (b > cap)
		return -1;
	for (j = 0; j < b; j++) {
		if ((unsigned char)s[j] >= 0x80)
			return -1;
		cp[j] = (unsigned char)s[j];
	}
	out = b;
	for (in = b > 0 || (len > 0 && s[0] == '-') ? b + 1 : 0; in < len; ) {
		oldi = i;
		for (w = 1, k = BASE;; k += BASE) {
			if (in >= len)
				return -1;
			d = (unsigned char)s[in++];
			d = d - '0' < 10 ? d - 22 : (d | 0x20) - 'a' < 26 ? (d | 0x20) - 'a' : BASE;
			if (d >= BASE || d > (0xffffffff - i) / w)
				return -1;
			i += d * w;
			t = threshold(k, bias);
			if (d < t)
				break;
			if (w > 0xffffffff / (BASE - t))
				return -1;
			w *= BASE - t;
		}
		out++;
		bias = adapt(i - oldi, (uint32_t)out, oldi == 0);
		if (i / out > 0x10ffff - c || out > cap)
			return -1;
		c += i / (uint32_t)out;
		i %= (uint32_t)out;
		memmove(cp + i + 1, cp + i, (out - 1 - i) * sizeof *cp);
		cp[i++] = c;
	}
	return (int)out;
}

/* see mtasts.h */
int
idn_to_ascii(const uint8_t *in, size_t len, char *out, size_t cap)
{
	uint32_t cp[IDN_LABEL_CPS];
	char a[LABEL_MAX];
	size_t i = 0, o = 0, s, n, k;
	int r, uni, err;

	if (len == 0)
		return IDN_ERR_SYNTAX;
	for (;;) {
		/* one label: in[s..i) */
		for (uni = 0, s = i; i < len && in[i] != '.'; i++)
			uni |= in[i] >= 0x80;
		n = i - s;
		err = n >= 4 && (in[s] | 0x20) == 'x' && (in[s + 1] | 0x20) == 'n' &&
		    in[s + 2] == '-' && in[s + 3] == '-' ? IDN_ERR_LABEL : IDN_ERR_SYNTAX;
		if (uni) {
			/* a U-label: its code points, lowercased (IDN-2) */
			for (n = 0, k = s; k < i; k += (size_t)r, n++) {
				if (n == IDN_LABEL_CPS)
					return IDN_ERR_LABEL;
				if ((r = (int)idn_utf8(in + k, i - k, &cp[n])) == 0)
					return IDN_ERR_UTF8;
				cp[n] = fold(cp[n]);
			}
		} else {
			/* LDH, lowercased (KEY-3) */
			if (n == 0 || n > LABEL_MAX)
				return err;
			if (cap - o < n + 1)
				return IDN_ERR_SYNTAX;
			for (k = 0; k < n; k++) {
				int c = ascii_tolower(in[s + k]);

				if (!ascii_isalnum(c) && c != '-')
					return err;
				out[o + k] = (char)c;
			}
			if (out[o] == '-' || out[o + n - 1] == '-')
				return err;
			if (err == IDN_ERR_SYNTAX) {
				/* "--" there is reserved for IDNA (RFC 5891 4.2.3.1) */
				if (n >= 4 && out[o + 2] == '-' && out[o + 3] == '-')
					return err;
				o += n;
				goto next;
			}
			/* an "xn--" label: its U-label, checked below */
			if ((r = idn_decode_label(out + o + 4, n - 4, cp, IDN_LABEL_CPS)) <= 0)
				return err;
			k = n - 4;
			n = (size_t)r;
		}
		/* cp[0..n) must be a U-label whose A-label has at most 63
		 * octets, and an A-label given must be exactly that encoding
		 * (RFC 5891 5.4: the round trip).  It cannot be all ASCII: an
		 * xn-- label that decodes so ends in "-" or is empty. */
		if (!label_ok(cp, n) ||
		    (r = idn_encode_label(cp, n, a, LABEL_MAX - 4)) < 0 ||
		    (!uni && ((size_t)r != k || memcmp(a, out + o + 4, k) != 0)))
			return IDN_ERR_LABEL;
		if (cap - o < (size_t)r + 5)
			return IDN_ERR_SYNTAX;          /* the name is too long */
		memcpy(out + o, "xn--", 4);
		memcpy(out + o + 4, a, (size_t)r);
		o += 4 + (size_t)r;
next:
		out[o++] = '.';
		if (i++ == len)
			break;
	}
	out[--o] = '\0';
	return (int)o;
}

/* see mtasts.h */
int
idn_to_unicode(const char *in, size_t len, char *out, size_t cap)
{
	uint32_t cp[IDN_LABEL_CPS];
	size_t i = 0, s, o = 0;
	int n, k;

	while (i <= len) {
		for (s = i; i < len && in[i] != '.'; i++)
			;
		if (i - s > 4 && memcmp(in + s, "xn--", 4) == 0 &&
		    (n = idn_decode_label(in + s + 4, i - s - 4, cp, IDN_LABEL_CPS)) > 0) {
			for (k = 0; k < n; k++) {
				uint32_t c = cp[k];
				size_t l = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4, j;

				if (cap - o < l + 1)
					return -1;
				for (j = l; --j > 0; c >>= 6)
					out[o + j] = (char)(0x80 | (c & 0x3f));
				out[o] = (char)(l == 1 ? c : (0xf00u >> l & 0xf0) | c);
				o += l;
			}
		} else {
			if (cap - o < i - s + 1)
				return -1;
			memcpy(out + o, in + s, i - s);
			o += i - s;
		}
		out[o++] = '.';
		if (i++ == len)
			break;
	}
	out[--o] = '\0';
	return (int)o;
}
