/* anchors_oracle.h - BearSSL's own decoders as the oracle for anchors.c,
 * shared by tests/unit_anchors.c and fuzz/fuzz_anchors.c. */
#ifndef ANCHORS_ORACLE_H
#define ANCHORS_ORACLE_H
#include <string.h>
#include "mtasts.h"

struct oracle_sink {
	unsigned char buf[65536];
	size_t len;
	int over;               /* more than buf holds was pushed */
};

static void
oracle_append(void *ctx, const void *buf, size_t len)
{
	struct oracle_sink *s = ctx;

	if (len > sizeof s->buf - s->len) {
		s->over = 1;
		return;
	}
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
}

/*
 * Compare a with what br_x509_decoder makes of der[0..len): 1 the same DN,
 * key and CA flag, 0 different, -1 BearSSL refuses it (or its key is on a
 * curve no anchor of ours may have).
 */
static int
oracle_anchor(const unsigned char *der, size_t len, const struct cert_anchor *a)
{
	static struct oracle_sink dn;
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;

	dn.len = 0;
	dn.over = 0;
	br_x509_decoder_init(&dc, oracle_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || br_x509_decoder_last_error(&dc) != 0 || dn.over)
		return -1;
	if (pk->key_type == BR_KEYTYPE_EC && pk->key.ec.curve != BR_EC_secp256r1 &&
	    pk->key.ec.curve != BR_EC_secp384r1 && pk->key.ec.curve != BR_EC_secp521r1)
		return -1;
	if (a->key_type != pk->key_type || a->dnlen != dn.len ||
	    memcmp(a->dn, dn.buf, dn.len) != 0 || a->is_ca != (br_x509_decoder_isCA(&dc) != 0))
		return 0;
	if (pk->key_type == BR_KEYTYPE_RSA)
		return a->nlen == pk->key.rsa.nlen && memcmp(a->n, pk->key.rsa.n, a->nlen) == 0 &&
		    a->elen == pk->key.rsa.elen && memcmp(a->e, pk->key.rsa.e, a->elen) == 0;
	return a->curve == pk->key.ec.curve && a->qlen == pk->key.ec.qlen &&
	    memcmp(a->q, pk->key.ec.q, a->qlen) == 0;
}

/* BearSSL's PEM decoder: the DER of the CERTIFICATE objects, concatenated;
 * -1 on a decoding error, an unfinished object or too much output. */
static long
oracle_pem(const unsigned char *pem, size_t len, unsigned char *out, size_t cap)
{
	static struct oracle_sink obj;
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
			obj.len = 0;
			obj.over = 0;
			br_pem_decoder_setdest(&pc, oracle_append, &obj);
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
#endif
