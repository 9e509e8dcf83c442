/* key.c - socketmap key -> MTA-STS policy domain (pure)
 *
 * The key is Postfix's next-hop: a recipient domain, or a transport or
 * relayhost destination with brackets and a port or service.  Anything
 * that is not plainly a DNS hostname is refused here, before any cache
 * lookup or DNS query (KEY-1..KEY-11).
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

/* Validate an LDH host name and copy it lowercase.  One trailing dot is
 * stripped first (KEY-4).  A name made only of numeric labels, as
 * inet_aton would read it (1 to 4 labels), is an IPv4 literal. */
static enum key_status
key_domain(const char *p, size_t n, char out[DOMAIN_MAX + 1])
{
	size_t i, lab = 0, labels = 0;
	int numeric = 1, allnum = 1;

	if (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX)
		return KEY_BAD;
	for (i = 0; i <= n; i++) {
		unsigned c = i < n ? (unsigned char)p[i] : '.';

		if (c == '.') {
			if (lab == 0 || p[i - 1] == '-')
				return KEY_BAD;
			labels++;
			if (!numeric)
				allnum = 0;
			if (i < n) {
				lab = 0;
				numeric = 1;
			}
			continue;
		}
		if (!ascii_isalnum(c) && !(c == '-' && lab > 0))
			return KEY_BAD;
		if (!ascii_isdigit(c))
			numeric = 0;
		if (++lab > LABEL_MAX)
			return KEY_BAD;
	}
	if (allnum)
		return labels <= 4 ? KEY_IP_LITERAL : KEY_BAD;
	/* a numeric top-level label is no hostname (and no TLD) */
	if (numeric)
		return KEY_BAD;
	/* [D] single-label names (localhost, intranet hosts) have no policy */
	if (labels < 2)
		return KEY_BAD;
	/* "_mta-sts." + name must fit in 255 wire octets */
	if (n > POLICY_DOMAIN_MAX)
		return KEY_BAD;
	for (i = 0; i < n; i++)
		out[i] = (char)ascii_tolower((unsigned char)p[i]);
	out[n] = '\0';
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
	size_t i, hn, colons = 0;

	out[0] = '\0';
	if (key == NULL || len == 0)
		return KEY_BAD;
	/* [D] non-ASCII (U-labels), controls and whitespace: no lookup */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c <= 0x20 || c >= 0x7f)
			return KEY_BAD;
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
	}
	return "unknown";
}
