/* key.c - socketmap key -> MTA-STS policy domain (pure)
 *
 * The key is Postfix's next-hop: a recipient domain, or a transport or
 * relayhost destination with brackets and a port or service.  Anything
 * that is not plainly a DNS hostname is refused here, before any cache
 * lookup or DNS query (KEY-1..KEY-11).  International names become
 * A-labels here (idn.c), so every later step sees one spelling.
 */
#include <string.h>

#include "mtasts.h"

/* Hex digits, colons and dots with at least two colons: an IPv6
 * address, possibly with an embedded IPv4 tail.  Not a full parser;
 * it only has to tell addresses from host:port. */
static int
looks_ipv6(const char *p, size_t n)
{
	size_t i, colons = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == ':')
			colons++;
		else if (ascii_hexval((unsigned char)p[i]) < 0 && p[i] != '.')
			return 0;
	}
	return colons >= 2;
}

/* A host name in any mix of LDH labels, A-labels and U-labels -> its
 * lowercase A-label form (idn.c), after one trailing dot is stripped
 * (KEY-4).  A name made only of numeric labels, as inet_aton would read
 * it (1 to 4 labels), is an IPv4 literal. */
static enum key_status
key_domain(const char *p, size_t n, char out[DOMAIN_MAX + 1])
{
	size_t i, labels = 0;
	int numeric = 1, allnum = 1, r;

	if (n > 0 && p[n - 1] == '.')
		n--;
	r = idn_to_ascii((const uint8_t *)p, n, out, DOMAIN_MAX + 1);
	if (r < 0) {
		out[0] = '\0';
		return r == IDN_ERR_UTF8 ? KEY_BAD_UTF8 : r == IDN_ERR_LABEL ? KEY_BAD_IDN : KEY_BAD;
	}
	for (i = 0; i <= (size_t)r; i++) {
		if (out[i] == '.' || out[i] == '\0') {
			labels++;
			allnum &= numeric;
			if (i < (size_t)r)
				numeric = 1;
		} else if (!ascii_isdigit(out[i])) {
			numeric = 0;
		}
	}
	/* a numeric top-level label is no hostname (and no TLD); [D]
	 * single-label names (localhost, intranet hosts) have no policy;
	 * "_mta-sts." + name must fit in 255 wire octets */
	if (allnum || numeric || labels < 2 || r > POLICY_DOMAIN_MAX) {
		out[0] = '\0';
		return allnum && labels <= 4 ? KEY_IP_LITERAL : KEY_BAD;
	}
	return KEY_OK;
}

/* "[host]" or "[host]:port" (key[0] is '['): an address literal, or the
 * host checked as a domain; the port or service is ignored (KEY-5). */
static enum key_status
key_bracketed(const char *key, size_t len, char out[DOMAIN_MAX + 1])
{
	const char *end = memchr(key, ']', len), *host;
	size_t i, hn, rest;

	if (end == NULL)
		return KEY_BAD;
	host = key + 1;
	hn = (size_t)(end - host);
	/* after "]": nothing, or ":" and a port or service, ignored */
	rest = len - (size_t)(end - key) - 1;
	if (rest > 0) {
		if (end[1] != ':' || rest == 1)
			return KEY_BAD;
		for (i = 2; i <= rest; i++)
			if (end[i] == ':' || end[i] == '[' || end[i] == ']')
				return KEY_BAD;
	}
	/* RFC 5321 address literal tag, any case (KEY-7) */
	if (hn >= 5 && (host[0] == 'I' || host[0] == 'i') &&
	    (host[1] == 'P' || host[1] == 'p') &&
	    (host[2] == 'V' || host[2] == 'v') && host[3] == '6' &&
	    host[4] == ':')
		return KEY_IP_LITERAL;
	if (memchr(host, ':', hn) != NULL)
		return looks_ipv6(host, hn) ? KEY_IP_LITERAL : KEY_BAD;
	/* parent lookups are only made for unbracketed names */
	if (hn > 0 && host[0] == '.')
		return KEY_BAD;
	return key_domain(host, hn, out);
}

enum key_status
key_normalize(const char *key, size_t len, char out[DOMAIN_MAX + 1])
{
	const char *colon = NULL;
	size_t i, n, hn, colons = 0;

	out[0] = '\0';
	if (key == NULL || len == 0)
		return KEY_BAD;
	/* controls and whitespace: no lookup; non-ASCII must be UTF-8
	 * (U-labels, KEY-9), and can never be one of the ASCII delimiters
	 * the rest looks for */
	for (i = 0; i < len; i += n) {
		uint32_t cp;

		if ((unsigned char)key[i] <= 0x20 || key[i] == 0x7f)
			return KEY_BAD;
		if ((n = idn_utf8((const uint8_t *)key + i, len - i, &cp)) == 0)
			return KEY_BAD_UTF8;
	}
	if (key[0] == '[')
		return key_bracketed(key, len, out);

	/* Postfix's own parent-domain probe: policies are never inherited */
	if (key[0] == '.')
		return KEY_PARENT;

	for (i = 0; i < len; i++) {
		if (key[i] == ':') {
			colons++;
			colon = key + i;
		}
	}
	/* two or more colons is an address, never host:port (KEY-7 first) */
	if (colons >= 2)
		return looks_ipv6(key, len) ? KEY_IP_LITERAL : KEY_BAD;
	hn = len;
	if (colon != NULL) {
		hn = (size_t)(colon - key);
		if (hn + 1 == len)
			return KEY_BAD;         /* "host:" with no port */
	}
	return key_domain(key, hn, out);
}

const char *
key_status_str(enum key_status s)
{
	switch (s) {
	case KEY_OK:
		return "ok";
	case KEY_PARENT:
		return "parent";
	case KEY_IP_LITERAL:
		return "ip-literal";
	case KEY_BAD:
		return "bad-key";
	case KEY_BAD_UTF8:
		return "bad-utf8";
	case KEY_BAD_IDN:
		return "bad-idn";
	}
	return "unknown";
}
