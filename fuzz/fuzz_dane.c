/* fuzz_dane.c - libFuzzer target for the DANE side of the DNS parser (MX
 * and TLSA records, the AD bit and TTLs) and dane.c over what it keeps.
 * As in fuzz_dns.c the reply's own first two bytes serve as the expected
 * ID; the questions are "example.com" MX and "_25._tcp.mx.example.com"
 * TLSA (the seeds carry them). */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_result res;
static char host[DANE_HOSTS_MAX][DOMAIN_MAX + 1];

static void
check_kept(enum dns_status st)
{
	int i;

	if (st != res.status || res.ntxt < 0 || res.ntxt > DNS_TXT_MAX ||
	    (st != DNS_DATA && res.ntxt != 0) || res.ad > 1)
		abort();
	if (st == DNS_DATA && (res.ntxt == 0 || res.ttl == UINT32_MAX))
		abort();
	for (i = 0; i < res.ntxt; i++)
		if ((size_t)res.txt[i].off + res.txt[i].len > DNS_TXT_BUF)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	uint8_t hres[DANE_HOSTS_MAX], q[DNS_QUERY_MAX];
	enum dns_status st;
	int n, more, i;

	st = dns_parse_reply(data, size, id, "example.com", DNS_T_MX, &res);
	check_kept(st);
	if (st == DNS_DATA) {
		n = dane_mx_hosts(&res, host, DANE_HOSTS_MAX, &more);
		if (n < 0 || n > DANE_HOSTS_MAX || (more && n != DANE_HOSTS_MAX))
			abort();
		/* every host kept is a name we can ask about */
		for (i = 0; i < n; i++)
			if (strlen(host[i]) == 0 || strlen(host[i]) > DOMAIN_MAX ||
			    dns_build_query(q, sizeof q, 1, host[i], DNS_T_A, 2) == 0)
				abort();
	}
	st = dns_parse_reply(data, size, id, "_25._tcp.mx.example.com", DNS_T_TLSA, &res);
	check_kept(st);
	for (i = 0; i < res.ntxt; i++)
		if (dane_tlsa_usable(res.txtbuf + res.txt[i].off, res.txt[i].len) > 1)
			abort();
	/* the decision over any host results is one of the three */
	n = size < DANE_HOSTS_MAX ? (int)size : DANE_HOSTS_MAX;
	for (i = 0; i < n; i++)
		hres[i] = data[i] % (DH_USABLE + 1);
	st = (enum dns_status)dane_decide(hres, n, size & 1);
	if ((int)st != DANE_NONE && (int)st != DANE_SOME && (int)st != DANE_ALL)
		abort();
	return 0;
}
