/* fuzz_x509cache.c - the verified-intermediate cache never accepts what a
 * full check rejects.
 *
 * Input: a 4-byte day (BearSSL's count), a signed byte of days, then five
 * DER blobs, each after a 2-byte length: anchor, leaf A, intermediate A,
 * leaf B, intermediate B.  Chain A is checked first (it may leave its
 * intermediate in the cache), then chain B, that many days later, with
 * the cache as A left it and again with an empty one: B may be accepted
 * through the cache only if the full check accepts it too.  The seeds are
 * tests/tls/gen.sh chains, so mutations start from chains that verify. */
#include <stdlib.h>
#include <string.h>
#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HOST "mta-sts.example.com"

static int
blob(const uint8_t **p, size_t *n, const unsigned char **der, size_t *len)
{
	if (*n < 2)
		return -1;
	*len = (size_t)(*p)[0] << 8 | (*p)[1];
	if (*len == 0 || *len > *n - 2)
		return -1;
	*der = *p + 2;
	*p += 2 + *len;
	*n -= 2 + *len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned gen;
	const unsigned char *der[5];
	size_t len[5], used;
	struct cert_anchor a;
	br_x509_trust_anchor t;
	struct anchors ta;
	uint32_t day, day2;
	uint64_t dnkey;
	unsigned full, cached;
	int i, via, via_full;

	if (size < 5)
		return 0;
	day = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
	day2 = day + (uint32_t)(int)(signed char)data[4];
	data += 5;
	size -= 5;
	for (i = 0; i < 5; i++)
		if (blob(&data, &size, &der[i], &len[i]) < 0)
			return 0;
	if (anchors_cert_parse(der[0], len[0], &used, &a) < 0)
		return 0;
	memset(&t, 0, sizeof t);
	t.dn.data = (unsigned char *)(uintptr_t)a.dn;
	t.dn.len = a.dnlen;
	t.flags = a.is_ca ? BR_X509_TA_CA : 0;
	t.pkey.key_type = (unsigned char)a.key_type;
	if (a.key_type == BR_KEYTYPE_RSA) {
		t.pkey.key.rsa.n = (unsigned char *)(uintptr_t)a.n;
		t.pkey.key.rsa.nlen = a.nlen;
		t.pkey.key.rsa.e = (unsigned char *)(uintptr_t)a.e;
		t.pkey.key.rsa.elen = a.elen;
	} else {
		t.pkey.key.ec.curve = a.curve;
		t.pkey.key.ec.q = (unsigned char *)(uintptr_t)a.q;
		t.pkey.key.ec.qlen = a.qlen;
	}
	memset(&ta, 0, sizeof ta);
	ta.ta = &t;
	ta.n = 1;
	dnkey = anchors_dn_key(a.dn, a.dnlen);  /* anchors picked by issuer, as loaded */
	ta.dnkey = &dnkey;
	ta.all_ca = a.is_ca;
	ta.gen = ++gen ? gen : ++gen;   /* a new bundle: an empty cache */

	(void)xchain_check(&ta, HOST, der + 1, len + 1, 2, day, 43200, &via);
	cached = xchain_check(&ta, HOST, der + 3, len + 3, 2, day2, 43200, &via);
	xcache_clear();
	full = xchain_check(&ta, HOST, der + 3, len + 3, 2, day2, 43200, &via_full);
	if (via_full || (cached == 0 && full != 0))
		abort();
	if (via && full != 0)
		abort();
	return 0;
}
