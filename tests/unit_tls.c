/* unit_tls.c - trust anchor loading, and real HTTPS fetches against
 * `openssl s_server` on 127.0.0.1 with a PKI made fresh by tests/tls/gen.sh.
 * Only 127.0.0.1 and ::1 are ever contacted. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mtasts.h"
#include "unit.h"

#define HOST "mta-sts.example.com"
#define POLICY "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n"

static char dir[64];               /* the temp dir with keys and web roots */
static struct anchors anchors; /* the test CA */
static struct tls_fetch F;

static void
path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void
write_file(const char *name, const void *data, size_t len)
{
	char p[256];
	FILE *fp;

	path(p, sizeof p, name);
	fp = fopen(p, "wb");
	if (fp == NULL || fwrite(data, 1, len, fp) != len) {
		printf("FAIL cannot write %s\n", p);
		exit(1);
	}
	fclose(fp);
}

/* A web root whose /.well-known/mta-sts.txt is a complete HTTP response
 * (s_server -HTTP sends the file as it is). */
static void
make_www(const char *name, const char *resp, size_t len)
{
	char p[256];

	path(p, sizeof p, name);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/.well-known", name);
	{
		char q[256];
		path(q, sizeof q, p);
		mkdir(q, 0700);
	}
	snprintf(p, sizeof p, "%s/.well-known/mta-sts.txt", name);
	write_file(p, resp, len);
}

/* ---- servers on 127.0.0.1 -------------------------------------------- */

struct server {
	pid_t pid;
	int port;
};

static int listener(int *port);

/* A port the kernel just considered free (not one in use by some other
 * test's connection, as a random pick could be). */
static int
free_port(void)
{
	int port, fd = listener(&port);

	close(fd);
	return port;
}

static int
tcp_probe(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
	close(fd);
	return ok;
}

/* openssl s_server with cert NAME (+ chain), serving web root www (-HTTP),
 * or, when www is NULL, echoing what it receives into stdout_file and
 * answering with the contents of stdin_file. */
static int
server_start(struct server *s, const char *name, const char *chain, const char *www,
    const char *proto, const char *stdin_file, const char *stdout_file)
{
	int tries, i;

	for (tries = 0; tries < 8; tries++) {
		char acc[64], cert[256], key[256], ch[256], wd[256], pr[64];
		const char *argv[20];
		int n = 0;

		s->port = free_port();
		snprintf(acc, sizeof acc, "127.0.0.1:%d", s->port);
		snprintf(cert, sizeof cert, "%s/%s.pem", dir, name);
		snprintf(key, sizeof key, "%s/%s.key", dir, name);
		argv[n++] = "openssl";
		argv[n++] = "s_server";
		argv[n++] = "-quiet";
		argv[n++] = "-accept";
		argv[n++] = acc;
		argv[n++] = "-cert";
		argv[n++] = cert;
		argv[n++] = "-key";
		argv[n++] = key;
		if (chain != NULL) {
			snprintf(ch, sizeof ch, "%s/%s.pem", dir, chain);
			argv[n++] = "-cert_chain";
			argv[n++] = ch;
		}
		if (www != NULL)
			argv[n++] = "-HTTP";
		if (proto != NULL) {    /* one option, or an option and its value */
			char *sp;
			strlcpy_m(pr, proto, sizeof pr);
			argv[n++] = pr;
			if ((sp = strchr(pr, ' ')) != NULL) {
				*sp = '\0';
				argv[n++] = sp + 1;
			}
		}
		argv[n] = NULL;
		snprintf(wd, sizeof wd, "%s/%s", dir, www != NULL ? www : ".");

		s->pid = fork();
		if (s->pid == 0) {
			int in = open(stdin_file != NULL ? stdin_file : "/dev/null", O_RDONLY);
			int out = open(stdout_file != NULL ? stdout_file : "/dev/null",
			    O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (chdir(wd) < 0 || in < 0 || out < 0)
				_exit(127);
			dup2(in, 0);
			dup2(out, 1);
			dup2(out, 2);
			execvp("openssl", (char *const *)argv);
			_exit(127);
		}
		for (i = 0; i < 250; i++) {
			int st;
			if (waitpid(s->pid, &st, WNOHANG) == s->pid)
				break;          /* died: port taken? try another */
			/* stdin/stdout mode serves one client: do not probe it */
			if (www == NULL ? i == 25 : tcp_probe(s->port))
				return 0;
			usleep(20000);
		}
		if (i == 250) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
	}
	printf("FAIL cannot start openssl s_server\n");
	return -1;
}

static void
server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

/* A plain listener on 127.0.0.1 (port chosen by the kernel). */
static int
listener(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		printf("FAIL listener: %s\n", strerror(errno));
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* ---- driving a fetch ---------------------------------------------------- */

static void
addr_set(struct tls_addr *a, const char *ip)
{
	memset(a, 0, sizeof *a);
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		a->len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
		a->len = sizeof *s4;
	}
}

static int nsteps, bad_events;

/* Run one fetch to completion with a small poll loop, like the daemon's.
 * Returns the time taken in ms. */
static msec_t
run_fetch(const struct anchors *ta, const char *host, const struct tls_addr *addrs,
    int naddr, int port, msec_t timeout)
{
	msec_t start = mono_now(), now;

	tls_fetch_port = port;
	nsteps = bad_events = 0;
	tls_fetch_start(&F, ta, host, addrs, naddr, start, start + timeout);
	for (;;) {
		struct pollfd p;
		short ev = 0;
		msec_t dl = INT64_MAX;
		int fd = tls_fetch_poll(&F, &ev, &dl), ms;

		now = mono_now();
		ms = dl <= now ? 0 : dl - now > 10000 ? 10000 : (int)(dl - now);
		p.fd = fd;
		p.events = ev;
		p.revents = 0;
		if (fd >= 0 && ev == 0)
			bad_events++;           /* an fd without events: a bug */
		if (poll(&p, fd >= 0 ? 1 : 0, ms) < 0 && errno != EINTR)
			break;
		now = mono_now();
		if (p.revents != 0 || dl <= now) {
			nsteps++;
			if (tls_fetch_step(&F, p.revents, now))
				break;
		}
		if (now - start > timeout + 10000) {
			printf("FAIL fetch did not end after its deadline\n");
			break;
		}
	}
	tls_fetch_abort(&F);
	return mono_now() - start;
}

/* Fetch from 127.0.0.1:port and check class and reason (and body if OK). */
static void
expect_fetch(int line, const struct anchors *ta, int port, enum fetch_class cls,
    const char *reason, const char *body)
{
	struct tls_addr a;

	addr_set(&a, "127.0.0.1");
	run_fetch(ta, HOST, &a, 1, port, 10000);
	if (F.result != cls || strcmp(F.reason, reason) != 0)
		printf("  (line %d: got %s \"%s\")\n", line, http_class_str(F.result), F.reason);
	CHECK_INT(F.result, cls);
	CHECK_STR(F.reason, reason);
	if (cls == FETCH_OK) {
		if (body != NULL)
			CHECK_MEM(F.http.body, F.http.body_len, body);
		CHECK_STR(F.peer, "127.0.0.1");
	}
}

/* Serve one certificate and web root, fetch once, stop. */
static void
serve_and_fetch(int line, const char *cert, const char *chain, const char *www,
    enum fetch_class cls, const char *reason, const char *body)
{
	struct server s;

	if (server_start(&s, cert, chain, www, NULL, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	expect_fetch(line, &anchors, s.port, cls, reason, body);
	server_stop(&s);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_anchors(void)
{
	struct anchors a;
	char err[256], p[256], buf[16384];
	size_t i, n;
	int ok;
	FILE *fp;

	/* the system bundle */
	if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
		CHECK_INT(anchors_load(&a, "/etc/ssl/certs/ca-certificates.crt", err, sizeof err), 0);
		printf("system bundle: %zu anchors\n", a.n);
		CHECK(a.n > 100);
		ok = 1;
		for (i = 0; i < a.n; i++) {
			const br_x509_trust_anchor *t = &a.ta[i];
			if (t->dn.len == 0 || !(t->flags & BR_X509_TA_CA))
				ok = 0;
			if (t->pkey.key_type == BR_KEYTYPE_RSA) {
				if (t->pkey.key.rsa.nlen < 128 || t->pkey.key.rsa.elen == 0)
					ok = 0;
			} else if (t->pkey.key_type == BR_KEYTYPE_EC) {
				if (t->pkey.key.ec.qlen == 0)
					ok = 0;
			} else {
				ok = 0;
			}
		}
		CHECK(ok);
		anchors_free(&a);
		CHECK(a.ta == NULL && a.n == 0 && a.mem == NULL);
	} else {
		printf("FAIL no /etc/ssl/certs/ca-certificates.crt\n");
		CHECK(0);
	}

	/* the test CA: one EC anchor with the CA flag */
	path(p, sizeof p, "ca.pem");
	CHECK_INT(anchors_load(&a, p, err, sizeof err), 0);
	CHECK_INT(a.n, 1);
	CHECK_INT(a.ta[0].flags, BR_X509_TA_CA);
	CHECK_INT(a.ta[0].pkey.key_type, BR_KEYTYPE_EC);
	CHECK_INT(a.ta[0].pkey.key.ec.curve, BR_EC_secp256r1);
	CHECK_INT(a.ta[0].pkey.key.ec.qlen, 65);
	anchors_free(&a);

	/* a mixed file: comments, a key, a broken object, an RSA CA, a leaf */
	{
		static const char broken[] =
		    "-----BEGIN CERTIFICATE-----\n@@@@ not base64 @@@@\n-----END CERTIFICATE-----\n";
		char *all = malloc(65536);
		size_t len = 0;
		const char *parts[] = { "ca.key", "inter.pem", "good.pem" };
		len += (size_t)sprintf(all, "# a comment line\nsome text\n");
		for (i = 0; i < 3; i++) {
			path(p, sizeof p, parts[i]);
			fp = fopen(p, "rb");
			len += fread(all + len, 1, 65536 - len, fp);
			fclose(fp);
			if (i == 0) {
				memcpy(all + len, broken, sizeof broken - 1);
				len += sizeof broken - 1;
			}
		}
		write_file("mixed.pem", all, len);
		path(p, sizeof p, "mixed.pem");
		CHECK_INT(anchors_load(&a, p, err, sizeof err), 0);
		CHECK_INT(a.n, 2);
		if (a.n == 2) {
			CHECK_INT(a.ta[0].flags, BR_X509_TA_CA);
			CHECK_INT(a.ta[0].pkey.key_type, BR_KEYTYPE_RSA);
			CHECK_INT(a.ta[0].pkey.key.rsa.nlen, 256);
			CHECK_INT(a.ta[0].pkey.key.rsa.elen, 3);
			CHECK_INT(a.ta[1].flags, 0);    /* a leaf: direct trust only */
			CHECK_INT(a.ta[1].pkey.key_type, BR_KEYTYPE_EC);
		}
		anchors_free(&a);

		/* cut in the middle of the leaf: the complete one still counts */
		write_file("cut.pem", all, len - 200);
		path(p, sizeof p, "cut.pem");
		CHECK_INT(anchors_load(&a, p, err, sizeof err), 0);
		CHECK_INT(a.n, 1);
		anchors_free(&a);

		/* CRLF line ends, no final newline */
		path(p, sizeof p, "ca.pem");
		fp = fopen(p, "rb");
		n = fread(buf, 1, sizeof buf / 2, fp);
		fclose(fp);
		for (i = 0, len = 0; i < n; i++) {
			if (buf[i] == '\n')
				all[len++] = '\r';
			all[len++] = buf[i];
		}
		write_file("crlf.pem", all, len - 2);
		path(p, sizeof p, "crlf.pem");
		CHECK_INT(anchors_load(&a, p, err, sizeof err), 0);
		CHECK_INT(a.n, 1);
		anchors_free(&a);
		free(all);
	}

	/* nothing usable */
	rand_fill(buf, sizeof buf);
	write_file("garbage.pem", buf, sizeof buf);
	write_file("empty.pem", "", 0);
	{
		static const char *bad[] = { "garbage.pem", "empty.pem", "ca.key", "nonexistent.pem", "." };
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			path(p, sizeof p, bad[i]);
			err[0] = '\0';
			CHECK_INT(anchors_load(&a, p, err, sizeof err), -1);
			CHECK(strstr(err, p) != NULL);
			CHECK(a.n == 0 && a.ta == NULL);
			anchors_free(&a);   /* harmless after a failure */
		}
	}
}

struct der {
	unsigned char d[8192];
	size_t n;
};

static void
der_append(void *ctx, const void *src, size_t len)
{
	struct der *b = ctx;

	if (b->n + len <= sizeof b->d) {
		memcpy(b->d + b->n, src, len);
		b->n += len;
	}
}

/* The first PEM object of a file in dir, decoded. */
static void
pem_to_der(const char *file, struct der *out)
{
	br_pem_decoder_context pc;
	char p[256], pem[8192];
	size_t len, off = 0;
	FILE *fp;

	out->n = 0;
	snprintf(p, sizeof p, "%s/%s", dir, file);
	if ((fp = fopen(p, "rb")) == NULL)
		return;
	len = fread(pem, 1, sizeof pem, fp);
	fclose(fp);
	br_pem_decoder_init(&pc);
	while (off < len) {
		off += br_pem_decoder_push(&pc, pem + off, len - off);
		if (br_pem_decoder_event(&pc) == BR_PEM_BEGIN_OBJ)
			br_pem_decoder_setdest(&pc, der_append, out);
	}
}

/* BearSSL's own engine accepts a CN-only certificate: the wrapper is what
 * refuses it (TLS-3). */
static void
test_cn_fallback(void)
{
	static const char *names[] = { "good.pem", "cnonly.pem", "wrongname.pem", "iponly.pem",
	    "expired.pem" };
	static const unsigned want[] = { 0, 0, BR_ERR_X509_BAD_SERVER_NAME,
	    BR_ERR_X509_BAD_SERVER_NAME, BR_ERR_X509_EXPIRED };
	static br_x509_minimal_context xc;
	static struct der der;
	int64_t now = wall_now();
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		const br_x509_class **vt = &xc.vtable;

		pem_to_der(names[i], &der);
		CHECK(der.n > 100);
		br_x509_minimal_init_full(&xc, anchors.ta, anchors.n);
		br_x509_minimal_set_time(&xc, (uint32_t)(now / 86400 + 719528),
		    (uint32_t)(now % 86400));
		xc.vtable->start_chain(vt, HOST);
		xc.vtable->start_cert(vt, (uint32_t)der.n);
		xc.vtable->append(vt, der.d, der.n);
		xc.vtable->end_cert(vt);
		CHECK_INT(xc.vtable->end_chain(vt), want[i]);
	}
}

/* ---- a BearSSL test server, for what s_server cannot do ----------------
 * A forked child serving one connection with blocking br_sslio (fine in a
 * test): it records the request and can end without close_notify. */

static int
sock_read(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n;

	while ((n = read(*(int *)ctx, buf, len)) < 0 && errno == EINTR)
		;
	return n > 0 ? (int)n : -1;
}

static int
sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n;

	while ((n = write(*(int *)ctx, buf, len)) < 0 && errno == EINTR)
		;
	return n > 0 ? (int)n : -1;
}

static void
bssl_child(int lfd, const char *resp, size_t len, int clean, const char *reqfile)
{
	static br_ssl_server_context sc;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	static struct der cert, key;
	static br_skey_decoder_context kd;
	br_x509_certificate chain;
	br_sslio_context io;
	char req[2048];
	size_t rl = 0;
	int c;

	pem_to_der("good.pem", &cert);
	pem_to_der("good.key", &key);
	br_skey_decoder_init(&kd);
	br_skey_decoder_push(&kd, key.d, key.n);
	if (br_skey_decoder_last_error(&kd) != 0 || br_skey_decoder_key_type(&kd) != BR_KEYTYPE_EC)
		_exit(2);
	chain.data = cert.d;
	chain.data_len = cert.n;
	br_ssl_server_init_full_ec(&sc, &chain, 1, BR_KEYTYPE_EC, br_skey_decoder_get_ec(&kd));
	br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
	if ((c = accept(lfd, NULL, NULL)) < 0)
		_exit(3);
	br_ssl_server_reset(&sc);
	br_sslio_init(&io, &sc.eng, sock_read, &c, sock_write, &c);
	while (rl < sizeof req && (rl < 4 || memcmp(req + rl - 4, "\r\n\r\n", 4) != 0)) {
		if (br_sslio_read(&io, req + rl, 1) <= 0)
			_exit(4);
		rl++;
	}
	if (reqfile != NULL)
		write_file(reqfile, req, rl);
	br_sslio_write_all(&io, resp, len);
	br_sslio_flush(&io);
	if (clean)
		br_sslio_close(&io);
	close(c);
	_exit(0);
}

/* Fetch once from a BearSSL child serving resp. */
static void
bssl_fetch(int line, const char *resp, int clean, const char *reqfile,
    enum fetch_class cls, const char *reason, const char *body)
{
	int port, lfd = listener(&port);
	pid_t pid = fork();

	if (pid == 0)
		bssl_child(lfd, resp, strlen(resp), clean, reqfile);
	expect_fetch(line, &anchors, port, cls, reason, body);
	close(lfd);
	waitpid(pid, NULL, 0);
}

static void
test_fetch(void)
{
	char resp[HTTP_BODY_MAX + 512], p[256];
	struct tls_addr addrs[3];
	struct anchors sys;
	struct server s;
	size_t len;
	msec_t took;
	pid_t pid;
	int lfd, port;

	/* web roots */
	len = (size_t)sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(POLICY), POLICY);
	make_www("www-cl", resp, len);
	len = (size_t)sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n10;x=y\r\n%.16s\r\n%zx\r\n%s\r\n0\r\nX-T: 1\r\n\r\n",
	    POLICY, strlen(POLICY) - 16, POLICY + 16);
	make_www("www-chunked", resp, len);
	len = (size_t)sprintf(resp, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%s", POLICY);
	make_www("www-close", resp, len);
	len = (size_t)sprintf(resp, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 9\r\n\r\nnot found");
	make_www("www-404", resp, len);
	len = (size_t)sprintf(resp, "HTTP/1.1 301 Moved\r\nLocation: https://" HOST "/x\r\n"
	    "Content-Length: 0\r\n\r\n");
	make_www("www-301", resp, len);
	len = (size_t)sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(POLICY), POLICY);
	make_www("www-html", resp, len);
	len = (size_t)sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %d\r\n\r\n", HTTP_BODY_MAX);
	memset(resp + len, 'p', HTTP_BODY_MAX);
	make_www("www-big", resp, len + HTTP_BODY_MAX);
	len = (size_t)sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %d\r\n\r\n", HTTP_BODY_MAX + 1);
	memset(resp + len, 'p', HTTP_BODY_MAX + 1);
	make_www("www-toobig", resp, len + HTTP_BODY_MAX + 1);

	/* good certificates and the HTTP outcomes */
	serve_and_fetch(__LINE__, "good", NULL, "www-cl", FETCH_OK, "", POLICY);
	/* s_server follows the client's order of groups: X25519 comes first
	 * (issue 14); a server with P-256 only still gets P-256 */
	CHECK_INT(br_ssl_engine_get_ecdhe_curve(&F.sc.eng), BR_EC_curve25519);
	if (server_start(&s, "good", NULL, "www-cl", "-groups P-256", NULL, NULL) == 0) {
		expect_fetch(__LINE__, &anchors, s.port, FETCH_OK, "", POLICY);
		CHECK_INT(br_ssl_engine_get_ecdhe_curve(&F.sc.eng), BR_EC_secp256r1);
		server_stop(&s);
	}
	serve_and_fetch(__LINE__, "good", NULL, "www-chunked", FETCH_OK, "", POLICY);
	serve_and_fetch(__LINE__, "chained", "inter", "www-cl", FETCH_OK, "", POLICY);
	/* the second time, the intermediate is not checked again (issue 14) */
	{
		unsigned long hits = xcache_stats.hits;

		CHECK_INT(xcache_count(), 1);
		serve_and_fetch(__LINE__, "chained", "inter", "www-cl", FETCH_OK, "", POLICY);
		CHECK_INT(xcache_stats.hits, hits + 1);
		CHECK(F.xch.via_cache);
	}
	serve_and_fetch(__LINE__, "wildcard", NULL, "www-cl", FETCH_OK, "", POLICY);
	serve_and_fetch(__LINE__, "good", NULL, "www-404", FETCH_ERR_FETCH, "http-status-404", "");
	serve_and_fetch(__LINE__, "good", NULL, "www-301", FETCH_ERR_FETCH, "http-status-301", "");
	CHECK_STR(F.why, "HTTP 301 (redirects are not followed)");  /* the parser's, copied */
	serve_and_fetch(__LINE__, "good", NULL, "www-html", FETCH_ERR_POLICY, "content-type", "");
	serve_and_fetch(__LINE__, "good", NULL, "www-toobig", FETCH_ERR_FETCH, "body-too-large", "");
	serve_and_fetch(__LINE__, "good", NULL, "www-close", FETCH_OK, "", POLICY);
	/* 64 KiB through the 16 KiB mono buffer */
	if (server_start(&s, "good", NULL, "www-big", NULL, NULL, NULL) == 0) {
		size_t i;
		expect_fetch(__LINE__, &anchors, s.port, FETCH_OK, "", NULL);
		CHECK_INT(F.http.body_len, HTTP_BODY_MAX);
		for (i = 0; i < F.http.body_len && F.http.body[i] == 'p'; i++)
			;
		CHECK_INT(i, HTTP_BODY_MAX);
		server_stop(&s);
	}

	/* WebPKI failures (TLS-2, TLS-3) */
	/* each with its explanation for a person (issue 12) */
	serve_and_fetch(__LINE__, "expired", NULL, "www-cl", FETCH_ERR_WEBPKI, "BR_ERR_X509_EXPIRED", "");
	CHECK_STR(F.why, "TLS: certificate expired or not yet valid (BR_ERR_X509_EXPIRED)");
	serve_and_fetch(__LINE__, "wrongname", NULL, "www-cl", FETCH_ERR_WEBPKI, "BR_ERR_X509_BAD_SERVER_NAME", "");
	CHECK_STR(F.why, "TLS: certificate not valid for " HOST " (BR_ERR_X509_BAD_SERVER_NAME)");
	serve_and_fetch(__LINE__, "cnonly", NULL, "www-cl", FETCH_ERR_WEBPKI, "BR_ERR_X509_BAD_SERVER_NAME", "");
	CHECK_STR(F.why, "TLS: certificate has no DNS name (subjectAltName), so not valid for "
	    HOST " (BR_ERR_X509_BAD_SERVER_NAME)");
	serve_and_fetch(__LINE__, "iponly", NULL, "www-cl", FETCH_ERR_WEBPKI, "BR_ERR_X509_BAD_SERVER_NAME", "");
	serve_and_fetch(__LINE__, "selfsigned", NULL, "www-cl", FETCH_ERR_WEBPKI, "BR_ERR_X509_NOT_TRUSTED", "");
	CHECK_STR(F.why, "TLS: certificate not issued by a trusted CA (BR_ERR_X509_NOT_TRUSTED)");
	serve_and_fetch(__LINE__, "untrusted", NULL, "www-cl", FETCH_ERR_WEBPKI, "BR_ERR_X509_NOT_TRUSTED", "");
	serve_and_fetch(__LINE__, "chained", NULL, "www-cl", FETCH_ERR_WEBPKI, "BR_ERR_X509_NOT_TRUSTED", "");

	/* the system bundle does not know the test CA */
	if (anchors_load(&sys, "/etc/ssl/certs/ca-certificates.crt", p, sizeof p) == 0 &&
	    server_start(&s, "good", NULL, "www-cl", NULL, NULL, NULL) == 0) {
		expect_fetch(__LINE__, &sys, s.port, FETCH_ERR_WEBPKI, "BR_ERR_X509_NOT_TRUSTED", "");
		server_stop(&s);
		anchors_free(&sys);
	}

	/* TLS 1.3 only: BearSSL cannot (TLS-4), and it is a fetch error */
	if (server_start(&s, "good", NULL, "www-cl", "-tls1_3", NULL, NULL) == 0) {
		addr_set(&addrs[0], "127.0.0.1");
		run_fetch(&anchors, HOST, addrs, 1, s.port, 10000);
		CHECK_INT(F.result, FETCH_ERR_FETCH);
		/* an alert (tls-alert-70) or BearSSL's name for the fault */
		CHECK(strncmp(F.reason, "tls-alert-", 10) == 0 ||
		    (strncmp(F.reason, "BR_ERR_", 7) == 0 && strncmp(F.reason, "BR_ERR_X509", 11) != 0));
		printf("TLS 1.3-only server: %s\n", F.reason);
		server_stop(&s);
	}

	/* the exact request (HTTP-3) */
	snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(POLICY), POLICY);
	bssl_fetch(__LINE__, resp, 1, "request.txt", FETCH_OK, "", POLICY);
	{
		static const char want[] = "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
		    "Host: mta-sts.example.com\r\n"
		    "User-Agent: mtasts/" MTASTS_VERSION "\r\n"
		    "Accept: text/plain\r\n"
		    "Accept-Encoding: identity\r\n"
		    "Connection: close\r\n\r\n";
		char got[2048];
		FILE *fp;
		size_t n = 0;
		path(p, sizeof p, "request.txt");
		if ((fp = fopen(p, "rb")) != NULL) {
			n = fread(got, 1, sizeof got, fp);
			fclose(fp);
		}
		CHECK_MEM(got, n, want);
	}

	/* close_notify (TLS-8): needed only when the close ends the body */
	bssl_fetch(__LINE__, resp, 0, NULL, FETCH_OK, "", POLICY);
	snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n%s", POLICY);
	bssl_fetch(__LINE__, resp, 1, NULL, FETCH_OK, "", POLICY);
	bssl_fetch(__LINE__, resp, 0, NULL, FETCH_ERR_FETCH, "no-close-notify", "");
	snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(POLICY) + 10, POLICY);
	bssl_fetch(__LINE__, resp, 0, NULL, FETCH_ERR_FETCH, "truncated", "");
	bssl_fetch(__LINE__, resp, 1, NULL, FETCH_ERR_FETCH, "truncated", "");
	bssl_fetch(__LINE__, "HTTP/1.1 200 OK\r\n", 1, NULL, FETCH_ERR_FETCH, "truncated", "");
	bssl_fetch(__LINE__, "", 1, NULL, FETCH_ERR_FETCH, "empty-response", "");
	bssl_fetch(__LINE__, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\n", 0, NULL, FETCH_OK, "", "abc");

	/* connect: refused, then the next address (HTTP-2) */
	lfd = listener(&port);
	close(lfd);                     /* nobody listens there now */
	addr_set(&addrs[0], "127.0.0.1");
	run_fetch(&anchors, HOST, addrs, 1, port, 5000);
	CHECK_INT(F.result, FETCH_ERR_FETCH);
	CHECK_STR(F.reason, "connect-refused");
	CHECK_STR(F.peer, "127.0.0.1");  /* the address last tried */
	{
		char want[80];
		snprintf(want, sizeof want, "connection refused by 127.0.0.1 port %d", port);
		CHECK_STR(F.why, want);
	}
	addr_set(&addrs[1], "::1");
	run_fetch(&anchors, HOST, addrs, 2, port, 5000);
	CHECK_STR(F.reason, "connect-refused");
	if (server_start(&s, "good", NULL, "www-cl", NULL, NULL, NULL) == 0) {
		addr_set(&addrs[0], "::1");
		addr_set(&addrs[1], "127.0.0.1");
		run_fetch(&anchors, HOST, addrs, 2, s.port, 10000);
		CHECK_INT(F.result, FETCH_OK);
		CHECK_STR(F.peer, "127.0.0.1");
		CHECK_MEM(F.http.body, F.http.body_len, POLICY);
		CHECK(bad_events == 0);
		server_stop(&s);
	}
	/* no address at all: done at once */
	run_fetch(&anchors, HOST, addrs, 0, port, 5000);
	CHECK_INT(F.result, FETCH_ERR_FETCH);
	CHECK_STR(F.reason, "connect-failed");
	CHECK_INT(nsteps, 1);

	/* accepted, never answered: the deadline ends it (HTTP-13, SEC-6) */
	lfd = listener(&port);
	addr_set(&addrs[0], "127.0.0.1");
	took = run_fetch(&anchors, HOST, addrs, 1, port, 300);
	CHECK_INT(F.result, FETCH_ERR_FETCH);
	CHECK_STR(F.reason, "timeout");
	CHECK(took >= 300 && took < 3000);
	CHECK_STR(F.peer, "127.0.0.1");
	close(lfd);

	/* accepted, then closed during the handshake */
	lfd = listener(&port);
	if ((pid = fork()) == 0) {
		char junk[4096];
		int c = accept(lfd, NULL, NULL);
		(void)!read(c, junk, sizeof junk);
		shutdown(c, SHUT_WR);
		while (read(c, junk, sizeof junk) > 0)
			;
		_exit(0);
	}
	run_fetch(&anchors, HOST, addrs, 1, port, 5000);
	CHECK_INT(F.result, FETCH_ERR_FETCH);
	CHECK_STR(F.reason, "tls-eof");
	close(lfd);
	waitpid(pid, NULL, 0);

	/* plain HTTP where TLS was expected */
	lfd = listener(&port);
	if ((pid = fork()) == 0) {
		static const char r[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
		char junk[4096];
		int c = accept(lfd, NULL, NULL);
		(void)!read(c, junk, sizeof junk);
		(void)!write(c, r, sizeof r - 1);
		while (read(c, junk, sizeof junk) > 0)
			;
		_exit(0);
	}
	run_fetch(&anchors, HOST, addrs, 1, port, 5000);
	CHECK_INT(F.result, FETCH_ERR_FETCH);
	/* BearSSL's name for a record that is no TLS (RPT-2: a fetch error) */
	CHECK(strncmp(F.reason, "BR_ERR_", 7) == 0 && strncmp(F.reason, "BR_ERR_X509", 11) != 0);
	printf("plain HTTP server: %s\n", F.reason);
	close(lfd);
	waitpid(pid, NULL, 0);
}

static const char *
find_gen(const char *argv0)
{
	static char p[PATH_MAX];
	char *s;
	int i;

	if (access("tests/tls/gen.sh", R_OK) == 0)
		return "tests/tls/gen.sh";
	/* argv0 is <root>/build/tests/unit_tls */
	strlcpy_m(p, argv0, sizeof p);
	for (i = 0; i < 3 && (s = strrchr(p, '/')) != NULL; i++)
		*s = '\0';
	strncat(p, "/tests/tls/gen.sh", sizeof p - strlen(p) - 1);
	return p;
}

/* tls_hello_x25519_first over hand-made ClientHello records: x25519
 * moves to the front and nothing else changes; anything that is not a
 * ClientHello record of the expected shape is left alone */
static void
test_hello_order(void)
{
	/* record header, handshake header, version, random, empty session,
	 * one suite, null compression, extensions: SNI-like filler, groups */
	static const unsigned char tmpl[] = {
		22, 3, 3, 0, 0,                         /* length set below */
		1, 0, 0, 0,                             /* length set below */
		3, 3,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
		0,
		0, 2, 0xc0, 0x2b,
		1, 0,
		0, 22,                                  /* extensions length */
		0xff, 0x01, 0, 1, 0,                    /* renegotiation_info */
		0, 10, 0, 10, 0, 8, 0, 23, 0, 24, 0, 25, 0, 29, /* groups */
		0, 11, 0, 2, 1, 0,                      /* point formats */
	};
	static const unsigned char want[] = { 0, 29, 0, 23, 0, 24, 0, 25 };
	unsigned char r[sizeof tmpl], copy[sizeof tmpl];
	size_t len = sizeof tmpl, g = 5 + 4 + 2 + 32 + 1 + 4 + 2 + 2 + 5 + 6;

	memcpy(r, tmpl, len);
	r[3] = (unsigned char)((len - 5) >> 8);
	r[4] = (unsigned char)(len - 5);
	r[8] = (unsigned char)(len - 9);
	r[5 + 4 + 2 + 32 + 1 + 4 + 2] = 0;
	r[5 + 4 + 2 + 32 + 1 + 4 + 2 + 1] = (unsigned char)(len - (5 + 4 + 2 + 32 + 1 + 4 + 2 + 2));
	memcpy(copy, r, len);
	CHECK_INT(tls_hello_x25519_first(r, len), 1);
	CHECK(memcmp(r + g, want, sizeof want) == 0);
	CHECK(memcmp(r, copy, g) == 0 && memcmp(r + g + 8, copy + g + 8, len - g - 8) == 0);
	/* already first: nothing to do */
	CHECK_INT(tls_hello_x25519_first(r, len), 0);
	/* no x25519 offered */
	memcpy(r, copy, len);
	r[g + 7] = 21;
	CHECK_INT(tls_hello_x25519_first(r, len), 0);
	CHECK(memcmp(r + g, copy + g, 6) == 0 && r[g + 7] == 21);
	/* a record that is not a ClientHello, or cut short anywhere */
	memcpy(r, copy, len);
	r[0] = 23;
	CHECK_INT(tls_hello_x25519_first(r, len), 0);
	r[0] = 22;
	r[5] = 2;
	CHECK_INT(tls_hello_x25519_first(r, len), 0);
	{
		size_t cut;
		int moved = 0;

		for (cut = 0; cut < len; cut++) {
			memcpy(r, copy, len);
			moved |= tls_hello_x25519_first(r, cut);
		}
		CHECK_INT(moved, 0);
	}
	/* a groups extension whose list length disagrees with its own */
	memcpy(r, copy, len);
	r[g - 1] = 6;
	CHECK_INT(tls_hello_x25519_first(r, len), 0);
}

int
main(int argc, char **argv)
{
	char cmd[PATH_MAX + 128], err[256], p[256];

	signal(SIGPIPE, SIG_IGN);
	log_open(LOG_LVL_ERR, NULL, 0);
	strlcpy_m(dir, "/tmp/unit_tls.XXXXXX", sizeof dir);
	if (mkdtemp(dir) == NULL) {
		printf("FAIL mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(cmd, sizeof cmd, "sh '%s' '%s'", find_gen(argv[0]), dir);
	if (system(cmd) != 0) {
		printf("FAIL %s\n", cmd);
		snprintf(cmd, sizeof cmd, "cat '%s/gen.log'", dir);
		(void)!system(cmd);
		return 1;
	}
	path(p, sizeof p, "ca.pem");
	if (anchors_load(&anchors, p, err, sizeof err) < 0) {
		printf("FAIL %s\n", err);
		return 1;
	}

	test_anchors();
	test_hello_order();
	test_cn_fallback();
	test_fetch();

	anchors_free(&anchors);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)!system(cmd);
	UNIT_DONE();
}
