/*
 * dane.c - DANE precedence, the pure parts: is a TLSA record usable for
 * SMTP, which MX hosts to examine, and the decision over what each host
 * turned out to be (RFC 7672 2.2 as Postfix applies it; DANE-3, DANE-4).
 * The lookups themselves run in danejob.c.
 */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "mtasts.h"

int
dane_tlsa_usable(const uint8_t *rd, size_t len)
{
	/* RFC 7672 3.1: PKIX-TA(0) and PKIX-EE(1) do not apply to SMTP */
	if (len < 4 || rd[0] < 2 || rd[0] > 3 || rd[1] > 1)
		return 0;
	switch (rd[2]) {
	case 0:
		return 1;               /* the full certificate or key */
	case 1:
		return len - 3 == 32;   /* SHA2-256 */
	case 2:
		return len - 3 == 64;   /* SHA2-512 */
	}
	return 0;
}

int
dane_mx_hosts(const struct dns_result *r, char host[][DOMAIN_MAX + 1], int max, int *more)
{
	int n = 0, i, k;

	*more = 0;
	for (i = 0; i < r->ntxt; i++) {
		const char *h = (const char *)r->txtbuf + r->txt[i].off + 2;
		size_t len = r->txt[i].len;

		if (len <= 2 || len - 2 > DOMAIN_MAX)
			continue;           /* the null MX: no host */
		for (k = 0; k < n && (strlen(host[k]) != len - 2 || memcmp(host[k], h, len - 2)); k++)
			;
		if (k < n)
			continue;           /* named twice */
		if (n == max) {
			*more = 1;
			break;
		}
		memcpy(host[n], h, len - 2);
		host[n++][len - 2] = '\0';
	}
	return n;
}

enum dane_state
dane_decide(const uint8_t *hosts, int n, int more)
{
	int usable = 0, secure = 0, i;

	for (i = 0; i < n; i++) {
		usable += hosts[i] == DH_USABLE;
		secure += hosts[i] == DH_USABLE || hosts[i] == DH_UNUSABLE;
	}
	if (n > 0 && usable == n && !more)
		return DANE_ALL;
	return secure > 0 ? DANE_SOME : DANE_NONE;
}

int
dane_servers_trusted(const struct dns_servers *s)
{
	int i;

	for (i = 0; i < s->n; i++) {
		const struct sockaddr_storage *ss = &s->addr[i];
		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
			if (((const uint8_t *)&a->sin_addr)[0] != 127)
				return 0;
		} else if (ss->ss_family != AF_INET6 ||
		    !IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr)) {
			return 0;
		}
	}
	return s->n > 0;
}

const char *
dane_state_str(enum dane_state s)
{
	static const char *const names[] = { "unknown", "none", "dane", "dane-only",
	    "dnssec lookup failed" };

	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

const char *
dane_host_str(enum dane_host h)
{
	static const char *const names[] = { "address insecure", "no address",
	    "secure address, TLSA insecure", "secure, no TLSA", "secure, TLSA unusable",
	    "secure, TLSA usable" };

	return (unsigned)h < sizeof names / sizeof names[0] ? names[h] : "?";
}
