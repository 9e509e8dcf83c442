/* tests/unit_x509cache.c - x509cache.c: an intermediate is checked once,
 * and the cache never accepts what a full check rejects: a changed byte in
 * the leaf or the intermediate, an expired intermediate, an intermediate
 * from a chain no anchor vouches for, or one remembered under another CA
 * bundle.  The PKI is made fresh by tests/tls/gen.sh plus a few more
 * certificates (no private key is committed). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"
#include "tests/unit.h"

#define HOST "mta-sts.example.com"

static char dir[64];

struct der {
	unsigned char b[8192];
	size_t len;
};

/* the first certificate of dir/NAME.pem as DER */
static int
load(struct der *d, const char *name)
{
	char p[256], err[256];
	unsigned char *buf;
	size_t len;
	int skipped = 0;

	snprintf(p, sizeof p, "%s/%s.pem", dir, name);
	if ((buf = (unsigned char *)read_file(p, 1 << 16, &len, err, sizeof err)) == NULL) {
		printf("FAIL %s\n", err);
		return -1;
	}
	len = anchors_pem_to_der(buf, len, &skipped);
	d->len = len < sizeof d->b ? len : 0;
	memcpy(d->b, buf, d->len);
	free(buf);
	return d->len > 0 ? 0 : -1;
}

static uint32_t today, secs;     /* now, as BearSSL counts */

/* check [leaf, inter] at today + days; *via: checked against the cache */
static unsigned
check(const struct anchors *ta, const char *name, const struct der *leaf,
    const struct der *inter, int days, int *via)
{
	const unsigned char *der[2] = { leaf->b, inter->b };
	size_t len[2] = { leaf->len, inter->len };

	return xchain_check(ta, name, der, len, 2, today + (uint32_t)days, secs, via);
}

/* x509_minimal is given only the hash a certificate's signature names:
 * leaves signed with each hash (RSA by the intermediate, through the
 * cache; ECDSA by the root) still verify, and what cannot be read (every
 * cut, an unknown or mismatched algorithm) gets every hash, as before. */
static void
sig_hashes(const struct anchors *ta)
{
	static const struct {
		const char *md, *issuer;
		int id;
	} signed_with[] = {
		{ "sha1", "inter", br_sha1_ID }, { "sha224", "inter", br_sha224_ID },
		{ "sha256", "inter", br_sha256_ID }, { "sha384", "inter", br_sha384_ID },
		{ "sha512", "inter", br_sha512_ID }, { "sha224", "ca", br_sha224_ID },
		{ "sha384", "ca", br_sha384_ID }, { "sha512", "ca", br_sha512_ID },
	};
	static struct der leaf, inter, tmp;
	char cmd[PATH_MAX + 512], name[32];
	size_t i, k;
	unsigned r;
	int via;

	CHECK_INT(load(&inter, "inter"), 0);
	CHECK_INT(load(&leaf, "chained"), 0);
	CHECK_INT(check(ta, HOST, &leaf, &inter, 0, &via), 0);         /* remembered */
	for (i = 0; i < sizeof signed_with / sizeof signed_with[0]; i++) {
		snprintf(name, sizeof name, "%s_%s", signed_with[i].md, signed_with[i].issuer);
		snprintf(cmd, sizeof cmd, "cd '%s' && exec 2>>gen.log && "
		    "openssl x509 -req -in l2.csr -CA %s.pem -CAkey %s.key -CAcreateserial "
		    "-days 30 -%s -extfile ext.cnf -extensions good -out %s.pem",
		    dir, signed_with[i].issuer, signed_with[i].issuer, signed_with[i].md, name);
		CHECK(system(cmd) == 0);
		/* valid from now: the clock as it is after openssl ran */
		today = (uint32_t)(time(NULL) / 86400 + 719528);
		secs = (uint32_t)(time(NULL) % 86400);
		if (load(&leaf, name) < 0) {
			printf("FAIL %s\n", name);
			unit_fail++;
			continue;
		}
		CHECK_INT(anchors_cert_sig_hashes(leaf.b, leaf.len), 1u << signed_with[i].id);
		if (strcmp(signed_with[i].issuer, "ca") == 0) {
			const unsigned char *d[1] = { leaf.b };
			size_t l[1] = { leaf.len };

			r = xchain_check(ta, HOST, d, l, 1, today, secs, &via);
			CHECK_INT(r, 0);
			continue;
		}
		r = check(ta, HOST, &leaf, &inter, 0, &via);
		CHECK_INT(r, 0);
		CHECK_INT(via, 1);
	}
	/* every cut, and a changed algorithm byte in either field */
	for (k = 0, r = 0; k < leaf.len; k++)
		r |= anchors_cert_sig_hashes(leaf.b, k);
	CHECK_INT(r, 0);
	tmp = leaf;
	for (k = 0, r = 0; k + 9 <= tmp.len; k++) {
		/* the last byte of the ecdsa-with-SHA512 OID, 2a 86 48 ce 3d 04 03 04 */
		if (memcmp(tmp.b + k, "\x2a\x86\x48\xce\x3d\x04\x03\x04", 8) == 0) {
			tmp.b[k + 7] = 2;       /* now SHA-256: the two fields differ */
			r++;
			break;
		}
	}
	CHECK_INT(r, 1);
	CHECK_INT(anchors_cert_sig_hashes(tmp.b, tmp.len),
	    (1u << br_sha256_ID) | (1u << br_sha512_ID));
	tmp.b[k + 7] = 9;               /* no such algorithm */
	CHECK_INT(anchors_cert_sig_hashes(tmp.b, tmp.len), 0);
	{
		const unsigned char *d[1] = { tmp.b };
		size_t l[1] = { tmp.len };

		CHECK(xchain_check(ta, HOST, d, l, 1, today, secs, &via) != 0);
	}
}

int
main(int argc, char **argv)
{
	static struct der chained, inter, untrusted, longleaf, tmp;
	struct anchors ta, ta2;
	char cmd[PATH_MAX + 512], p[256], err[256];
	int via = -1;
	unsigned r;

	(void)argc;
	(void)argv;
	log_open(LOG_LVL_ERR, NULL, 0);
	strlcpy_m(dir, "/tmp/unit_x509cache.XXXXXX", sizeof dir);
	if (mkdtemp(dir) == NULL)
		return 1;
	/* gen.sh's PKI, then: the intermediate's key and name under a CA
	 * nobody trusts, and a leaf that outlives the intermediate */
	snprintf(cmd, sizeof cmd, "sh tests/tls/gen.sh '%s' && cd '%s' && "
	    "exec 2>>gen.log && openssl req -new -key inter.key -subj '/CN=mtasts test intermediate' -out i2.csr -config ext.cnf && "
	    "openssl x509 -req -in i2.csr -CA otherca.pem -CAkey otherca.key -CAcreateserial -days 30 "
	    "-extfile ext.cnf -extensions ca -out untrusted_inter.pem && "
	    "openssl req -new -key chained.key -subj '/CN=" HOST "' -out l2.csr -config ext.cnf && "
	    "openssl x509 -req -in l2.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 90 "
	    "-extfile ext.cnf -extensions good -out long.pem 2>/dev/null", dir, dir);
	if (system(cmd) != 0) {
		printf("FAIL %s\n", cmd);
		return 1;
	}
	snprintf(p, sizeof p, "%s/ca.pem", dir);
	if (anchors_load(&ta, p, err, sizeof err) < 0 || load(&chained, "chained") < 0 ||
	    load(&inter, "inter") < 0 || load(&untrusted, "untrusted_inter") < 0 ||
	    load(&longleaf, "long") < 0) {
		printf("FAIL fixtures\n");
		return 1;
	}
	today = (uint32_t)(time(NULL) / 86400 + 719528);
	secs = (uint32_t)(time(NULL) % 86400);

	/* first: in full, and remembered */
	r = check(&ta, HOST, &chained, &inter, 0, &via);
	CHECK_INT(r, 0);
	CHECK_INT(via, 0);
	CHECK_INT(xcache_count(), 1);
	/* then: the leaf against the remembered intermediate */
	r = check(&ta, HOST, &chained, &inter, 0, &via);
	CHECK_INT(r, 0);
	CHECK_INT(via, 1);
	r = check(&ta, HOST, &longleaf, &inter, 0, &via);
	CHECK_INT(r, 0);
	CHECK_INT(via, 1);
	/* the leaf is still checked in full: name, signature, bytes */
	r = check(&ta, "www.example.org", &chained, &inter, 0, &via);
	CHECK_INT(r, BR_ERR_X509_BAD_SERVER_NAME);
	CHECK_INT(via, 0);
	tmp = chained;
	tmp.b[tmp.len - 3] ^= 1;                /* the leaf's signature */
	r = check(&ta, HOST, &tmp, &inter, 0, &via);
	CHECK(r != 0);
	CHECK_INT(via, 0);
	tmp = chained;
	tmp.b[40] ^= 0x10;                      /* inside the leaf's TBS */
	r = check(&ta, HOST, &tmp, &inter, 0, &via);
	CHECK(r != 0);
	CHECK_INT(via, 0);
	/* a changed byte in the intermediate: not the remembered one, and
	 * its signature no longer holds */
	tmp = inter;
	tmp.b[tmp.len - 3] ^= 1;
	r = check(&ta, HOST, &chained, &tmp, 0, &via);
	CHECK_INT(r, BR_ERR_X509_NOT_TRUSTED);
	CHECK_INT(via, 0);
	CHECK_INT(xcache_count(), 1);
	/* past the intermediate's notAfter (the leaf still valid): never from
	 * the cache, and the full check says expired */
	r = check(&ta, HOST, &longleaf, &inter, 31, &via);
	CHECK_INT(r, BR_ERR_X509_EXPIRED);
	CHECK_INT(via, 0);
	r = check(&ta, HOST, &longleaf, &inter, -1, &via);  /* before notBefore */
	CHECK_INT(r, BR_ERR_X509_EXPIRED);
	CHECK_INT(via, 0);
	/* the anchor it chains to no longer in the bundle (as if it were
	 * replaced in place): not from the cache */
	{
		size_t k;

		for (k = 0; k < ta.n; k++)
			ta.dnkey[k] ^= 1;
		r = check(&ta, HOST, &chained, &inter, 0, &via);
		CHECK_INT(via, 0);
		CHECK(r != 0);
		for (k = 0; k < ta.n; k++)
			ta.dnkey[k] ^= 1;
		r = check(&ta, HOST, &chained, &inter, 0, &via);
		CHECK_INT(via, 1);
	}
	/* same name and key under a CA nobody trusts: refused, never kept */
	r = check(&ta, HOST, &chained, &untrusted, 0, &via);
	CHECK_INT(r, BR_ERR_X509_NOT_TRUSTED);
	CHECK_INT(via, 0);
	xcache_clear();
	r = check(&ta, HOST, &chained, &untrusted, 0, &via);
	CHECK_INT(r, BR_ERR_X509_NOT_TRUSTED);
	CHECK_INT(xcache_count(), 0);
	/* a refused chain (bad name) still proves its intermediate? no: only
	 * a chain accepted in full adds it */
	r = check(&ta, "www.example.org", &chained, &inter, 0, &via);
	CHECK_INT(r, BR_ERR_X509_BAD_SERVER_NAME);
	CHECK_INT(xcache_count(), 0);
	/* a leaf alone, signed by the anchor: nothing to remember */
	{
		static struct der good;
		const unsigned char *d1[1];
		size_t l1[1];

		CHECK_INT(load(&good, "good"), 0);
		d1[0] = good.b;
		l1[0] = good.len;
		r = xchain_check(&ta, HOST, d1, l1, 1, today, secs, &via);
		CHECK_INT(r, 0);
		CHECK_INT(via, 0);
		CHECK_INT(xcache_count(), 0);
	}
	/* a new CA bundle (SIGHUP) forgets what the old one vouched for */
	r = check(&ta, HOST, &chained, &inter, 0, &via);
	CHECK_INT(r, 0);
	CHECK_INT(xcache_count(), 1);
	if (anchors_load(&ta2, p, err, sizeof err) == 0) {
		CHECK(ta2.gen != ta.gen);
		r = check(&ta2, HOST, &chained, &inter, 0, &via);
		CHECK_INT(r, 0);
		CHECK_INT(via, 0);
		r = check(&ta2, HOST, &chained, &inter, 0, &via);
		CHECK_INT(via, 1);
		anchors_free(&ta2);
	}
	/* a fetch begun before a reload (old bundle) ends after a fetch under
	 * the new one began: what it verified is not kept for the new one */
	xcache_clear();
	if (anchors_load(&ta2, p, err, sizeof err) == 0) {
		static br_x509_minimal_context xa, xb;
		static struct xchain ca, cb;
		static unsigned char ba[XCHAIN_BUF], bb[XCHAIN_BUF];
		const br_x509_class **a = &ca.vtable, **b = &cb.vtable;

		xchain_minimal_init(&xa, &ta);
		br_x509_minimal_set_time(&xa, today, secs);
		xchain_init(&ca, &xa, &ta, ba, sizeof ba);
		xchain_minimal_init(&xb, &ta2);
		br_x509_minimal_set_time(&xb, today, secs);
		xchain_init(&cb, &xb, &ta2, bb, sizeof bb);
		(*a)->start_chain(a, HOST);
		(*b)->start_chain(b, HOST);     /* the new bundle's first chain */
		(*a)->start_cert(a, (uint32_t)chained.len);
		(*a)->append(a, chained.b, chained.len);
		(*a)->end_cert(a);
		(*a)->start_cert(a, (uint32_t)inter.len);
		(*a)->append(a, inter.b, inter.len);
		(*a)->end_cert(a);
		CHECK_INT((*a)->end_chain(a), 0);
		CHECK_INT(xcache_count(), 0);
		(*b)->start_cert(b, (uint32_t)chained.len);
		(*b)->append(b, chained.b, chained.len);
		(*b)->end_cert(b);
		(*b)->start_cert(b, (uint32_t)inter.len);
		(*b)->append(b, inter.b, inter.len);
		(*b)->end_cert(b);
		CHECK_INT((*b)->end_chain(b), 0);
		CHECK_INT(cb.via_cache, 0);
		CHECK_INT(xcache_count(), 1);
		anchors_free(&ta2);
	}
	/* a bundle without the intermediate's CA: refused, not from the cache */
	snprintf(p, sizeof p, "%s/otherca.pem", dir);
	if (anchors_load(&ta2, p, err, sizeof err) == 0) {
		r = check(&ta2, HOST, &chained, &inter, 0, &via);
		CHECK_INT(r, BR_ERR_X509_NOT_TRUSTED);
		CHECK_INT(via, 0);
		anchors_free(&ta2);
	}
	/* among the system's anchors (each certificate is given only those
	 * its issuer can be), and with an end-entity anchor in the bundle
	 * (then all of them, since those match by subject) */
	snprintf(cmd, sizeof cmd, "cd '%s' && cat /etc/ssl/certs/ca-certificates.crt ca.pem > big.pem && "
	    "cat ca.pem good.pem > withee.pem", dir);
	CHECK(system(cmd) == 0);
	snprintf(p, sizeof p, "%s/big.pem", dir);
	if (anchors_load(&ta2, p, err, sizeof err) == 0) {
		CHECK(ta2.n > 100 && ta2.all_ca);
		r = check(&ta2, HOST, &chained, &inter, 0, &via);
		CHECK_INT(r, 0);
		r = check(&ta2, HOST, &chained, &untrusted, 0, &via);
		CHECK_INT(r, BR_ERR_X509_NOT_TRUSTED);
		anchors_free(&ta2);
	}
	snprintf(p, sizeof p, "%s/withee.pem", dir);
	if (anchors_load(&ta2, p, err, sizeof err) == 0) {
		CHECK_INT(ta2.n, 2);
		CHECK_INT(ta2.all_ca, 0);
		r = check(&ta2, HOST, &chained, &inter, 0, &via);
		CHECK_INT(r, 0);
		anchors_free(&ta2);
	}
	sig_hashes(&ta);
	anchors_free(&ta);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)!system(cmd);
	UNIT_DONE();
}
