/* x509cache.c - intermediate CA certificates verified once (issue 14)
 *
 * A cold lookup checks two signatures in the server's chain: the leaf's
 * under the intermediate's key, and the intermediate's under an anchor's
 * (RSA-4096 or P-384 ECDSA for today's public roots, the dearest of the
 * two).  The second is the same work for every domain that CA serves.
 *
 * So an intermediate that x509_minimal accepted directly under an anchor,
 * in a chain it accepted in full, is remembered by the SHA-256 of its DER,
 * with its subject, key, validity and the anchor it chains to.  A later chain whose second
 * certificate has that same hash, while that validity holds, has its leaf
 * checked by x509_minimal with the remembered intermediate as its only (CA)
 * trust anchor: the leaf's signature under that key, its issuer against
 * that subject, its dates, names, key usage and critical extensions, all
 * as before; only the intermediate's own signature, which cannot have
 * changed since its bytes have not, is not checked again.  A new CA bundle
 * (a new anchors generation: start, SIGHUP) forgets everything.
 *
 * To know the intermediate before the leaf is checked, the wrapper holds
 * back the first two certificates (XCHAIN_BUF bytes, in the fetch's body
 * buffer, which is idle until the handshake is over) and replays them; a
 * chain that does not fit is checked in full as it streams.
 */
#include <string.h>

#include "mtasts.h"

#define XCACHE_N   16           /* intermediates: all public CAs' active ones fit */
#define XC_DN_MAX  256
#define XC_KEY_MAX 520          /* RSA-4096 modulus and exponent, or a P-521 point */

struct xentry {
	unsigned char id[32];   /* SHA-256 of the DER */
	int live;
	uint32_t nb_days, nb_secs, na_days, na_secs;    /* BearSSL's day count */
	uint32_t used;          /* last use, for eviction */
	uint64_t anchor;        /* anchors_dn_key of the anchor it chains to */
	br_x509_trust_anchor ta;        /* points into dn[] and key[] */
	unsigned char dn[XC_DN_MAX];
	unsigned char key[XC_KEY_MAX];
};

static struct xentry xcache[XCACHE_N];
static unsigned xcache_gen;     /* the anchors the entries were verified under */
static uint32_t xcache_tick;
struct xcache_stats xcache_stats;

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* n decimal digits at p, or -1 */
static int
digits(const unsigned char *p, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	return v;
}

/* One UTCTime (0x17) or GeneralizedTime (0x18) off d[0..*len) as BearSSL
 * counts time (days from 0000-01-01, seconds in the day); -1 if it is
 * anything but the RFC 5280 form (YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ).  Pure. */
static int
x509_time(const unsigned char **d, size_t *len, uint32_t *days, uint32_t *secs)
{
	const unsigned char *p = *d;
	int n, y, mo, dd, h, mi, s;

	if (*len < 2 || (p[0] != 0x17 && p[0] != 0x18))
		return -1;
	n = p[0] == 0x17 ? 13 : 15;
	if (p[1] != n || *len < (size_t)n + 2 || p[n + 1] != 'Z')
		return -1;
	p += 2;
	if (n == 13) {
		y = digits(p, 2);
		y += y < 50 ? 2000 : 1900;      /* RFC 5280 4.1.2.5.1 */
		p += 2;
	} else {
		y = digits(p, 4);
		p += 4;
	}
	mo = digits(p, 2);
	dd = digits(p + 2, 2);
	h = digits(p + 4, 2);
	mi = digits(p + 6, 2);
	s = digits(p + 8, 2);
	if (y < 0 || mo < 1 || mo > 12 || dd < 1 || dd > 31 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || s < 0 || s > 60)
		return -1;
	*days = (uint32_t)(days_from_civil(y, mo, dd) + 719528);
	*secs = (uint32_t)(h * 3600 + mi * 60 + s);
	*d += n + 2;
	*len -= (size_t)n + 2;
	return 0;
}

/* The anchor e chains to is in ta (it cannot be gone without a new
 * generation; checked all the same). */
static int
anchor_there(const struct xentry *e, const struct anchors *ta)
{
	size_t k;

	for (k = 0; ta->dnkey != NULL && k < ta->n; k++)
		if (ta->dnkey[k] == e->anchor)
			return 1;
	return 0;
}

/* nb <= now <= na, as x509_minimal compares them */
static int
in_validity(const struct xentry *e, uint32_t days, uint32_t secs)
{
	if (days < e->nb_days || (days == e->nb_days && secs < e->nb_secs))
		return 0;
	return days < e->na_days || (days == e->na_days && secs <= e->na_secs);
}

void
xcache_clear(void)
{
	memset(xcache, 0, sizeof xcache);
}

int
xcache_count(void)
{
	int i, n = 0;

	for (i = 0; i < XCACHE_N; i++)
		n += xcache[i].live;
	return n;
}

static struct xentry *
xcache_find(const unsigned char id[32])
{
	int i;

	for (i = 0; i < XCACHE_N; i++)
		if (xcache[i].live && memcmp(xcache[i].id, id, 32) == 0)
			return &xcache[i];
	return NULL;
}

/* Remember the intermediate der[0..len) whose SHA-256 is id, which
 * x509_minimal has just accepted under an anchor.  0, or -1 if it does not
 * fit an entry (then it is simply checked in full each time). */
static int
xcache_add(const unsigned char *der, size_t len, const unsigned char id[32])
{
	struct cert_anchor a;
	struct xentry *e = xcache_find(id), *old = &xcache[0];
	const unsigned char *v, *issuer;
	size_t used, vlen, klen, ilen;
	uint32_t t[4];
	int i;

	if (e != NULL)
		return 0;
	if (anchors_cert_parse(der, len, &used, &a) < 0 || used != len || !a.is_ca ||
	    a.dnlen > XC_DN_MAX || anchors_cert_issuer(der, len, &issuer, &ilen) < 0)
		return -1;
	v = a.validity;
	vlen = a.validitylen;
	if (x509_time(&v, &vlen, &t[0], &t[1]) < 0 || x509_time(&v, &vlen, &t[2], &t[3]) < 0 ||
	    vlen != 0)
		return -1;
	klen = a.key_type == BR_KEYTYPE_RSA ? a.nlen + a.elen : a.qlen;
	if (klen > XC_KEY_MAX)
		return -1;
	for (i = 0; i < XCACHE_N; i++) {        /* a free slot, else the least used */
		if (!xcache[i].live) {
			old = &xcache[i];
			break;
		}
		if (xcache[i].used < old->used)
			old = &xcache[i];
	}
	e = old;
	memset(e, 0, sizeof *e);
	memcpy(e->id, id, 32);
	e->nb_days = t[0];
	e->nb_secs = t[1];
	e->na_days = t[2];
	e->na_secs = t[3];
	e->used = ++xcache_tick;
	e->anchor = anchors_dn_key(issuer, ilen);
	e->ta.dn.data = memcpy(e->dn, a.dn, a.dnlen);
	e->ta.dn.len = a.dnlen;
	e->ta.flags = BR_X509_TA_CA;
	e->ta.pkey.key_type = (unsigned char)a.key_type;
	if (a.key_type == BR_KEYTYPE_RSA) {
		e->ta.pkey.key.rsa.n = memcpy(e->key, a.n, a.nlen);
		e->ta.pkey.key.rsa.nlen = a.nlen;
		e->ta.pkey.key.rsa.e = memcpy(e->key + a.nlen, a.e, a.elen);
		e->ta.pkey.key.rsa.elen = a.elen;
	} else {
		e->ta.pkey.key.ec.curve = a.curve;
		e->ta.pkey.key.ec.q = memcpy(e->key, a.q, a.qlen);
		e->ta.pkey.key.ec.qlen = a.qlen;
	}
	e->live = 1;
	xcache_stats.added++;
	log_debug("intermediate CA certificate checked, remembered (%d of %d)",
	    xcache_count(), XCACHE_N);
	return 0;
}

/* ---- x509_minimal as a TLS client needs it ----------------------------- */

static const br_hash_class *const x509_hashes[] = {
	&br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable,
	&br_sha384_vtable, &br_sha512_vtable
};

/* x509_minimal hashes each certificate's TBS with every hash it has, and
 * then uses one: those whose bit is in want (1 << hash id), or all of
 * them when want is 0 (a certificate not held back, or not read) */
static void
set_hashes(br_x509_minimal_context *xc, unsigned want)
{
	size_t i;

	for (i = 0; i < sizeof x509_hashes / sizeof x509_hashes[0]; i++) {
		int id = (int)((x509_hashes[i]->desc >> BR_HASHDESC_ID_OFF) & BR_HASHDESC_ID_MASK);
		br_x509_minimal_set_hash(xc, id, want == 0 || (want >> id & 1) ? x509_hashes[i] : NULL);
	}
}

void
xchain_minimal_init(br_x509_minimal_context *xc, const struct anchors *ta)
{
	br_x509_minimal_init(xc, &br_sha256_vtable, ta->ta, ta->n);
	set_hashes(xc, 0);
	br_x509_minimal_set_rsa(xc, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
}

/* ---- the wrapper ------------------------------------------------------- */

static struct xchain *
xch(const br_x509_class *const *ctx)
{
	return (struct xchain *)(uintptr_t)((uintptr_t)ctx - offsetof(struct xchain, vtable));
}

/* x509_minimal hashes the DN of every anchor at the end of every
 * certificate (150 anchors: 300 SHA-256 runs a chain), and tries those
 * equal to the certificate's issuer: give it only those, found by the
 * keys hashed at load.  A certificate it cannot read, more than four
 * candidates, or an end-entity anchor (matched by subject, not issuer)
 * in the bundle: all of them, as before. */
static void
select_anchors(struct xchain *x, int i)
{
	const struct anchors *ta = x->ta;
	const unsigned char *dn;
	size_t len, k;
	uint64_t key;
	int n = 0;

	x->xc->trust_anchors = ta->ta;
	x->xc->trust_anchors_num = ta->n;
	if (!ta->all_ca || ta->dnkey == NULL ||
	    anchors_cert_issuer(x->buf + x->off[i], x->got[i], &dn, &len) < 0)
		return;
	key = anchors_dn_key(dn, len);
	for (k = 0; k < ta->n; k++) {
		if (ta->dnkey[k] != key)
			continue;
		if (n == 4)
			return;
		x->sel[n++] = ta->ta[k];
	}
	x->xc->trust_anchors = x->sel;
	x->xc->trust_anchors_num = (size_t)n;
}

/* certificate i of the held-back ones to x509_minimal */
static void
feed(struct xchain *x, int i, int end)
{
	const br_x509_class **in = &x->xc->vtable;

	/* the whole certificate is here, or cut (then every hash) */
	set_hashes(x->xc, anchors_cert_sig_hashes(x->buf + x->off[i], x->got[i]));
	(*in)->start_cert(in, x->clen[i]);
	(*in)->append(in, x->buf + x->off[i], x->got[i]);
	if (end)
		(*in)->end_cert(in);
}

/* What comes after the held-back certificates streams to x509_minimal,
 * checked against every anchor, hashed with every hash. */
static void
stream_rest(struct xchain *x)
{
	x->xc->trust_anchors = x->ta->ta;
	x->xc->trust_anchors_num = x->ta->n;
	set_hashes(x->xc, 0);
	x->pass = 1;
}

/* Give up holding back: what is held goes to x509_minimal as it came. */
static void
flush(struct xchain *x)
{
	int i;

	for (i = 0; i < x->ncert; i++) {
		select_anchors(x, i);
		feed(x, i, i < x->ncert - 1 || !x->open);
	}
	stream_rest(x);
}

/* Both held-back certificates are in: the leaf against the remembered
 * intermediate if the second one is it, else both in full. */
static void
decide(struct xchain *x)
{
	br_x509_minimal_context *xc = x->xc;
	struct xentry *e;
	br_sha256_context h;
	int leaf_err;

	br_sha256_init(&h);
	br_sha256_update(&h, x->buf + x->off[1], x->got[1]);
	br_sha256_out(&h, x->id);
	/* a fetch begun under the bundle before a reload uses nothing
	 * remembered under the new one, and adds nothing to it */
	e = x->ta->gen == xcache_gen ? xcache_find(x->id) : NULL;
	if (e != NULL && (!in_validity(e, xc->days, xc->seconds) || !anchor_there(e, x->ta)))
		e = NULL;               /* expired, not yet valid, or its anchor gone */
	if (e != NULL) {
		xc->trust_anchors = &e->ta;
		xc->trust_anchors_num = 1;
	} else {
		select_anchors(x, 0);
	}
	feed(x, 0, 1);
	leaf_err = xc->err;
	select_anchors(x, 1);
	if (e != NULL && leaf_err == BR_ERR_X509_OK) {
		x->via_cache = 1;
		e->used = ++xcache_tick;
		xcache_stats.hits++;
		log_debug("leaf checked against a remembered intermediate CA certificate");
	} else {
		xcache_stats.misses++;
	}
	/* the rest is ignored by x509_minimal once the leaf was accepted;
	 * else the intermediate is checked against the anchors as usual */
	feed(x, 1, 1);
	x->candidate = e == NULL && leaf_err == 0 && xc->err == BR_ERR_X509_OK;
	stream_rest(x);
}

static void
xs_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct xchain *x = xch(ctx);

	if (x->ta->gen != xcache_gen) {
		xcache_clear();
		xcache_gen = x->ta->gen;
	}
	x->pass = x->ncert = x->open = 0;
	x->used = 0;
	x->via_cache = x->candidate = 0;
	x->xc->trust_anchors = x->ta->ta;
	x->xc->trust_anchors_num = x->ta->n;
	x->xc->vtable->start_chain(&x->xc->vtable, server_name);
}

static void
xs_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct xchain *x = xch(ctx);

	if (!x->pass && x->ncert < 2 && length <= x->cap - x->used) {
		x->off[x->ncert] = x->used;
		x->clen[x->ncert] = length;
		x->got[x->ncert] = 0;
		x->ncert++;
		x->open = 1;
		return;
	}
	if (!x->pass)
		flush(x);
	x->xc->vtable->start_cert(&x->xc->vtable, length);
}

static void
xs_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct xchain *x = xch(ctx);
	int i = x->ncert - 1;

	if (!x->pass && x->open && len <= x->clen[i] - x->got[i]) {
		memcpy(x->buf + x->used, buf, len);
		x->used += len;
		x->got[i] += len;
		return;
	}
	if (!x->pass)
		flush(x);               /* more than announced: x509_minimal says so */
	x->xc->vtable->append(&x->xc->vtable, buf, len);
}

static void
xs_end_cert(const br_x509_class **ctx)
{
	struct xchain *x = xch(ctx);

	if (x->pass) {
		x->xc->vtable->end_cert(&x->xc->vtable);
		return;
	}
	x->open = 0;
	if (x->ncert == 2)
		decide(x);
}

static unsigned
xs_end_chain(const br_x509_class **ctx)
{
	struct xchain *x = xch(ctx);
	unsigned err;

	if (!x->pass)
		flush(x);
	err = x->xc->vtable->end_chain(&x->xc->vtable);
	if (err == 0 && x->candidate && x->ta->gen == xcache_gen)
		(void)xcache_add(x->buf + x->off[1], x->got[1], x->id);
	return err;
}

static const br_x509_pkey *
xs_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct xchain *x = xch(ctx);

	return x->xc->vtable->get_pkey(&x->xc->vtable, usages);
}

static const br_x509_class xchain_class = {
	sizeof(struct xchain),
	xs_start_chain, xs_start_cert, xs_append, xs_end_cert,
	xs_end_chain, xs_get_pkey
};

void
xchain_init(struct xchain *x, br_x509_minimal_context *xc, const struct anchors *ta,
    unsigned char *buf, size_t cap)
{
	x->vtable = &xchain_class;
	x->xc = xc;
	x->ta = ta;
	x->buf = buf;
	x->cap = cap < XCHAIN_BUF ? cap : XCHAIN_BUF;
	x->pass = 1;
}

/* ---- a chain without a handshake, for tests and fuzz targets --------- */

unsigned
xchain_check(const struct anchors *ta, const char *name, const unsigned char *const *der,
    const size_t *len, int n, uint32_t days, uint32_t secs, int *via_cache)
{
	static br_x509_minimal_context xc;
	static struct xchain x;
	static unsigned char buf[XCHAIN_BUF];
	const br_x509_class **c = &x.vtable;
	int i;

	xchain_minimal_init(&xc, ta);
	br_x509_minimal_set_time(&xc, days, secs);
	xchain_init(&x, &xc, ta, buf, sizeof buf);
	(*c)->start_chain(c, name);
	for (i = 0; i < n; i++) {
		(*c)->start_cert(c, (uint32_t)len[i]);
		/* in two pieces, as records may cut it */
		(*c)->append(c, der[i], len[i] / 2);
		(*c)->append(c, der[i] + len[i] / 2, len[i] - len[i] / 2);
		(*c)->end_cert(c);
	}
	*via_cache = x.via_cache;
	return (*c)->end_chain(c);
}
