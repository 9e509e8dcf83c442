/* unit_anchors.c - anchors.c: PEM armour off in place, and the DER walk
 * that takes a certificate's subject, key and CA flag.  Where BearSSL's
 * own decoders accept an input, the results must be theirs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"
#include "unit.h"
#include "anchors_oracle.h"

/* ---- a small DER writer for hand-made certificates ------------------ */

struct w {
	unsigned char b[4096];
	size_t n;
};

static void
put(struct w *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
tlv(struct w *w, unsigned char tag, const struct w *in)
{
	unsigned char h[4] = { tag };

	if (in->n < 128) {
		h[1] = (unsigned char)in->n;
		put(w, h, 2);
	} else {
		h[1] = 0x82;
		h[2] = (unsigned char)(in->n >> 8);
		h[3] = (unsigned char)in->n;
		put(w, h, 4);
	}
	put(w, in->b, in->n);
}

static void
raw_tlv(struct w *w, unsigned char tag, const void *p, size_t n)
{
	struct w in;

	in.n = 0;
	put(&in, p, n);
	tlv(w, tag, &in);
}

static const unsigned char oid_cn[] = { 0x55, 0x04, 0x03 };
static const unsigned char oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const unsigned char oid_sha256rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b };
static const unsigned char oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char oid_brainpool[] = { 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07 };
static const unsigned char oid_ed25519[] = { 0x2b, 0x65, 0x70 };
static const unsigned char oid_bc[] = { 0x55, 0x1d, 0x13 };
static const unsigned char oid_ku[] = { 0x55, 0x1d, 0x0f };

static void
name(struct w *w, const char *cn)
{
	struct w atv = { .n = 0 }, set = { .n = 0 }, seq = { .n = 0 };

	raw_tlv(&atv, 0x06, oid_cn, sizeof oid_cn);
	raw_tlv(&atv, 0x0c, cn, strlen(cn));
	tlv(&set, 0x30, &atv);
	tlv(&seq, 0x31, &set);
	tlv(w, 0x30, &seq);
}

enum keykind { K_RSA, K_RSA_ZERO, K_P384, K_BRAINPOOL, K_ED25519, K_EC_IMPLICIT };
enum bc {
	BC_NONE, BC_CA, BC_CA_CRIT, BC_NOT_CA, BC_EMPTY, BC_NO_EXTS,
	/* basicConstraints twice (RFC 5280 forbids it; BearSSL reads both):
	 * the first without cA then cA TRUE; TRUE then without cA; TRUE then
	 * FALSE.  The last one that states cA decides. */
	BC_EMPTY_THEN_CA, BC_CA_THEN_EMPTY, BC_CA_THEN_NOT_CA
};

/* A certificate: version 3 (1 without extensions), the given key and
 * basicConstraints; the signature is filler (nobody checks an anchor's). */
static size_t
make_cert(unsigned char *out, enum keykind k, enum bc bc)
{
	struct w tbs = { .n = 0 }, t = { .n = 0 }, v = { .n = 0 }, alg = { .n = 0 },
	    spki = { .n = 0 }, key = { .n = 0 }, exts = { .n = 0 }, ext = { .n = 0 },
	    bcv = { .n = 0 }, oct = { .n = 0 }, cert = { .n = 0 }, all = { .n = 0 };
	unsigned char modulus[257], q[97] = { 0x04 }, sig[65] = { 0 };
	static const unsigned char two = 2, serial[] = { 0x01, 0x23 }, e3[] = { 0x01, 0x00, 0x01 };
	static const unsigned char yes = 0xff, no = 0x00, nothing = 0;
	size_t i;

	if (bc != BC_NO_EXTS) {
		raw_tlv(&v, 0x02, &two, 1);
		tlv(&tbs, 0xa0, &v);
	}
	raw_tlv(&tbs, 0x02, serial, sizeof serial);
	v.n = 0;
	raw_tlv(&v, 0x06, oid_sha256rsa, sizeof oid_sha256rsa);
	raw_tlv(&v, 0x05, NULL, 0);
	tlv(&tbs, 0x30, &v);
	name(&tbs, "Test Root");
	v.n = 0;
	raw_tlv(&v, 0x17, "250101000000Z", 13);
	raw_tlv(&v, 0x17, "350101000000Z", 13);
	tlv(&tbs, 0x30, &v);
	name(&tbs, "Test Root");

	for (i = 0; i < sizeof modulus; i++)
		modulus[i] = (unsigned char)(i * 7 + 1);
	modulus[0] = 0x00;      /* DER: a leading zero for a high first bit */
	modulus[1] = 0xc3;
	for (i = 1; i < sizeof q; i++)
		q[i] = (unsigned char)(i * 13);
	switch (k) {
	case K_RSA:
	case K_RSA_ZERO:
		raw_tlv(&alg, 0x06, oid_rsa, sizeof oid_rsa);
		raw_tlv(&alg, 0x05, NULL, 0);
		/* K_RSA_ZERO: a superfluous zero in front of the exponent */
		raw_tlv(&t, 0x02, modulus, sizeof modulus);
		if (k == K_RSA_ZERO) {
			unsigned char ez[4] = { 0x00, 0x01, 0x00, 0x01 };
			raw_tlv(&t, 0x02, ez, sizeof ez);
		} else {
			raw_tlv(&t, 0x02, e3, sizeof e3);
		}
		key.n = 0;
		put(&key, &nothing, 1);
		tlv(&key, 0x30, &t);
		break;
	case K_P384:
	case K_BRAINPOOL:
	case K_EC_IMPLICIT:
		raw_tlv(&alg, 0x06, oid_ec, sizeof oid_ec);
		if (k == K_P384)
			raw_tlv(&alg, 0x06, oid_p384, sizeof oid_p384);
		else if (k == K_BRAINPOOL)
			raw_tlv(&alg, 0x06, oid_brainpool, sizeof oid_brainpool);
		else
			raw_tlv(&alg, 0x05, NULL, 0);
		put(&key, &nothing, 1);
		put(&key, q, sizeof q);
		break;
	case K_ED25519:
		raw_tlv(&alg, 0x06, oid_ed25519, sizeof oid_ed25519);
		put(&key, &nothing, 1);
		put(&key, q + 1, 32);
		break;
	}
	tlv(&spki, 0x30, &alg);
	tlv(&spki, 0x03, &key);
	tlv(&tbs, 0x30, &spki);

	if (bc != BC_NO_EXTS) {
		/* keyUsage first, so the walk must pass over an extension */
		static const unsigned char ku[] = { 0x03, 0x02, 0x01, 0x06 };
		ext.n = 0;
		raw_tlv(&ext, 0x06, oid_ku, sizeof oid_ku);
		raw_tlv(&ext, 0x04, ku, sizeof ku);
		tlv(&exts, 0x30, &ext);
		if (bc == BC_EMPTY_THEN_CA || bc == BC_CA_THEN_EMPTY || bc == BC_CA_THEN_NOT_CA) {
			/* cA value of each: -1 absent, 0 FALSE, 1 TRUE */
			int first = bc == BC_EMPTY_THEN_CA ? -1 : 1;
			int second = bc == BC_EMPTY_THEN_CA ? 1 : bc == BC_CA_THEN_EMPTY ? -1 : 0;
			int round, flag;

			for (round = 0; round < 2; round++) {
				flag = round == 0 ? first : second;
				ext.n = bcv.n = oct.n = 0;
				raw_tlv(&ext, 0x06, oid_bc, sizeof oid_bc);
				if (flag >= 0)
					raw_tlv(&bcv, 0x01, flag ? &yes : &no, 1);
				else    /* a pathLenConstraint alone */
					raw_tlv(&bcv, 0x02, &two, 1);
				tlv(&oct, 0x30, &bcv);
				tlv(&ext, 0x04, &oct);
				tlv(&exts, 0x30, &ext);
			}
		} else if (bc != BC_NONE) {
			ext.n = 0;
			raw_tlv(&ext, 0x06, oid_bc, sizeof oid_bc);
			if (bc == BC_CA_CRIT)
				raw_tlv(&ext, 0x01, &yes, 1);
			if (bc == BC_CA || bc == BC_CA_CRIT)
				raw_tlv(&bcv, 0x01, &yes, 1);
			else if (bc == BC_NOT_CA)
				raw_tlv(&bcv, 0x01, &no, 1);
			tlv(&oct, 0x30, &bcv);
			tlv(&ext, 0x04, &oct);
			tlv(&exts, 0x30, &ext);
		}
		t.n = 0;
		tlv(&t, 0x30, &exts);
		tlv(&tbs, 0xa3, &t);
	}

	tlv(&cert, 0x30, &tbs);
	v.n = 0;
	raw_tlv(&v, 0x06, oid_sha256rsa, sizeof oid_sha256rsa);
	raw_tlv(&v, 0x05, NULL, 0);
	tlv(&cert, 0x30, &v);
	raw_tlv(&cert, 0x03, sig, sizeof sig);
	tlv(&all, 0x30, &cert);
	memcpy(out, all.b, all.n);
	return all.n;
}

/* ---- tests ----------------------------------------------------------- */

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;

	if (fp == NULL)
		return NULL;
	buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	return buf;
}

/* Every certificate of the system bundle: the same DER as BearSSL's PEM
 * decoder, and the same anchor as its X.509 decoder. */
static void
test_system_bundle(void)
{
	static unsigned char ref[1 << 20];
	unsigned char *pem, *copy;
	size_t len, der_len, ref_len, off, used, certs = 0, same = 0;
	struct cert_anchor a;
	int skipped = 0;

	pem = slurp("/etc/ssl/certs/ca-certificates.crt", &len);
	CHECK(pem != NULL);
	if (pem == NULL)
		return;
	ref_len = (size_t)oracle_pem(pem, len, ref, sizeof ref);
	copy = malloc(len);
	memcpy(copy, pem, len);
	der_len = anchors_pem_to_der(copy, len, &skipped);
	CHECK_INT(skipped, 0);
	CHECK(ref_len > 100000);
	CHECK(der_len == ref_len && memcmp(copy, ref, der_len) == 0);
	for (off = 0; off < der_len; off += used) {
		int rc = anchors_cert_parse(copy + off, der_len - off, &used, &a);

		if (used == 0)
			break;
		certs++;
		if (rc == 0 && oracle_anchor(copy + off, used, &a) == 1)
			same++;
	}
	printf("system bundle: %zu certificates, %zu the same as BearSSL's\n", certs, same);
	CHECK(certs > 100);
	CHECK_INT(same, certs);
	CHECK_INT(off, der_len);
	free(copy);
	free(pem);
}

/* pem_to_der on text; returns the DER length, *skipped the dropped objects */
static size_t
pem(const char *text, unsigned char *out, int *skipped)
{
	size_t len = strlen(text);
	unsigned char *buf = malloc(len ? len : 1);  /* exact size: ASan sees overruns */

	memcpy(buf, text, len);
	*skipped = 0;
	len = anchors_pem_to_der(buf, len, skipped);
	memcpy(out, buf, len);
	free(buf);
	return len;
}

static void
test_pem(void)
{
	unsigned char out[256];
	int sk;

	/* "Hello!" = SGVsbG8h, "Hi" = SGk= */
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nSGVsbG8h\n-----END CERTIFICATE-----\n", out, &sk), 6);
	CHECK(memcmp(out, "Hello!", 6) == 0 && sk == 0);
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\r\nSGVs\r\n bG8h \t\r\n-----END CERTIFICATE-----", out, &sk), 6);
	CHECK(memcmp(out, "Hello!", 6) == 0 && sk == 0);
	/* quads split across lines, and odd line lengths */
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nSGVsbG\n8hSGVs\nbG8h\n-----END CERTIFICATE-----\n", out, &sk), 12);
	CHECK(memcmp(out, "Hello!Hello!", 12) == 0 && sk == 0);
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nS\nG\nV\nsbG8hSGk\n=\n-----END CERTIFICATE-----\n", out, &sk), 8);
	CHECK(memcmp(out, "Hello!Hi", 8) == 0 && sk == 0);
	CHECK_INT(pem("text\n-----BEGIN X509 CERTIFICATE-----\nSGk=\n-----END X509 CERTIFICATE-----\nmore\n", out, &sk), 2);
	CHECK(memcmp(out, "Hi", 2) == 0 && sk == 0);
	/* two objects, and one of another kind between them (ignored) */
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nSGk=\n-----END CERTIFICATE-----\n"
	    "-----BEGIN PRIVATE KEY-----\nSGVsbG8h\n-----END PRIVATE KEY-----\n"
	    "-----BEGIN CERTIFICATE-----\nSGVsbG8h\n-----END CERTIFICATE-----\n", out, &sk), 8);
	CHECK(memcmp(out, "HiHello!", 8) == 0 && sk == 0);
	/* broken ones are dropped and counted */
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nSGVsbG8h\n", out, &sk), 0);         /* no END */
	CHECK_INT(sk, 1);
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nSG@sbG8h\n-----END CERTIFICATE-----\n", out, &sk), 0);
	CHECK_INT(sk, 1);
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nSGk=SGk=\n-----END CERTIFICATE-----\n", out, &sk), 0);
	CHECK_INT(sk, 1);                                                           /* data after = */
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nSGVsb\n-----END CERTIFICATE-----\n", out, &sk), 0);
	CHECK_INT(sk, 1);                                                           /* 5 chars */
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", out, &sk), 0);
	CHECK_INT(sk, 1);                                                           /* empty */
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nS===\n-----END CERTIFICATE-----\n", out, &sk), 0);
	CHECK_INT(sk, 1);
	/* cut off, then a whole one: the whole one counts */
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----\nSGVs\n"
	    "-----BEGIN CERTIFICATE-----\nSGk=\n-----END CERTIFICATE-----\n", out, &sk), 2);
	CHECK(memcmp(out, "Hi", 2) == 0 && sk == 1);
	/* nothing at all, and lines that only look like armour */
	CHECK_INT(pem("", out, &sk), 0);
	CHECK_INT(pem("-----BEGIN CERTIFICATE-----", out, &sk), 0);
	CHECK_INT(sk, 1);
	CHECK_INT(pem("----BEGIN CERTIFICATE-----\nSGk=\n-----END CERTIFICATE-----\n", out, &sk), 0);
	CHECK_INT(sk, 0);
	CHECK_INT(pem("-----BEGIN CERTIFICATES-----\nSGk=\n-----END CERTIFICATES-----\n", out, &sk), 0);
	CHECK_INT(sk, 0);
}

static void
test_made_certs(void)
{
	unsigned char der[4096];
	struct cert_anchor a;
	size_t len, used, cut;
	int i;
	static const struct {
		enum keykind k;
		enum bc bc;
		int rc, ca, type;
	} cases[] = {
		{ K_RSA, BC_CA, 0, 1, BR_KEYTYPE_RSA },
		{ K_RSA, BC_CA_CRIT, 0, 1, BR_KEYTYPE_RSA },
		{ K_RSA, BC_NOT_CA, 0, 0, BR_KEYTYPE_RSA },
		{ K_RSA, BC_EMPTY, 0, 0, BR_KEYTYPE_RSA },
		{ K_RSA, BC_NONE, 0, 0, BR_KEYTYPE_RSA },
		{ K_RSA, BC_NO_EXTS, 0, 0, BR_KEYTYPE_RSA },    /* version 1 */
		{ K_RSA, BC_EMPTY_THEN_CA, 0, 1, BR_KEYTYPE_RSA },
		{ K_RSA, BC_CA_THEN_EMPTY, 0, 1, BR_KEYTYPE_RSA },
		{ K_RSA, BC_CA_THEN_NOT_CA, 0, 0, BR_KEYTYPE_RSA },
		{ K_RSA_ZERO, BC_CA, 0, 1, BR_KEYTYPE_RSA },
		{ K_P384, BC_CA, 0, 1, BR_KEYTYPE_EC },
		{ K_BRAINPOOL, BC_CA, -1, 0, 0 },               /* a curve BearSSL lacks */
		{ K_EC_IMPLICIT, BC_CA, -1, 0, 0 },             /* no named curve */
		{ K_ED25519, BC_CA, -1, 0, 0 },                 /* a key BearSSL lacks */
	};

	for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
		len = make_cert(der, cases[i].k, cases[i].bc);
		CHECK_INT(anchors_cert_parse(der, len, &used, &a), cases[i].rc);
		CHECK_INT(used, len);
		if (cases[i].rc != 0)
			continue;
		CHECK_INT(a.is_ca, cases[i].ca);
		CHECK_INT(a.key_type, cases[i].type);
		CHECK_INT(oracle_anchor(der, len, &a), 1);
		if (a.key_type == BR_KEYTYPE_RSA) {
			CHECK_INT(a.nlen, 256);         /* the DER zero is gone */
			CHECK_INT(a.n[0], 0xc3);
			CHECK_INT(a.elen, 3);
		} else {
			CHECK_INT(a.curve, BR_EC_secp384r1);
			CHECK_INT(a.qlen, 97);
		}
		/* every shorter prefix: refused, and nothing read past it (ASan) */
		for (cut = 0; cut < len; cut++) {
			unsigned char *p = malloc(cut ? cut : 1);
			int rc;

			memcpy(p, der, cut);
			rc = anchors_cert_parse(p, cut, &used, &a);
			free(p);
			if (rc != -1 || used != 0)
				break;
		}
		CHECK_INT(cut, len);
	}

	/* lengths: indefinite, five octets, past the end, zero */
	{
		static const unsigned char indef[] = { 0x30, 0x80, 0x00, 0x00 };
		static const unsigned char five[] = { 0x30, 0x85, 0, 0, 0, 0, 1, 0 };
		static const unsigned char past[] = { 0x30, 0x82, 0xff, 0xff, 0x30 };
		static const unsigned char empty[] = { 0x30, 0x00 };
		static const unsigned char wrongtag[] = { 0x31, 0x00 };

		CHECK_INT(anchors_cert_parse(indef, sizeof indef, &used, &a), -1);
		CHECK_INT(used, 0);
		CHECK_INT(anchors_cert_parse(five, sizeof five, &used, &a), -1);
		CHECK_INT(used, 0);
		CHECK_INT(anchors_cert_parse(past, sizeof past, &used, &a), -1);
		CHECK_INT(used, 0);
		CHECK_INT(anchors_cert_parse(empty, sizeof empty, &used, &a), -1);
		CHECK_INT(used, 2);             /* walkable: the next one may be fine */
		CHECK_INT(anchors_cert_parse(wrongtag, sizeof wrongtag, &used, &a), -1);
		CHECK_INT(used, 0);
	}

	/* trailing junk in the TBSCertificate is refused */
	len = make_cert(der, K_RSA, BC_NO_EXTS);
	{
		/* the certificate's outer and TBS lengths both grow by 2: 0x04 0x00 */
		unsigned char bad[4096];
		size_t tbs_end;
		struct cert_anchor b;

		CHECK_INT(anchors_cert_parse(der, len, &used, &b), 0);
		/* rebuild: outer 30 82 hi lo, tbs 30 82 hi lo ... */
		CHECK(der[0] == 0x30 && der[1] == 0x82 && der[4] == 0x30 && der[5] == 0x82);
		tbs_end = 8 + ((size_t)der[6] << 8 | der[7]);
		memcpy(bad, der, tbs_end);
		bad[tbs_end] = 0x04;
		bad[tbs_end + 1] = 0x00;
		memcpy(bad + tbs_end + 2, der + tbs_end, len - tbs_end);
		bad[2] = (unsigned char)((len - 4 + 2) >> 8);
		bad[3] = (unsigned char)(len - 4 + 2);
		bad[6] = (unsigned char)((tbs_end - 8 + 2) >> 8);
		bad[7] = (unsigned char)(tbs_end - 8 + 2);
		CHECK_INT(anchors_cert_parse(bad, len + 2, &used, &b), -1);
		CHECK_INT(used, len + 2);
	}
}

/* Inputs the fuzzer found, kept in its corpus: each must parse, with the
 * CA flag given, and agree with BearSSL. */
static void
test_findings(void)
{
	static const struct {
		const char *file;
		int ca;
	} cases[] = {
		/* a mutated Go Daddy Class 2 root whose authorityKeyIdentifier
		 * OID became basicConstraints' (no cA) ahead of the real one
		 * (cA TRUE): the walk stopped at the first one, BearSSL reads
		 * both */
		{ "fuzz/corpus/anchors/crash-c19c8d29-two-basicconstraints", 1 },
	};
	struct cert_anchor a;
	size_t i, len, used;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned char *der = slurp(cases[i].file, &len);

		CHECK(der != NULL);
		if (der == NULL)
			continue;
		CHECK_INT(anchors_cert_parse(der, len, &used, &a), 0);
		CHECK_INT(used, len);
		CHECK_INT(a.is_ca, cases[i].ca);
		CHECK_INT(oracle_anchor(der, len, &a), 1);
		free(der);
	}
}

/* anchors_load over a bundle of made certificates: the ones an anchor
 * can be are kept, in order, with their flags; the others are skipped. */
static void
test_load(void)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char der[4096];
	char path[] = "/tmp/unit_anchors.XXXXXX", err[256];
	static const enum keykind kinds[] = { K_RSA, K_ED25519, K_P384 };
	static const enum bc bcs[] = { BC_CA, BC_CA, BC_NOT_CA };
	struct anchors ta;
	FILE *fp;
	size_t len, i, j;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	fp = fdopen(fd, "w");
	for (i = 0; i < 3; i++) {
		len = make_cert(der, kinds[i], bcs[i]);
		fprintf(fp, "-----BEGIN CERTIFICATE-----\n");
		for (j = 0; j < len; j += 3) {
			unsigned v = (unsigned)der[j] << 16 |
			    (j + 1 < len ? (unsigned)der[j + 1] << 8 : 0) |
			    (j + 2 < len ? der[j + 2] : 0);
			fputc(b64[v >> 18], fp);
			fputc(b64[(v >> 12) & 63], fp);
			fputc(j + 1 < len ? b64[(v >> 6) & 63] : '=', fp);
			fputc(j + 2 < len ? b64[v & 63] : '=', fp);
			if ((j / 3) % 16 == 15)
				fputc('\n', fp);
		}
		fprintf(fp, "\n-----END CERTIFICATE-----\n");
	}
	fclose(fp);
	CHECK_INT(anchors_load(&ta, path, err, sizeof err), 0);
	CHECK_INT(ta.n, 2);
	if (ta.n == 2) {
		CHECK_INT(ta.ta[0].pkey.key_type, BR_KEYTYPE_RSA);
		CHECK_INT(ta.ta[0].flags, BR_X509_TA_CA);
		CHECK_INT(ta.ta[0].pkey.key.rsa.nlen, 256);
		CHECK_INT(ta.ta[1].pkey.key_type, BR_KEYTYPE_EC);
		CHECK_INT(ta.ta[1].flags, 0);
		CHECK_INT(ta.ta[1].pkey.key.ec.curve, BR_EC_secp384r1);
		CHECK(ta.ta[0].dn.len > 10 && ta.ta[0].dn.data[0] == 0x30);
	}
	anchors_free(&ta);
	CHECK(ta.ta == NULL && ta.n == 0);
	unlink(path);
	/* a directory is not a bundle */
	CHECK_INT(anchors_load(&ta, "/tmp", err, sizeof err), -1);
	CHECK(strstr(err, "/tmp") != NULL);
}

int
main(void)
{
	test_system_bundle();
	test_pem();
	test_made_certs();
	test_findings();
	test_load();
	UNIT_DONE();
}
