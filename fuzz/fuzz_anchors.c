/* fuzz_anchors.c - the CA bundle readers on arbitrary bytes.
 *
 * As DER: the signature hashes named are ones x509_minimal has, at most
 * two; where BearSSL's own X.509 decoder accepts a certificate with a
 * key an anchor can hold, anchors_cert_parse must too, with the same DN,
 * key and CA flag; what it accepts stays inside the input.
 * As PEM: decoding in place never grows, and the DER it leaves is walked
 * to the end without a crash. */
#include <stdlib.h>
#include <string.h>
#include "mtasts.h"
#include "tests/anchors_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
inside(const uint8_t *data, size_t size, const unsigned char *p, size_t len)
{
	return p >= data && len <= size && (size_t)(p - data) <= size - len;
}

static void
as_der(const uint8_t *data, size_t size)
{
	struct cert_anchor a;
	size_t used;
	int rc = anchors_cert_parse(data, size, &used, &a);
	unsigned h = anchors_cert_sig_hashes(data, size);

	if (used > size)
		abort();
	/* only hashes x509_minimal has (SHA-1 .. SHA-512), one per field */
	if ((h & ~((1u << br_sha1_ID) | (1u << br_sha224_ID) | (1u << br_sha256_ID) |
	    (1u << br_sha384_ID) | (1u << br_sha512_ID))) != 0 || __builtin_popcount(h) > 2)
		abort();
	if (rc == 0) {
		if (!inside(data, size, a.dn, a.dnlen) || a.dnlen == 0)
			abort();
		if (a.key_type == BR_KEYTYPE_RSA ?
		    !inside(data, size, a.n, a.nlen) || !inside(data, size, a.e, a.elen) ||
		    a.nlen == 0 || a.elen == 0 || a.n[0] == 0 || a.e[0] == 0 :
		    a.key_type != BR_KEYTYPE_EC || !inside(data, size, a.q, a.qlen))
			abort();
	}

	/* where BearSSL accepts it, so must we, with the same figures (a
	 * failed parse leaves a zeroed, so it differs) */
	if (oracle_anchor(data, size, &a) == 0)
		abort();
}

static void
as_pem(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size + 1);
	struct cert_anchor a;
	size_t len, used, off = 0;
	int skipped = 0;

	if (buf == NULL)
		return;
	memcpy(buf, data, size);
	len = anchors_pem_to_der(buf, size, &skipped);
	if (len > size || skipped < 0)
		abort();
	/* plain LF-terminated text that both decode without complaint: the
	 * same bytes (BearSSL's decoder is laxer about what it skips) */
	if (skipped == 0 && size > 0 && data[size - 1] == '\n' &&
	    memchr(data, '\r', size) == NULL && memchr(data, '\t', size) == NULL &&
	    memchr(data, ' ', size) == NULL) {
		static unsigned char ref[1 << 16];
		long n = oracle_pem(data, size, ref, sizeof ref);

		if (n >= 0 && ((size_t)n != len || memcmp(ref, buf, len) != 0))
			abort();
	}
	while (off < len) {
		(void)anchors_cert_parse(buf + off, len - off, &used, &a);
		if (used == 0)
			break;
		if (used > len - off)
			abort();
		off += used;
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_der(data, size);
	as_pem(data, size);
	return 0;
}
