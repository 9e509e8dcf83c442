/* anchors.c - a PEM bundle of CA certificates -> BearSSL trust anchors
 *
 * BearSSL's PEM and X.509 decoders are T0 byte code: about 1700
 * instructions per byte of PEM, so Debian's bundle of 150 roots took
 * 150 ms at every start, every `-q` and every SIGHUP (in the loop).  An
 * anchor needs three things from its certificate: the subject DN as
 * encoded, the public key and the CA flag; BearSSL checks neither the
 * signature nor the dates of an anchor.  So the armour is taken off by a
 * plain base64 decoder, in place, and each certificate is walked by a
 * small DER reader that skips everything else.  Both are pure functions
 * over (buf, len); fuzz/fuzz_anchors.c holds the reader to
 * br_x509_decoder's results.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

/* ---- PEM -> DER, in place ------------------------------------------ */

/* base64 digit values; the others: B64_SPACE, B64_PAD or B64_BAD */
enum { B64_BAD = -1, B64_SPACE = -2, B64_PAD = -3 };
static signed char b64_table[256];
static int b64_ready;

static void
b64_init(void)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int i;

	memset(b64_table, B64_BAD, sizeof b64_table);
	for (i = 0; i < 64; i++)
		b64_table[(unsigned char)digits[i]] = (signed char)i;
	b64_table[' '] = b64_table['\t'] = b64_table['\r'] = B64_SPACE;
	b64_table['='] = B64_PAD;
	b64_ready = 1;
}

static size_t
line_end(const unsigned char *buf, size_t len, size_t at)
{
	const unsigned char *nl = memchr(buf + at, '\n', len - at);

	return nl != NULL ? (size_t)(nl - buf) : len;
}

static int
starts(const unsigned char *p, size_t n, const char *s)
{
	size_t k = strlen(s);

	return n >= k && memcmp(p, s, k) == 0;
}

/* The label of a "-----BEGIN X-----" line names a certificate. */
static int
label_is_cert(const unsigned char *p, size_t n)
{
	p += 11;                        /* "-----BEGIN " */
	n -= 11;
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return (n == 16 && memcmp(p, "CERTIFICATE-----", 16) == 0) ||
	    (n == 21 && memcmp(p, "X509 CERTIFICATE-----", 21) == 0);
}

/* The base64 decoder's state across the lines of one object. */
struct b64 {
	uint32_t acc;                   /* bits not yet written out */
	int nbits, ndata, npad, bad;
};

/*
 * Decode the base64 of the line buf[in..eol) to buf[*out...]: blanks are
 * skipped, '=' counted, anything else (or data after '=') marks the
 * object bad.  The output never overtakes the input: 3 bytes out per 4 in.
 */
static void
b64_line(unsigned char *buf, size_t i, size_t eol, size_t *out, struct b64 *st)
{
	/* the common case first: whole quads of digits, 3 bytes each (a
	 * quad only starts on a byte boundary) */
	while (st->nbits == 0 && st->npad == 0 && eol - i >= 4) {
		int a = b64_table[buf[i]], b = b64_table[buf[i + 1]],
		    c = b64_table[buf[i + 2]], e = b64_table[buf[i + 3]];
		uint32_t v;

		if ((a | b | c | e) < 0)
			break;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)e;
		buf[*out] = (unsigned char)(v >> 16);
		buf[*out + 1] = (unsigned char)(v >> 8);
		buf[*out + 2] = (unsigned char)v;
		*out += 3;
		st->ndata += 4;
		i += 4;
	}
	for (; i < eol; i++) {
		int v = b64_table[buf[i]];

		if (v >= 0 && st->npad == 0) {
			st->ndata++;
			st->acc = (st->acc << 6) | (uint32_t)v;
			st->nbits += 6;
			if (st->nbits >= 8) {
				st->nbits -= 8;
				/* an ignored object may be overwritten */
				buf[(*out)++] = (unsigned char)(st->acc >> st->nbits);
			}
		} else if (v == B64_PAD) {
			st->npad++;
		} else if (v != B64_SPACE) {
			st->bad = 1;    /* a stranger, or data after '=' */
		}
	}
}

/*
 * The body of the object whose BEGIN line ended before *in: its lines are
 * decoded to buf[*out...] up to its END line, and *in moves past that.
 * Returns 1 if the object is whole and sound, 0 if it is broken (no END
 * line before the next BEGIN or the end of the text, bad base64, nothing).
 */
static int
pem_object(unsigned char *buf, size_t len, size_t *in, size_t *out)
{
	struct b64 st;
	size_t start = *out, eol;
	int ended = 0;

	memset(&st, 0, sizeof st);
	while (*in < len) {
		eol = line_end(buf, len, *in);
		if (starts(buf + *in, eol - *in, "-----END ")) {
			ended = 1;
			*in = eol + 1;
			break;
		}
		if (starts(buf + *in, eol - *in, "-----"))
			break;          /* a new BEGIN: this object is cut */
		b64_line(buf, *in, eol, out, &st);
		*in = eol + 1;
	}
	return ended && !st.bad && st.ndata % 4 != 1 && st.npad <= 2 && *out != start;
}

/*
 * Rewrite buf as the concatenated DER of its PEM certificates, in place
 * (see b64_line).  Text around the objects and objects of other kinds
 * are ignored; a certificate object whose base64 is broken or that has no
 * END line is dropped and counted in *skipped.  Returns the DER length.
 */
size_t
anchors_pem_to_der(unsigned char *buf, size_t len, int *skipped)
{
	size_t in = 0, out = 0;

	if (!b64_ready)
		b64_init();
	while (in < len) {
		size_t eol = line_end(buf, len, in), start = out;
		int is_cert, whole;

		if (!starts(buf + in, eol - in, "-----BEGIN ")) {
			in = eol + 1;
			continue;
		}
		is_cert = label_is_cert(buf + in, eol - in);
		in = eol + 1;
		whole = pem_object(buf, len, &in, &out);
		if (!is_cert || !whole)
			out = start;
		if (is_cert && !whole)
			(*skipped)++;
	}
	return out;
}

/* ---- a certificate's subject, key and CA flag ------------------------ */

struct der {
	const unsigned char *p;
	size_t len;
};

/*
 * Take the next TLV off d if its tag is `tag` (low-tag-number form only,
 * which is all X.509 uses): *val gets the contents, *tlv (if not NULL)
 * the whole TLV.  Definite lengths of up to 4 octets; -1 otherwise.
 */
static int
der_take(struct der *d, unsigned char tag, struct der *val, struct der *tlv)
{
	size_t hdr = 2, n, k;

	if (d->len < 2 || d->p[0] != tag)
		return -1;
	n = d->p[1];
	if (n & 0x80) {
		k = n & 0x7f;
		if (k == 0 || k > 4 || d->len - 2 < k)
			return -1;      /* indefinite, or absurdly long */
		for (n = 0; k > 0; k--, hdr++)
			n = (n << 8) | d->p[hdr];
	}
	if (n > d->len - hdr)
		return -1;
	if (tlv != NULL) {
		tlv->p = d->p;
		tlv->len = hdr + n;
	}
	val->p = d->p + hdr;
	val->len = n;
	d->p += hdr + n;
	d->len -= hdr + n;
	return 0;
}

static int
der_skip(struct der *d, unsigned char tag)
{
	struct der v;

	return der_take(d, tag, &v, NULL);
}

static int
der_is(const struct der *d, const unsigned char *what, size_t n)
{
	return d->len == n && memcmp(d->p, what, n) == 0;
}

/* An INTEGER as an unsigned big-endian number without leading zeros. */
static int
der_unsigned(struct der *d, const unsigned char **p, size_t *len)
{
	struct der v;

	if (der_take(d, 0x02, &v, NULL) < 0 || v.len == 0 || (v.p[0] & 0x80))
		return -1;      /* empty, or negative */
	while (v.len > 0 && v.p[0] == 0) {
		v.p++;
		v.len--;
	}
	if (v.len == 0)
		return -1;
	*p = v.p;
	*len = v.len;
	return 0;
}

static const unsigned char oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const unsigned char oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char oid_p521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const unsigned char oid_basic_constraints[] = { 0x55, 0x1d, 0x13 };

static int
spki_parse(struct der spki, struct cert_anchor *a)
{
	struct der alg, oid, bits, key, rsa;

	if (der_take(&spki, 0x30, &alg, NULL) < 0 || der_take(&alg, 0x06, &oid, NULL) < 0 ||
	    der_take(&spki, 0x03, &bits, NULL) < 0 || bits.len < 2 || bits.p[0] != 0)
		return -1;
	key.p = bits.p + 1;     /* after the count of unused bits */
	key.len = bits.len - 1;
	if (der_is(&oid, oid_rsa, sizeof oid_rsa)) {
		if (der_take(&key, 0x30, &rsa, NULL) < 0 ||
		    der_unsigned(&rsa, &a->n, &a->nlen) < 0 ||
		    der_unsigned(&rsa, &a->e, &a->elen) < 0)
			return -1;
		a->key_type = BR_KEYTYPE_RSA;
		return 0;
	}
	if (der_is(&oid, oid_ec, sizeof oid_ec)) {
		if (der_take(&alg, 0x06, &oid, NULL) < 0)
			return -1;      /* only named curves */
		if (der_is(&oid, oid_p256, sizeof oid_p256))
			a->curve = BR_EC_secp256r1;
		else if (der_is(&oid, oid_p384, sizeof oid_p384))
			a->curve = BR_EC_secp384r1;
		else if (der_is(&oid, oid_p521, sizeof oid_p521))
			a->curve = BR_EC_secp521r1;
		else
			return -1;
		a->q = key.p;
		a->qlen = key.len;
		a->key_type = BR_KEYTYPE_EC;
		return 0;
	}
	return -1;              /* a key type BearSSL cannot use */
}

/*
 * basicConstraints cA in the extensions ([3] of the TBSCertificate),
 * read as br_x509_decoder reads it, since BearSSL acts on the flag: every
 * extension is looked at, and each basicConstraints whose SEQUENCE opens
 * with a BOOLEAN sets the flag, so the last such one wins; one without
 * the BOOLEAN (cA DEFAULT FALSE) leaves the flag as it was.  RFC 5280
 * 4.2 forbids repeating an extension, but a bundle may hold anything, and
 * an anchor must get the flag BearSSL would give the same certificate.
 * Returns 1 or 0, or -1 for an extension list that cannot be read.
 */
static int
extensions_is_ca(struct der exts)
{
	struct der list, ext, oid, crit, octets, bc, flag;
	int ca = 0;

	if (der_take(&exts, 0x30, &list, NULL) < 0)
		return -1;
	while (list.len > 0) {
		if (der_take(&list, 0x30, &ext, NULL) < 0 || der_take(&ext, 0x06, &oid, NULL) < 0)
			return -1;
		if (!der_is(&oid, oid_basic_constraints, sizeof oid_basic_constraints))
			continue;
		if (ext.len > 0 && ext.p[0] == 0x01 && der_take(&ext, 0x01, &crit, NULL) < 0)
			return -1;
		if (der_take(&ext, 0x04, &octets, NULL) < 0 || der_take(&octets, 0x30, &bc, NULL) < 0)
			return -1;
		if (bc.len == 0 || bc.p[0] != 0x01)
			continue;       /* cA absent: the flag stays */
		if (der_take(&bc, 0x01, &flag, NULL) < 0 || flag.len != 1)
			return -1;
		ca = flag.p[0] != 0;
	}
	return ca;
}

/*
 * Read the certificate at der[0..len): *used gets the length of its outer
 * SEQUENCE (0 when even that cannot be read: the rest is not walkable),
 * *a the subject DN, the key and the CA flag, pointing into der.
 * Returns 0, or -1 for a certificate that cannot be an anchor.
 */
int
anchors_cert_parse(const unsigned char *der, size_t len, size_t *used, struct cert_anchor *a)
{
	struct der all = { der, len }, cert, tbs, subject_tlv, subject, spki, validity, v;
	int ca = 0;

	memset(a, 0, sizeof *a);
	*used = 0;
	if (der_take(&all, 0x30, &cert, &v) < 0)
		return -1;
	*used = v.len;
	if (der_take(&cert, 0x30, &tbs, NULL) < 0)
		return -1;
	if (tbs.len > 0 && tbs.p[0] == 0xa0 && der_skip(&tbs, 0xa0) < 0)
		return -1;      /* version */
	if (der_skip(&tbs, 0x02) < 0 ||         /* serialNumber */
	    der_skip(&tbs, 0x30) < 0 ||         /* signature */
	    der_skip(&tbs, 0x30) < 0 ||         /* issuer */
	    der_take(&tbs, 0x30, &validity, NULL) < 0 ||
	    der_take(&tbs, 0x30, &subject, &subject_tlv) < 0 ||
	    der_take(&tbs, 0x30, &spki, NULL) < 0 ||
	    spki_parse(spki, a) < 0)
		return -1;
	while (tbs.len > 0) {   /* issuerUniqueID [1], subjectUniqueID [2], extensions [3] */
		unsigned char tag = tbs.p[0];

		if (tag == 0xa3) {
			if (der_take(&tbs, 0xa3, &v, NULL) < 0 || (ca = extensions_is_ca(v)) < 0)
				return -1;
		} else if ((tag == 0x81 || tag == 0x82 || tag == 0xa1 || tag == 0xa2) &&
		    der_skip(&tbs, tag) == 0) {
			continue;
		} else {
			return -1;
		}
	}
	a->dn = subject_tlv.p;
	a->dnlen = subject_tlv.len;
	a->validity = validity.p;
	a->validitylen = validity.len;
	a->is_ca = ca;
	return 0;
}

/* The issuer Name (the whole TLV) of the certificate at der[0..len), as
 * x509_minimal hashes it to look for anchors: 0, or -1.  Pure. */
/* The certificate at der[0..len) opened: *cert after its TBSCertificate,
 * *tbs at the TBS's signature field (version and serialNumber read). */
static int
cert_open(const unsigned char *der, size_t len, struct der *cert, struct der *tbs)
{
	struct der all = { der, len };

	if (der_take(&all, 0x30, cert, NULL) < 0 || der_take(cert, 0x30, tbs, NULL) < 0 ||
	    (tbs->len > 0 && tbs->p[0] == 0xa0 && der_skip(tbs, 0xa0) < 0) ||
	    der_skip(tbs, 0x02) < 0)
		return -1;
	return 0;
}

int
anchors_cert_issuer(const unsigned char *der, size_t len, const unsigned char **dn, size_t *dnlen)
{
	struct der cert, tbs, issuer, v;

	if (cert_open(der, len, &cert, &tbs) < 0 || der_skip(&tbs, 0x30) < 0 ||
	    der_take(&tbs, 0x30, &v, &issuer) < 0)
		return -1;
	*dn = issuer.p;
	*dnlen = issuer.len;
	return 0;
}

/* The hash that a signature AlgorithmIdentifier names, as a bit (1 << the
 * BearSSL hash id), for the RSA PKCS#1 v1.5 and ECDSA OIDs x509_minimal
 * knows (1.2.840.113549.1.1.x, 1.2.840.10045.4.1 and 4.3.x); 0 else. */
static unsigned
sig_hash_bit(struct der alg)
{
	static const unsigned char pkcs1[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01 };
	static const unsigned char ecdsa[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04 };
	/* indexed by the last arc */
	static const unsigned char by_pkcs1[15] = { [5] = br_sha1_ID, [11] = br_sha256_ID,
		[12] = br_sha384_ID, [13] = br_sha512_ID, [14] = br_sha224_ID };
	static const unsigned char by_ecdsa3[5] = { [1] = br_sha224_ID, [2] = br_sha256_ID,
		[3] = br_sha384_ID, [4] = br_sha512_ID };
	struct der oid;
	unsigned id = 0;

	if (der_take(&alg, 0x06, &oid, NULL) < 0)
		return 0;
	if (oid.len == 9 && memcmp(oid.p, pkcs1, 8) == 0 && oid.p[8] < 15)
		id = by_pkcs1[oid.p[8]];
	else if (oid.len == 7 && memcmp(oid.p, ecdsa, 6) == 0 && oid.p[6] == 1)
		id = br_sha1_ID;
	else if (oid.len == 8 && memcmp(oid.p, ecdsa, 6) == 0 && oid.p[6] == 3 && oid.p[7] < 5)
		id = by_ecdsa3[oid.p[7]];
	return id ? 1u << id : 0;
}

/* The hashes the certificate at der[0..len) names for its signature: the
 * TBS's signature field and the outer signatureAlgorithm, as bits (1 <<
 * BearSSL hash id); 0 when either is unknown or the DER is cut or bad. */
unsigned
anchors_cert_sig_hashes(const unsigned char *der, size_t len)
{
	struct der cert, tbs, inner, outer;
	unsigned a, b;

	if (cert_open(der, len, &cert, &tbs) < 0 || der_take(&tbs, 0x30, &inner, NULL) < 0 ||
	    der_take(&cert, 0x30, &outer, NULL) < 0)
		return 0;
	a = sig_hash_bit(inner);
	b = sig_hash_bit(outer);
	return a && b ? a | b : 0;
}

/* The first 8 bytes of the SHA-256 of a DN: which anchors a certificate's
 * issuer can be, without hashing every anchor's DN at every certificate as
 * x509_minimal does (two equal keys only mean one more anchor to try). */
uint64_t
anchors_dn_key(const unsigned char *dn, size_t len)
{
	br_sha256_context h;
	unsigned char out[32];
	uint64_t k = 0;
	int i;

	br_sha256_init(&h);
	br_sha256_update(&h, dn, len);
	br_sha256_out(&h, out);
	for (i = 0; i < 8; i++)
		k = k << 8 | out[i];
	return k;
}

/* ---- the bundle -------------------------------------------------------- */

/* Walk the DER certificates: count anchors and their bytes (ta == NULL),
 * or fill ta[] and mem. */
static void
anchors_walk(const unsigned char *der, size_t len, br_x509_trust_anchor *ta,
    unsigned char *mem, size_t *n, size_t *bytes, int *skipped)
{
	struct cert_anchor a;
	size_t used;

	*n = *bytes = 0;
	while (len > 0) {
		int rc = anchors_cert_parse(der, len, &used, &a);

		if (used == 0) {
			(*skipped)++;   /* not even a SEQUENCE: nothing more to walk */
			return;
		}
		der += used;
		len -= used;
		if (rc < 0) {
			(*skipped)++;
			continue;
		}
		if (ta != NULL) {
			br_x509_trust_anchor *t = &ta[*n];

			memset(t, 0, sizeof *t);
			t->dn.data = memcpy(mem + *bytes, a.dn, a.dnlen);
			t->dn.len = a.dnlen;
			t->flags = a.is_ca ? BR_X509_TA_CA : 0;
			t->pkey.key_type = (unsigned char)a.key_type;
			if (a.key_type == BR_KEYTYPE_RSA) {
				t->pkey.key.rsa.n = memcpy(mem + *bytes + a.dnlen, a.n, a.nlen);
				t->pkey.key.rsa.nlen = a.nlen;
				t->pkey.key.rsa.e = memcpy(mem + *bytes + a.dnlen + a.nlen, a.e, a.elen);
				t->pkey.key.rsa.elen = a.elen;
			} else {
				t->pkey.key.ec.curve = a.curve;
				t->pkey.key.ec.q = memcpy(mem + *bytes + a.dnlen, a.q, a.qlen);
				t->pkey.key.ec.qlen = a.qlen;
			}
		}
		*bytes += a.dnlen + (a.key_type == BR_KEYTYPE_RSA ? a.nlen + a.elen : a.qlen);
		(*n)++;
	}
}

static unsigned generation;

int
anchors_load(struct anchors *a, const char *path, char *err, size_t errlen)
{
	unsigned char *buf;
	size_t len, n, bytes, n2, bytes2, head;
	int skipped = 0, ignored = 0;

	memset(a, 0, sizeof *a);
	if ((buf = (unsigned char *)read_file(path, ANCHORS_FILE_MAX, &len, err, errlen)) == NULL)
		return -1;
	len = anchors_pem_to_der(buf, len, &skipped);
	anchors_walk(buf, len, NULL, NULL, &n, &bytes, &skipped);
	if (n == 0) {
		snprintf(err, errlen, "%s: no usable certificates", path);
		free(buf);
		return -1;
	}
	/* one region: the anchor array, the DN keys, then the DNs and keys */
	head = n * (sizeof(br_x509_trust_anchor) + sizeof(uint64_t));
	if ((a->mem = malloc(head + bytes)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(buf);
		return -1;
	}
	a->ta = a->mem;
	a->gen = ++generation;  /* intermediates verified under another bundle do not count */
	anchors_walk(buf, len, a->ta, (unsigned char *)a->mem + head, &n2, &bytes2, &ignored);
	free(buf);
	a->n = n2;
	a->dnkey = (uint64_t *)(void *)(a->ta + n2);
	a->all_ca = 1;
	for (n = 0; n < n2; n++) {
		a->dnkey[n] = anchors_dn_key(a->ta[n].dn.data, a->ta[n].dn.len);
		a->all_ca &= (a->ta[n].flags & BR_X509_TA_CA) != 0;
	}
	if (skipped > 0)
		log_warnx("%s: %d PEM objects skipped", path, skipped);
	return 0;
}

void
anchors_free(struct anchors *a)
{
	free(a->mem);
	memset(a, 0, sizeof *a);
}
