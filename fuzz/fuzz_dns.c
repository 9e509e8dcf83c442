/* fuzz_dns.c - libFuzzer target for the DNS reply parser and the
 * resolv.conf parser.  The reply's own first two bytes serve as the
 * expected ID so that mutations reach past the header check; the question
 * must be _mta-sts.example.com (the seeds carry it). */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_result res;

static void
check(enum dns_status st, uint16_t qtype)
{
	int i;

	if (st != res.status)
		abort();
	if (st != DNS_DATA && (res.ntxt != 0 || res.naddr != 0))
		abort();
	if (res.ntxt < 0 || res.ntxt > DNS_TXT_MAX || res.naddr < 0 ||
	    res.naddr > DNS_ADDR_MAX)
		abort();
	if (qtype != DNS_T_TXT && res.ntxt != 0)
		abort();
	for (i = 0; i < res.ntxt; i++) {
		if ((size_t)res.txt[i].off + res.txt[i].len > DNS_TXT_BUF)
			abort();
		if (res.txt[i].len > TXT_RECORD_MAX)
			abort();
	}
	if (st == DNS_CNAME) {
		/* the target must be something we can ask for */
		uint8_t q[600];
		if (dns_build_query(q, sizeof q, 1, res.cname, qtype, 1) == 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { DNS_T_TXT, DNS_T_A, DNS_T_AAAA };
	struct dns_servers s;
	char name[300];
	uint8_t q[600];
	size_t ql;
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	size_t i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		check(dns_parse_reply(data, size, id, "_mta-sts.example.com",
		    types[i], &res), types[i]);
	if (dns_servers_parse((const char *)data, size, &s) != s.n ||
	    s.n < 0 || s.n > DNS_NS_MAX || s.timeout_ms < 1000 ||
	    s.timeout_ms > 30000 || s.attempts < 1 || s.attempts > 5)
		abort();

	/* round trip: the question built for any name, turned into an empty
	 * NOERROR reply, must parse as a reply to that name with no data */
	ql = size < sizeof name - 1 ? size : sizeof name - 1;
	memcpy(name, data, ql);
	name[ql] = '\0';
	ql = dns_build_query(q, sizeof q, 7, name, DNS_T_TXT, size & 1);
	if (ql > 0) {
		q[2] |= 0x80;
		if (dns_parse_reply(q, ql, 7, name, DNS_T_TXT, &res) != DNS_NONE)
			abort();
	}
	return 0;
}
