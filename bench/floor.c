/*
 * bench/floor.c - the CPU that BearSSL's public-key operations cost on
 * this machine, per TLS 1.2 handshake of a policy fetch.
 *
 * A policy fetch cannot cost less than the public-key work of its
 * handshake: the client's ECDHE key pair and shared secret, the check
 * of the server's ServerKeyExchange signature, and the check of the CA's
 * signature on the server certificate.  This program times each of
 * those operations with the very implementations mtasts uses (taken
 * from a client context set up by br_ssl_client_init_full, whose EC,
 * ECDSA and RSA choices are BearSSL's defaults, the same ones that
 * tls.c's tls_engine_init installs), linked the same way, and checks each result so that what is
 * timed is real work: both sides of an ECDH agree, a good signature
 * verifies and a damaged one does not.
 *
 *   floor [-q]      print one JSON object, microseconds of thread CPU
 *                   per operation; -q: quick batches, for the smoke test
 *
 * Each figure is the fastest of 9 batches: a floor is a lower bound, so
 * a noisy neighbour must not raise it.
 * Exit status 0, or 1 when a result is wrong.
 */
#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int quick;

static double
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s\n", what);
	exit(1);
}

/* A timed operation; the callers keep their own state. */
typedef void (*op_fn)(void *);

struct timed {
	const char *name;	/* JSON key */
	op_fn fn[2];		/* one or two calls make up the operation */
	void *arg;
	double best;		/* microseconds */
};

/*
 * Rounds of one batch of every operation, interleaved so that a slow
 * spell of a shared machine hits them all; each keeps its fastest batch.
 */
static void
time_all(struct timed *t, int nt)
{
	double t0, per;
	int r, k, i, j, n = quick ? 2 : 10;

	for (r = 0; r < (quick ? 2 : 15); r++) {
		for (k = 0; k < nt; k++) {
			t0 = cpu_us();
			for (i = 0; i < n; i++)
				for (j = 0; j < 2 && t[k].fn[j] != NULL; j++)
					t[k].fn[j](t[k].arg);
			per = (cpu_us() - t0) / n;
			if (r == 0 || per < t[k].best)
				t[k].best = per;
		}
	}
}

static br_hmac_drbg_context rng;

static void
random_scalar(const br_ec_impl *ec, int curve, unsigned char *x, size_t *xlen)
{
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
	br_ec_private_key sk;

	if (br_ec_keygen(&rng.vtable, ec, &sk, kbuf, curve) == 0)
		die("br_ec_keygen failed");
	memcpy(x, sk.x, sk.xlen);
	*xlen = sk.xlen;
}

/* ---- ECDHE, the client's side: key pair, then the shared secret ---- */

struct ecdhe {
	const br_ec_impl *ec;
	int curve;
	unsigned char x[BR_EC_KBUF_PRIV_MAX_SIZE];	/* client scalar */
	size_t xlen;
	unsigned char peer[BR_EC_KBUF_PUB_MAX_SIZE];	/* server point */
	size_t peerlen;
	unsigned char out[BR_EC_KBUF_PUB_MAX_SIZE];
};

static void
ecdhe_keypair(void *arg)
{
	struct ecdhe *e = arg;

	if (e->ec->mulgen(e->out, e->x, e->xlen, e->curve) == 0)
		die("mulgen failed");
}

static void
ecdhe_shared(void *arg)
{
	struct ecdhe *e = arg;

	memcpy(e->out, e->peer, e->peerlen);
	if (e->ec->mul(e->out, e->peerlen, e->x, e->xlen, e->curve) != 1)
		die("mul failed");
}

/* Set up *c for a client on this curve, after a check that both sides agree. */
static void
ecdhe_setup(struct ecdhe *c, const br_ec_impl *ec, int curve)
{
	struct ecdhe s;
	unsigned char cs[BR_EC_KBUF_PUB_MAX_SIZE], ss[BR_EC_KBUF_PUB_MAX_SIZE];
	size_t xoff, xlen;

	/* both sides, and check that they agree */
	memset(c, 0, sizeof *c);
	c->ec = ec;
	c->curve = curve;
	s = *c;
	random_scalar(ec, curve, c->x, &c->xlen);
	random_scalar(ec, curve, s.x, &s.xlen);
	s.peerlen = ec->mulgen(s.peer, c->x, c->xlen, curve);	/* client's point */
	c->peerlen = ec->mulgen(c->peer, s.x, s.xlen, curve);	/* server's point */
	if (c->peerlen == 0 || s.peerlen == 0)
		die("mulgen failed");
	ecdhe_shared(c);
	ecdhe_shared(&s);
	xoff = ec->xoff(curve, &xlen);
	memcpy(cs, c->out + xoff, xlen);
	memcpy(ss, s.out + xoff, xlen);
	if (memcmp(cs, ss, xlen) != 0)
		die("ECDH sides disagree");
}

/* ---- signature checks ---- */

struct ecdsa_check {
	br_ecdsa_vrfy vrfy;
	const br_ec_impl *ec;
	br_ec_public_key pk;
	unsigned char hash[32];
	unsigned char sig[BR_EC_KBUF_PUB_MAX_SIZE];
	size_t siglen;
	unsigned char pbuf[BR_EC_KBUF_PUB_MAX_SIZE];	/* pk.q */
};

static void
ecdsa_once(void *arg)
{
	struct ecdsa_check *v = arg;

	if (v->vrfy(v->ec, v->hash, sizeof v->hash, &v->pk, v->sig, v->siglen) != 1)
		die("ECDSA signature not verified");
}

/* A signed hash in *v, after a check that a damaged one fails. */
static void
ecdsa_setup(struct ecdsa_check *v, const br_ec_impl *ec, br_ecdsa_vrfy vrfy, int curve)
{
	static unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
	br_ec_private_key sk;

	memset(v, 0, sizeof *v);
	v->vrfy = vrfy;
	v->ec = ec;
	if (br_ec_keygen(&rng.vtable, ec, &sk, kbuf, curve) == 0 ||
	    br_ec_compute_pub(ec, &v->pk, v->pbuf, &sk) == 0)
		die("EC key generation failed");
	br_hmac_drbg_generate(&rng, v->hash, sizeof v->hash);
	v->siglen = br_ecdsa_i31_sign_asn1(ec, &br_sha256_vtable, v->hash, &sk, v->sig);
	if (v->siglen == 0)
		die("ECDSA signing failed");
	ecdsa_once(v);
	v->hash[0] ^= 1;
	if (vrfy(ec, v->hash, sizeof v->hash, &v->pk, v->sig, v->siglen) != 0)
		die("a damaged ECDSA check passed");
	v->hash[0] ^= 1;
}

struct rsa_check {
	br_rsa_pkcs1_vrfy vrfy;
	br_rsa_public_key pk;
	size_t siglen;
	unsigned char sig[512];
	unsigned char hash[32];
	unsigned char kpub[BR_RSA_KBUF_PUB_SIZE(4096)];	/* pk */
};

static void
rsa_once(void *arg)
{
	struct rsa_check *v = arg;
	unsigned char out[32];

	if (v->vrfy(v->sig, v->siglen, BR_HASH_OID_SHA256, sizeof out, &v->pk, out) != 1 ||
	    memcmp(out, v->hash, sizeof out) != 0)
		die("RSA signature not verified");
}

/* A key of `bits` bits (2048 or 4096) and a signed hash in *v, after a
 * check that a damaged signature fails. */
static void
rsa_setup(struct rsa_check *v, br_rsa_pkcs1_vrfy vrfy, unsigned bits)
{
	static unsigned char kpriv[BR_RSA_KBUF_PRIV_SIZE(4096)];
	br_rsa_private_key sk;
	unsigned char out[32];

	memset(v, 0, sizeof *v);
	v->vrfy = vrfy;
	v->siglen = bits / 8;
	if (br_rsa_keygen_get_default()(&rng.vtable, &sk, kpriv, &v->pk, v->kpub, bits, 65537) == 0)
		die("RSA key generation failed");
	br_hmac_drbg_generate(&rng, v->hash, sizeof v->hash);
	if (br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, v->hash, sizeof v->hash, &sk, v->sig) != 1)
		die("RSA signing failed");
	rsa_once(v);
	v->sig[100] ^= 1;
	if (vrfy(v->sig, v->siglen, BR_HASH_OID_SHA256, sizeof out, &v->pk, out) == 1 &&
	    memcmp(out, v->hash, sizeof out) == 0)
		die("a damaged RSA check passed");
	v->sig[100] ^= 1;
}

int
main(int argc, char **argv)
{
	static br_ssl_client_context sc;
	static br_x509_minimal_context xc;
	static struct ecdhe p256, x25519, p384;
	static struct ecdsa_check ecdsa, ecdsa384;
	static struct rsa_check rsa, rsa4096;
	struct timed t[] = {
		{ "ecdhe_p256_us", { ecdhe_keypair, ecdhe_shared }, &p256, 0 },
		{ "ecdhe_x25519_us", { ecdhe_keypair, ecdhe_shared }, &x25519, 0 },
		{ "ecdhe_p384_us", { ecdhe_keypair, ecdhe_shared }, &p384, 0 },
		{ "ecdsa_p256_verify_us", { ecdsa_once, NULL }, &ecdsa, 0 },
		{ "rsa2048_verify_us", { rsa_once, NULL }, &rsa, 0 },
		/* the CA signatures of public chains (bench.sh BENCH_CHAIN):
		 * P-384 (ISRG Root X2 and its E intermediates), RSA-4096
		 * (ISRG Root X1 on its R intermediates) */
		{ "ecdsa_p384_verify_us", { ecdsa_once, NULL }, &ecdsa384, 0 },
		{ "rsa4096_verify_us", { rsa_once, NULL }, &rsa4096, 0 },
	};
	const br_ec_impl *ec;
	int k;

	quick = argc > 1 && strcmp(argv[1], "-q") == 0;
	br_hmac_drbg_init(&rng, &br_sha256_vtable, "mtasts bench floor", 18);

	/* the implementations of a client set up as tls.c sets it up */
	br_ssl_client_init_full(&sc, &xc, NULL, 0);
	ec = br_ssl_engine_get_ec(&sc.eng);
	if (ec == NULL || br_ssl_engine_get_ecdsa(&sc.eng) == 0 ||
	    br_ssl_engine_get_rsavrfy(&sc.eng) == 0)
		die("no public-key implementation in the client context");
	if (!(ec->supported_curves & (1u << BR_EC_secp256r1)) ||
	    !(ec->supported_curves & (1u << BR_EC_curve25519)) ||
	    !(ec->supported_curves & (1u << BR_EC_secp384r1)))
		die("the client context lacks P-256, P-384 or X25519");

	ecdhe_setup(&p256, ec, BR_EC_secp256r1);
	ecdhe_setup(&x25519, ec, BR_EC_curve25519);
	ecdhe_setup(&p384, ec, BR_EC_secp384r1);
	ecdsa_setup(&ecdsa, ec, br_ssl_engine_get_ecdsa(&sc.eng), BR_EC_secp256r1);
	ecdsa_setup(&ecdsa384, ec, br_ssl_engine_get_ecdsa(&sc.eng), BR_EC_secp384r1);
	rsa_setup(&rsa, br_ssl_engine_get_rsavrfy(&sc.eng), 2048);
	rsa_setup(&rsa4096, br_ssl_engine_get_rsavrfy(&sc.eng), 4096);
	time_all(t, (int)(sizeof t / sizeof t[0]));

	for (k = 0; k < (int)(sizeof t / sizeof t[0]); k++)
		printf("%s\"%s\":%.1f", k ? "," : "{", t[k].name, t[k].best);
	printf(",\"quick\":%s}\n", quick ? "true" : "false");
	return 0;
}
