/* tls.c - one non-blocking HTTPS GET per struct tls_fetch (anchors: anchors.c)
 *
 * The fetch is a state machine driven by the daemon's poll loop: connect
 * (each address in turn), then the BearSSL engine pumped like BearSSL's
 * tools/sslio.c but never waiting: every tls_fetch_step moves as many bytes as
 * the socket allows and returns.  The response goes straight into the
 * HTTP parser (http.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "mtasts.h"

int tls_fetch_port = HTTPS_PORT;

/* ---- the SAN-only X.509 wrapper (TLS-3) --------------------------------
 * x509_minimal matches the server name against SAN dNSNames, but falls
 * back to the subject CN when the certificate has no SAN extension.  The
 * wrapper forwards everything to f->xc, which also gathers the first SAN
 * dNSName of the end-entity certificate as a name element; if the chain
 * validated and no dNSName was seen, the name came from the CN: refuse. */

static const unsigned char san_dns_oid[] = { 0, 2 };   /* SAN, dNSName */

static struct tls_fetch *
xw_fetch(const br_x509_class *const *ctx)
{
	return (struct tls_fetch *)(uintptr_t)((uintptr_t)ctx - offsetof(struct tls_fetch, xwrap_vtable));
}

static void tls_set_time(struct tls_fetch *f);

/* The X.509 side is set up only when the certificates come: a server that
 * never sends them (a hung fetch, the most a burst holds at once) leaves
 * those pages untouched.  The certificates wait in the body buffer: no
 * response before the handshake is over, and the chain is done with by
 * then. */
static void
xw_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_fetch *f = xw_fetch(ctx);

	xchain_minimal_init(&f->xc, f->ta);
	tls_set_time(f);
	f->san.oid = san_dns_oid;
	f->san.buf = f->san_name;
	f->san.len = sizeof f->san_name;
	f->san.status = 0;
	br_x509_minimal_set_name_elements(&f->xc, &f->san, 1);
	xchain_init(&f->xch, &f->xc, f->ta, f->body, sizeof f->body);
	f->san_seen = 0;
	f->chain_on = 1;
	f->xch.vtable->start_chain(&f->xch.vtable, server_name);
}

static void
xw_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_fetch *f = xw_fetch(ctx);

	if (f->chain_on)
		f->xch.vtable->start_cert(&f->xch.vtable, length);
}

static void
xw_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_fetch *f = xw_fetch(ctx);

	if (f->chain_on)
		f->xch.vtable->append(&f->xch.vtable, buf, len);
}

static void
xw_end_cert(const br_x509_class **ctx)
{
	struct tls_fetch *f = xw_fetch(ctx);

	if (f->chain_on)
		f->xch.vtable->end_cert(&f->xch.vtable);
}

static unsigned
xw_end_chain(const br_x509_class **ctx)
{
	struct tls_fetch *f = xw_fetch(ctx);
	unsigned err;

	if (!f->chain_on)               /* BearSSL starts a chain first: never */
		return BR_ERR_X509_EMPTY_CHAIN;
	err = f->xch.vtable->end_chain(&f->xch.vtable);

	/* status 1 (copied) or -1 (too long, bad encoding): a dNSName exists,
	 * so BearSSL matched against the SAN and not against the CN */
	f->san_seen = f->san.status != 0;
	if (err == 0 && !f->san_seen)
		err = BR_ERR_X509_BAD_SERVER_NAME;
	return err;
}

static const br_x509_pkey *
xw_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct tls_fetch *f = xw_fetch(ctx);

	return f->chain_on ? f->xch.vtable->get_pkey(&f->xch.vtable, usages) : NULL;
}

static const br_x509_class xw_class = {
	sizeof(br_x509_minimal_context),
	xw_start_chain, xw_start_cert, xw_append, xw_end_cert,
	xw_end_chain, xw_get_pkey
};

/* ---- error names -------------------------------------------------------- */

#define X(e) { e, #e }
static const struct { int code; const char *name; } x509_names[] = {
	X(BR_ERR_X509_INVALID_VALUE), X(BR_ERR_X509_TRUNCATED),
	X(BR_ERR_X509_EMPTY_CHAIN), X(BR_ERR_X509_INNER_TRUNC),
	X(BR_ERR_X509_BAD_TAG_CLASS), X(BR_ERR_X509_BAD_TAG_VALUE),
	X(BR_ERR_X509_INDEFINITE_LENGTH), X(BR_ERR_X509_EXTRA_ELEMENT),
	X(BR_ERR_X509_UNEXPECTED), X(BR_ERR_X509_NOT_CONSTRUCTED),
	X(BR_ERR_X509_NOT_PRIMITIVE), X(BR_ERR_X509_PARTIAL_BYTE),
	X(BR_ERR_X509_BAD_BOOLEAN), X(BR_ERR_X509_OVERFLOW),
	X(BR_ERR_X509_BAD_DN), X(BR_ERR_X509_BAD_TIME),
	X(BR_ERR_X509_UNSUPPORTED), X(BR_ERR_X509_LIMIT_EXCEEDED),
	X(BR_ERR_X509_WRONG_KEY_TYPE), X(BR_ERR_X509_BAD_SIGNATURE),
	X(BR_ERR_X509_TIME_UNKNOWN), X(BR_ERR_X509_EXPIRED),
	X(BR_ERR_X509_DN_MISMATCH), X(BR_ERR_X509_BAD_SERVER_NAME),
	X(BR_ERR_X509_CRITICAL_EXTENSION), X(BR_ERR_X509_NOT_CA),
	X(BR_ERR_X509_FORBIDDEN_KEY_USAGE), X(BR_ERR_X509_WEAK_PUBLIC_KEY),
	X(BR_ERR_X509_NOT_TRUSTED),
};

static const struct { int code; const char *name; } ssl_names[] = {
	X(BR_ERR_BAD_PARAM), X(BR_ERR_BAD_STATE), X(BR_ERR_UNSUPPORTED_VERSION),
	X(BR_ERR_BAD_VERSION), X(BR_ERR_BAD_LENGTH), X(BR_ERR_TOO_LARGE),
	X(BR_ERR_BAD_MAC), X(BR_ERR_NO_RANDOM), X(BR_ERR_UNKNOWN_TYPE),
	X(BR_ERR_UNEXPECTED), X(BR_ERR_BAD_CCS), X(BR_ERR_BAD_ALERT),
	X(BR_ERR_BAD_HANDSHAKE), X(BR_ERR_OVERSIZED_ID), X(BR_ERR_BAD_CIPHER_SUITE),
	X(BR_ERR_BAD_COMPRESSION), X(BR_ERR_BAD_FRAGLEN), X(BR_ERR_BAD_SECRENEG),
	X(BR_ERR_EXTRA_EXTENSION), X(BR_ERR_BAD_SNI), X(BR_ERR_BAD_HELLO_DONE),
	X(BR_ERR_LIMIT_EXCEEDED), X(BR_ERR_BAD_FINISHED), X(BR_ERR_RESUME_MISMATCH),
	X(BR_ERR_INVALID_ALGORITHM), X(BR_ERR_BAD_SIGNATURE), X(BR_ERR_WRONG_KEY_USAGE),
	X(BR_ERR_NO_CLIENT_AUTH), X(BR_ERR_IO),
};
#undef X

/* f->why for a BearSSL error: what it means, then its name (reason) */
static void
tls_explain(struct tls_fetch *f, int err, const char *reason)
{
	switch (err) {
	case BR_ERR_X509_BAD_SERVER_NAME:
		snprintf(f->why, sizeof f->why, f->san_seen ?
		    "TLS: certificate not valid for %s (%s)" :
		    "TLS: certificate has no DNS name (subjectAltName), so not valid for %s (%s)",
		    f->host, reason);
		return;
	case BR_ERR_X509_NOT_TRUSTED:
		snprintf(f->why, sizeof f->why,
		    "TLS: certificate not issued by a trusted CA (%s)", reason);
		return;
	case BR_ERR_X509_EXPIRED:
		snprintf(f->why, sizeof f->why,
		    "TLS: certificate expired or not yet valid (%s)", reason);
		return;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT)
		snprintf(f->why, sizeof f->why, "TLS: handshake with %s failed, we sent alert %d",
		    f->peer, err - BR_ERR_SEND_FATAL_ALERT);
	else if (err >= BR_ERR_RECV_FATAL_ALERT)
		snprintf(f->why, sizeof f->why, "TLS: %s sent fatal alert %d",
		    f->peer, err - BR_ERR_RECV_FATAL_ALERT);
	else if (err >= BR_ERR_X509_OK && err < BR_ERR_X509_OK + 32)
		snprintf(f->why, sizeof f->why, "TLS: certificate rejected (%s)", reason);
	else
		snprintf(f->why, sizeof f->why, "TLS: error with %s (%s)", f->peer, reason);
}

/* Class and reason code for a BearSSL error code (non-zero): the
 * certificate's faults (X.509 range) are sts-webpki-invalid, the rest of
 * the handshake sts-policy-fetch-error (RPT-2); codes are BearSSL's names,
 * "tls-alert-N" for an alert received and "tls-alert-sent-N" for one sent. */
static enum fetch_class
tls_error(int err, char *reason, size_t cap)
{
	int x509 = err >= BR_ERR_X509_OK && err < BR_ERR_X509_OK + 32;
	size_t i;

	if (err >= BR_ERR_SEND_FATAL_ALERT)
		snprintf(reason, cap, "tls-alert-sent-%d", err - BR_ERR_SEND_FATAL_ALERT);
	else if (err >= BR_ERR_RECV_FATAL_ALERT)
		snprintf(reason, cap, "tls-alert-%d", err - BR_ERR_RECV_FATAL_ALERT);
	else
		snprintf(reason, cap, x509 ? "BR_ERR_X509_%d" : "tls-error-%d", err);
	for (i = 0; i < sizeof x509_names / sizeof x509_names[0]; i++)
		if (x509_names[i].code == err)
			strlcpy_m(reason, x509_names[i].name, cap);
	for (i = 0; i < sizeof ssl_names / sizeof ssl_names[0]; i++)
		if (ssl_names[i].code == err)
			strlcpy_m(reason, ssl_names[i].name, cap);
	return x509 ? FETCH_ERR_WEBPKI : FETCH_ERR_FETCH;
}

/* ---- the wall clock (TLS-6) ------------------------------------------- */

/* The build date (__DATE__, "Mmm dd yyyy"), and never before 2025-01-01:
 * a wall clock earlier than this has not been set. */
static int64_t
tls_build_time(void)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *d = __DATE__;
	const char *m = strstr(months, (char[4]){ d[0], d[1], d[2], 0 });
	int64_t t, least = days_from_civil(2025, 1, 1) * 86400;

	if (m == NULL)
		return least;
	t = days_from_civil(atoi(d + 7), (int)(m - months) / 3 + 1, atoi(d + 4)) * 86400;
	return t > least ? t : least;
}

static void
tls_set_time(struct tls_fetch *f)
{
	static int warned;
	int64_t now = wall_now();

	if (now < tls_build_time() && !warned) {
		log_errx("the system clock (%lld) is before this program's build date: "
		    "certificates cannot be checked until the clock is set",
		    (long long)now);
		warned = 1;
	}
	/* BearSSL counts days from January 1st, 0 AD */
	br_x509_minimal_set_time(&f->xc, (uint32_t)(now / 86400 + 719528),
	    (uint32_t)(now % 86400));
}

/* ---- X25519 first (issue 14) -------------------------------------------
 * BearSSL lists its curves in ID order, so secp256r1 (23) comes before
 * x25519 (29), and a server that follows the client's order (nginx's
 * default) picks P-256: three times the CPU of X25519 here.  Offering
 * X25519 alone and retrying would not do: OpenSSL takes the ECDSA
 * certificate only if its curve is in the client's list.  So the list
 * keeps every curve and only its order changes: when br_ssl_client_reset
 * returns, the ClientHello is one plaintext record in the output buffer
 * and the only message hashed so far, so x25519 moves to the front and
 * the handshake hash restarts over the bytes that will be sent.  Any
 * other shape leaves the hello as BearSSL wrote it (P-256 first). */

static size_t
be16(const unsigned char *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* x25519 moved to the front of the supported_groups of the ClientHello
 * record r[0..len), in place: 1 if it moved, else 0.  Pure. */
int
tls_hello_x25519_first(unsigned char *r, size_t len)
{
	size_t at, end, n;

	if (len < 5 + 4 + 35 || r[0] != 22 || be16(r + 3) != len - 5 || r[5] != 1 ||
	    ((size_t)r[6] << 16 | be16(r + 7)) != len - 9)
		return 0;
	at = 9 + 34;                                    /* version, random */
	at += 1 + r[at];                                /* session id */
	if (at + 2 > len)
		return 0;
	at += 2 + be16(r + at);                         /* suites */
	if (at + 1 > len)
		return 0;
	at += 1 + r[at];                                /* compression */
	if (at + 2 > len || at + 2 + be16(r + at) != len)
		return 0;
	for (at += 2; at + 4 <= len; at = end) {
		end = at + 4 + be16(r + at + 2);
		if (end > len)
			return 0;
		if (be16(r + at) != 10 || end - at < 6 || be16(r + at + 4) != end - at - 6)
			continue;
		for (n = at + 6; n + 2 <= end; n += 2) {
			if (be16(r + n) == BR_EC_curve25519) {
				memmove(r + at + 8, r + at + 6, n - (at + 6));
				r[at + 6] = 0;
				r[at + 7] = BR_EC_curve25519;
				return n != at + 6;
			}
		}
		return 0;
	}
	return 0;
}

static void
hello_x25519_first(br_ssl_engine_context *eng)
{
	size_t len;
	unsigned char *r = br_ssl_engine_sendrec_buf(eng, &len);

	if (r != NULL && tls_hello_x25519_first(r, len)) {
		br_multihash_init(&eng->mhash);
		br_multihash_update(&eng->mhash, r + 5, len - 5);
	}
}

/* ---- the fetch state machine ------------------------------------------ */

enum { F_IDLE = 0, F_CONNECT, F_TLS, F_DONE };

static void
fetch_finish(struct tls_fetch *f, enum fetch_class c, const char *reason)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->state = F_DONE;
	f->result = c;
	strlcpy_m(f->reason, reason, sizeof f->reason);
	f->why[0] = '\0';
}

/* f finished with the HTTP parser's verdict */
static void
fetch_http_finish(struct tls_fetch *f)
{
	fetch_finish(f, f->http.err_class, f->http.reason);
	strlcpy_m(f->why, f->http.why, sizeof f->why);
}

/* f finished with BearSSL's error err */
static void
fetch_tls_finish(struct tls_fetch *f, int err)
{
	char reason[TLS_REASON_MAX];
	enum fetch_class c = tls_error(err, reason, sizeof reason);

	fetch_finish(f, c, reason);
	tls_explain(f, err, reason);
}

static void
addr_text(const struct tls_addr *a, char *out, size_t cap)
{
	const void *ip;

	if (a->ss.ss_family == AF_INET6)
		ip = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
	else
		ip = &((const struct sockaddr_in *)&a->ss)->sin_addr;
	if (inet_ntop(a->ss.ss_family, ip, out, (socklen_t)cap) == NULL)
		strlcpy_m(out, "?", cap);
}

static void tls_pump(struct tls_fetch *f);

static void
tls_begin(struct tls_fetch *f)
{
	unsigned char seed[32];

	f->state = F_TLS;
	f->outlen = f->outsent = f->inlen = f->inused = 0;
	f->heard = f->chain_on = 0;
	f->t_connect = mono_now();
	addr_text(&f->addr[f->cur], f->peer, sizeof f->peer);
	/* the system seeder may be missing in a chroot: add our own, from
	 * getrandom; with it, BearSSL need not try its own seeder again
	 * (/dev/urandom opened, read and closed at every fetch) */
	if (rand_fill(seed, sizeof seed) == 0) {
		br_ssl_engine_inject_entropy(&f->sc.eng, seed, sizeof seed);
		f->sc.eng.rng_os_rand_done = 1;
	}
	/* SNI and the name checked in the certificate are both host (TLS-1) */
	if (!br_ssl_client_reset(&f->sc, f->host, 0)) {
		fetch_tls_finish(f, br_ssl_engine_last_error(&f->sc.eng));
		return;
	}
	hello_x25519_first(&f->sc.eng);
	tls_pump(f);                    /* the ClientHello goes out now */
}

static void
conn_failed(struct tls_fetch *f)
{
	char ip[64];

	addr_text(&f->addr[f->cur], ip, sizeof ip);
	log_debug("%s: connect to %s port %d: %s", f->host, ip, tls_fetch_port,
	    strerror(f->conn_err));
	strlcpy_m(f->peer, ip, sizeof f->peer);
	close(f->fd);
	f->fd = -1;
}

/* Try addresses from f->cur + 1 on until one connects or is connecting. */
static void
connect_next(struct tls_fetch *f, msec_t now)
{
	while (++f->cur < f->naddr) {
		const struct tls_addr *a = &f->addr[f->cur];
		int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			f->conn_err = errno;
			continue;
		}
		f->fd = fd;
		addr_text(a, f->peer, sizeof f->peer);
		/* BearSSL hands over one record at a time: without NODELAY the
		 * last handshake record waits ~40 ms for a delayed ACK (Nagle) */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		/* a share of the time left, so one black hole cannot eat it all */
		f->conn_deadline = now + (f->deadline - now) / (f->naddr - f->cur);
		if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0) {
			tls_begin(f);
			return;
		}
		if (errno == EINPROGRESS || errno == EINTR) {
			f->state = F_CONNECT;   /* EINTR: it goes on in the background */
			return;
		}
		f->conn_err = errno;
		conn_failed(f);
	}
	fetch_finish(f, FETCH_ERR_FETCH, f->conn_err == ECONNREFUSED ? "connect-refused" :
	    f->conn_err == ETIMEDOUT ? "connect-timeout" : "connect-failed");
	if (f->conn_err == ECONNREFUSED)
		snprintf(f->why, sizeof f->why, "connection refused by %s port %d",
		    f->peer, tls_fetch_port);
	else if (f->conn_err == ETIMEDOUT)
		snprintf(f->why, sizeof f->why, "connection to %s port %d timed out",
		    f->peer, tls_fetch_port);
	else
		snprintf(f->why, sizeof f->why, "cannot connect to %s port %d: %s",
		    f->peer[0] ? f->peer : "any address", tls_fetch_port, strerror(f->conn_err));
}

static void
connect_done(struct tls_fetch *f, msec_t now)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		tls_begin(f);
		return;
	}
	if (err == EINPROGRESS || err == EALREADY)
		return;
	f->conn_err = err;
	conn_failed(f);
	connect_next(f, now);
}

/* The TCP stream ended or failed under TLS: without close_notify, only a
 * body already complete by its own framing counts (TLS-8). */
static void
tls_sock_end(struct tls_fetch *f, int err)
{
	if (!f->hs_done) {
		fetch_finish(f, FETCH_ERR_FETCH, err == 0 ? "tls-eof" :
		    err == ECONNRESET ? "connection-reset" : "io-error");
		snprintf(f->why, sizeof f->why, "TLS: %s by %s during the handshake",
		    err == 0 ? "connection closed" : err == ECONNRESET ? "connection reset" :
		    "I/O error", f->peer);
		return;
	}
	if (http_eof(&f->http, 0) == HTTP_DONE)
		fetch_finish(f, FETCH_OK, "");
	else
		fetch_http_finish(f);
}

static void
tls_closed(struct tls_fetch *f)
{
	int err = br_ssl_engine_last_error(&f->sc.eng);

	if (err != BR_ERR_OK)
		fetch_tls_finish(f, err);
	else if (http_eof(&f->http, 1) == HTTP_DONE)
		fetch_finish(f, FETCH_OK, "");    /* close_notify ended the body */
	else
		fetch_http_finish(f);
}

/* One step of the pump in one direction: bytes moved (or EINTR: try
 * again), the socket would block, or the fetch is over (finished). */
enum pump { PUMP_MOVED, PUMP_BLOCKED, PUMP_OVER };

/* Encrypted records to the socket.  During the handshake, records the
 * engine makes one after another (ClientKeyExchange, ChangeCipherSpec and
 * Finished) are gathered at the start of the body buffer, whose pages the
 * server's flight has touched (the certificates, done with before the
 * client's flight; no response comes before the handshake is over), and
 * go out in one segment instead of three.  The ClientHello, before the
 * server said anything, and a record too big for OUT_GATHER go as they
 * are. */
#define OUT_GATHER 640          /* an RSA-4096 ClientKeyExchange fits */

/* records to send: the engine's, or gathered ones not yet all sent */
static int
sending(const struct tls_fetch *f, unsigned st)
{
	return (st & BR_SSL_SENDREC) || f->outlen > 0;
}

static enum pump
pump_sendrec(struct tls_fetch *f)
{
	unsigned char *buf;
	size_t len;
	ssize_t n;

	while (f->heard && !f->hs_done && f->outsent == 0 &&
	    (br_ssl_engine_current_state(&f->sc.eng) & BR_SSL_SENDREC)) {
		buf = br_ssl_engine_sendrec_buf(&f->sc.eng, &len);
		if (len > OUT_GATHER - f->outlen)
			break;
		memcpy(f->body + f->outlen, buf, len);
		f->outlen += len;
		br_ssl_engine_sendrec_ack(&f->sc.eng, len);
	}
	if (f->outlen > 0) {
		buf = f->body + f->outsent;
		len = f->outlen - f->outsent;
	} else {
		buf = br_ssl_engine_sendrec_buf(&f->sc.eng, &len);
	}
	n = send(f->fd, buf, len, MSG_NOSIGNAL);
	if (n > 0) {
		if (f->outlen == 0)
			br_ssl_engine_sendrec_ack(&f->sc.eng, (size_t)n);
		else if ((f->outsent += (size_t)n) == f->outlen)
			f->outlen = f->outsent = 0;
		return PUMP_MOVED;
	}
	if (n < 0 && errno == EINTR)
		return PUMP_MOVED;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		tls_sock_end(f, n == 0 ? EIO : errno);
		return PUMP_OVER;
	}
	return PUMP_BLOCKED;
}

/* Decrypted response bytes to the HTTP parser. */
static enum pump
pump_recvapp(struct tls_fetch *f)
{
	size_t len, used;
	unsigned char *buf = br_ssl_engine_recvapp_buf(&f->sc.eng, &len);

	switch (http_feed(&f->http, buf, len, &used)) {
	case HTTP_DONE:
		/* complete by its framing: no need to wait for close */
		fetch_finish(f, FETCH_OK, "");
		return PUMP_OVER;
	case HTTP_ERROR:
		fetch_http_finish(f);
		return PUMP_OVER;
	case HTTP_NEED_MORE:
		break;
	}
	br_ssl_engine_recvapp_ack(&f->sc.eng, used);
	return PUMP_MOVED;
}

/* The request into the engine, flushed once it is all in. */
static void
pump_sendapp(struct tls_fetch *f)
{
	size_t len;
	unsigned char *buf = br_ssl_engine_sendapp_buf(&f->sc.eng, &len);

	if (len > f->reqlen - f->reqsent)
		len = f->reqlen - f->reqsent;
	memcpy(buf, f->req + f->reqsent, len);
	br_ssl_engine_sendapp_ack(&f->sc.eng, len);
	f->reqsent += len;
	if (f->reqsent == f->reqlen)
		br_ssl_engine_flush(&f->sc.eng, 0);
}

/* Encrypted records from the socket.  BearSSL asks for a record's 5-byte
 * header, then for its body: where it asks for less than f->in holds,
 * read ahead into f->in and give it from there. */
static enum pump
pump_recvrec(struct tls_fetch *f)
{
	size_t len;
	unsigned char *buf = br_ssl_engine_recvrec_buf(&f->sc.eng, &len);
	int direct = f->inused == f->inlen && len >= sizeof f->in;
	ssize_t n;

	if (f->inused == f->inlen) {
		n = recv(f->fd, direct ? buf : f->in, direct ? len : sizeof f->in, 0);
		if (n < 0 && errno == EINTR)
			return PUMP_MOVED;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return PUMP_BLOCKED;
		if (n <= 0) {
			tls_sock_end(f, n == 0 ? 0 : errno);
			return PUMP_OVER;
		}
		f->heard = 1;
		if (direct) {
			br_ssl_engine_recvrec_ack(&f->sc.eng, (size_t)n);
			return PUMP_MOVED;
		}
		f->inlen = (size_t)n;
		f->inused = 0;
	}
	if (len > f->inlen - f->inused)
		len = f->inlen - f->inused;
	memcpy(buf, f->in + f->inused, len);
	f->inused += len;
	br_ssl_engine_recvrec_ack(&f->sc.eng, len);
	return PUMP_MOVED;
}

/* Move bytes until the socket would block or the fetch is over.
 * Outgoing records first, as in BearSSL's own I/O loop. */
static void
tls_pump(struct tls_fetch *f)
{
	while (f->state == F_TLS) {
		unsigned st = br_ssl_engine_current_state(&f->sc.eng);
		enum pump p;

		if (st & BR_SSL_CLOSED) {
			tls_closed(f);
			return;
		}
		if ((st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) && !f->hs_done) {
			f->hs_done = 1;
			f->t_handshake = mono_now();
		}
		if (sending(f, st)) {
			if ((p = pump_sendrec(f)) == PUMP_OVER)
				return;
			if (p == PUMP_MOVED)
				continue;
			/* blocked: reading may still make progress */
		}
		if (st & BR_SSL_RECVAPP) {
			if (pump_recvapp(f) == PUMP_OVER)
				return;
			continue;
		}
		if ((st & BR_SSL_SENDAPP) && f->reqsent < f->reqlen) {
			pump_sendapp(f);
			continue;
		}
		if (!(st & BR_SSL_RECVREC) || pump_recvrec(f) != PUMP_MOVED)
			return;
	}
}

/* The client engine with what TLS 1.2 to a web server needs: ECDHE (and
 * plain RSA for old servers) with AES-GCM, ChaCha20-Poly1305 or AES-CBC;
 * no 3DES, CCM, static ECDH, MD5 or TLS 1.0 PRF, so they are not linked. */
static void
tls_engine_init(br_ssl_client_context *cc)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_RSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_RSA_WITH_AES_256_CBC_SHA256,
		BR_TLS_RSA_WITH_AES_128_CBC_SHA,
		BR_TLS_RSA_WITH_AES_256_CBC_SHA,
	};
	/* the engine hashes every handshake byte with each of these: the
	 * PRFs need SHA-256 and SHA-384, and they (with SHA-1 for old
	 * servers) are what we offer for the server's key exchange
	 * signature; certificates may use any (xchain_minimal_init) */
	static const br_hash_class *const hashes[] = {
		&br_sha1_vtable, &br_sha256_vtable, &br_sha384_vtable
	};
	br_ssl_engine_context *eng = &cc->eng;
	size_t i;

	br_ssl_client_zero(cc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	/* one handshake per fetch: a renegotiation would also bring a second
	 * certificate chain into the body buffer under the response */
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_suites(eng, suites, sizeof suites / sizeof suites[0]);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_ssl_engine_set_hash(eng, (int)((hashes[i]->desc >> BR_HASHDESC_ID_OFF) &
		    BR_HASHDESC_ID_MASK), hashes[i]);
	br_ssl_client_set_default_rsapub(cc);
	br_ssl_engine_set_default_rsavrfy(eng);
	br_ssl_engine_set_default_ecdsa(eng);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	/* Portable constant-time symmetric code only: a policy is a few KB,
	 * so AES-NI, PCLMUL or SSE2 versions would save microseconds and cost
	 * kilobytes of binary.  ct64 where 64-bit multiplies are native. */
	br_ssl_engine_set_gcm(eng, &br_sslrec_in_gcm_vtable, &br_sslrec_out_gcm_vtable);
	br_ssl_engine_set_cbc(eng, &br_sslrec_in_cbc_vtable, &br_sslrec_out_cbc_vtable);
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable, &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_chacha20(eng, &br_chacha20_ct_run);
	if (sizeof(void *) >= 8) {
		br_ssl_engine_set_aes_ctr(eng, &br_aes_ct64_ctr_vtable);
		br_ssl_engine_set_aes_cbc(eng, &br_aes_ct64_cbcenc_vtable, &br_aes_ct64_cbcdec_vtable);
		br_ssl_engine_set_ghash(eng, &br_ghash_ctmul64);
	} else {
		br_ssl_engine_set_aes_ctr(eng, &br_aes_ct_ctr_vtable);
		br_ssl_engine_set_aes_cbc(eng, &br_aes_ct_cbcenc_vtable, &br_aes_ct_cbcdec_vtable);
		br_ssl_engine_set_ghash(eng, &br_ghash_ctmul);
	}
	br_ssl_engine_set_poly1305(eng, &br_poly1305_ctmul_run);
}

void
tls_fetch_start(struct tls_fetch *f, const struct anchors *ta, const char *host,
    const struct tls_addr *addrs, int naddr, msec_t now, msec_t deadline)
{
	int i, n;

	f->fd = -1;
	f->state = F_IDLE;
	f->cur = -1;
	f->naddr = 0;
	f->deadline = deadline;
	f->conn_deadline = deadline;
	f->conn_err = 0;
	f->hs_done = 0;
	f->reqlen = f->reqsent = 0;
	f->result = FETCH_OK;
	f->reason[0] = '\0';
	f->why[0] = '\0';
	f->peer[0] = '\0';
	f->started = now;
	f->t_connect = f->t_handshake = 0;
	http_init(&f->http, f->body, sizeof f->body);
	if (strlen(host) > DOMAIN_MAX || ta == NULL || ta->n == 0) {
		fetch_finish(f, FETCH_ERR_FETCH, "bad-fetch-arguments");
		return;
	}
	strlcpy_m(f->host, host, sizeof f->host);
	for (i = 0; i < naddr && f->naddr < (int)(sizeof f->addr / sizeof f->addr[0]); i++) {
		struct tls_addr *a = &f->addr[f->naddr];
		*a = addrs[i];
		if (a->ss.ss_family == AF_INET)
			((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)tls_fetch_port);
		else if (a->ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)tls_fetch_port);
		else
			continue;
		f->naddr++;
	}
	n = snprintf(f->req, sizeof f->req,
	    "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "User-Agent: mtasts/" MTASTS_VERSION "\r\n"
	    "Accept: text/plain\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: close\r\n"
	    "\r\n", f->host);
	f->reqlen = (size_t)n;

	/* TLS 1.2 only (TLS-4), one mono buffer (TLS-7), the SAN wrapper
	 * in front of the minimal X.509 engine (TLS-3) */
	tls_engine_init(&f->sc);
	br_ssl_engine_set_buffer(&f->sc.eng, f->iobuf, sizeof f->iobuf, 0);
	f->ta = ta;
	f->xwrap_vtable = &xw_class;
	f->san_seen = 0;
	br_ssl_engine_set_x509(&f->sc.eng, &f->xwrap_vtable);

	connect_next(f, now);
}

int
tls_fetch_poll(const struct tls_fetch *f, short *events, msec_t *deadline)
{
	unsigned st;

	*events = 0;
	switch (f->state) {
	case F_CONNECT:
		*events = POLLOUT;
		*deadline = f->conn_deadline < f->deadline ? f->conn_deadline : f->deadline;
		return f->fd;
	case F_TLS:
		st = br_ssl_engine_current_state(&f->sc.eng);
		if (sending(f, st))
			*events |= POLLOUT;
		if (st & BR_SSL_RECVREC)
			*events |= POLLIN;
		if (*events == 0)
			*events = POLLIN;       /* never sleep without a wakeup */
		*deadline = f->deadline;
		return f->fd;
	case F_DONE:
		*deadline = 0;                  /* finished in tls_fetch_start: step now */
		return -1;
	default:
		return -1;
	}
}

int
tls_fetch_step(struct tls_fetch *f, short revents, msec_t now)
{
	if (f->state == F_DONE)
		return 1;
	if (f->state == F_IDLE) {
		fetch_finish(f, FETCH_ERR_FETCH, "aborted");
		return 1;
	}
	if (f->state == F_CONNECT && revents != 0)
		connect_done(f, now);
	else if (f->state == F_TLS)
		tls_pump(f);
	if (f->state == F_DONE)
		return 1;
	if (now >= f->deadline) {
		int state = f->state;
		fetch_finish(f, FETCH_ERR_FETCH, "timeout");
		snprintf(f->why, sizeof f->why, "%s %s port %d after %lld s",
		    state == F_CONNECT ? "no TCP connection to" : !f->hs_done ?
		    "TLS handshake not finished with" : "HTTP response not complete from",
		    f->peer, tls_fetch_port, (long long)((now - f->started + 500) / 1000));
		return 1;
	}
	if (f->state == F_CONNECT && now >= f->conn_deadline) {
		f->conn_err = ETIMEDOUT;
		conn_failed(f);
		connect_next(f, now);
	}
	return f->state == F_DONE;
}

void
tls_fetch_abort(struct tls_fetch *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->state != F_DONE)
		f->state = F_IDLE;
}
