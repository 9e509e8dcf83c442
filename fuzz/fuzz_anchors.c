/* fuzz_anchors.c - the CA bundle readers on arbitrary bytes.
 *
 * As DER: where BearSSL's own X.509 decoder accepts a certificate with a
 * key an anchor can hold, anchors_cert_parse must too, with the same DN,
 * key and CA flag; what it accepts stays inside the input.
 * As PEM: decoding in place never grows, and the DER it leaves is walked
 * to the end without a crash. */
#include <stdlib.h>
#include <string.h>
#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct dn_copy {
	unsigned char buf[4096];
	size_t len;
	int over;
};

static void
dn_append(void *ctx, const void *buf, size_t len)
{
	struct dn_copy *d = ctx;

	if (len > sizeof d->buf - d->len) {
		d->over = 1;
		return;
	}
	memcpy(d->buf + d->len, buf, len);
	d->len += len;
}

static int
inside(const uint8_t *data, size_t size, const unsigned char *p, size_t len)
{
	return p >= data && len <= size && (size_t)(p - data) <= size - len;
}

static void
as_der(const uint8_t *data, size_t size)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	struct cert_anchor a;
	struct dn_copy dn;
	size_t used;
	int rc = anchors_cert_parse(data, size, &used, &a);

	if (used > size)
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

	memset(&dn, 0, sizeof dn);
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, data, size);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || br_x509_decoder_last_error(&dc) != 0 || dn.over)
		return;
	if (pk->key_type == BR_KEYTYPE_EC && pk->key.ec.curve != BR_EC_secp256r1 &&
	    pk->key.ec.curve != BR_EC_secp384r1 && pk->key.ec.curve != BR_EC_secp521r1)
		return;         /* a curve no anchor of ours may have */
	/* BearSSL accepted it: so must we, with the same figures */
	if (rc != 0 || a.key_type != pk->key_type || a.dnlen != dn.len ||
	    memcmp(a.dn, dn.buf, dn.len) != 0 || a.is_ca != (br_x509_decoder_isCA(&dc) != 0))
		abort();
	if (pk->key_type == BR_KEYTYPE_RSA) {
		if (a.nlen != pk->key.rsa.nlen || memcmp(a.n, pk->key.rsa.n, a.nlen) != 0 ||
		    a.elen != pk->key.rsa.elen || memcmp(a.e, pk->key.rsa.e, a.elen) != 0)
			abort();
	} else if (a.curve != pk->key.ec.curve || a.qlen != pk->key.ec.qlen ||
	    memcmp(a.q, pk->key.ec.q, a.qlen) != 0) {
		abort();
	}
}

/* BearSSL's PEM decoder: the DER of CERTIFICATE objects, concatenated;
 * -1 on a decoding error */
static long
bearssl_pem(const uint8_t *pem, size_t len, unsigned char *out, size_t cap)
{
	static struct dn_copy obj;
	br_pem_decoder_context pc;
	size_t n = 0;
	int in_cert = 0;

	br_pem_decoder_init(&pc);
	while (len > 0) {
		size_t k = br_pem_decoder_push(&pc, pem, len);

		pem += k;
		len -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			in_cert = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0;
			memset(&obj, 0, sizeof obj);
			br_pem_decoder_setdest(&pc, dn_append, &obj);
			break;
		case BR_PEM_END_OBJ:
			if (in_cert) {
				if (obj.over || obj.len > cap - n)
					return -1;
				memcpy(out + n, obj.buf, obj.len);
				n += obj.len;
			}
			in_cert = 0;
			break;
		case BR_PEM_ERROR:
			return -1;
		}
	}
	return in_cert ? -1 : (long)n;
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
		long n = bearssl_pem(data, size, ref, sizeof ref);

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
