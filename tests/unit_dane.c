/* unit_dane.c - dane.c: TLSA usability, MX hosts, the decision (DANE-3,
 * DANE-4), the loopback rule (DANE-2); and dns.c's DNSSEC side: the DO and
 * AD bits in queries, AD and TTL of replies, MX and TLSA records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../daemon.h"
#include "unit.h"

#define ID 0x4242

static uint8_t B[4096];
static size_t N;

static void u8(unsigned v) { B[N++] = (uint8_t)v; }
static void u16(unsigned v) { u8(v >> 8); u8(v & 0xff); }
static void
name(const char *s)
{
	while (*s != '\0') {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		u8((unsigned)l);
		memcpy(B + N, s, l);
		N += l;
		s += l + (dot != NULL);
	}
	u8(0);
}
/* header and question; flags 0x8180 | AD (0x20) as asked */
static void
reply(unsigned flags, unsigned an, const char *q, unsigned type)
{
	N = 0;
	u16(ID); u16(flags); u16(1); u16(an); u16(0); u16(0);
	name(q); u16(type); u16(1);
}
/* an RR owned by the question name (pointer 12), given ttl; returns the
 * RDLENGTH position */
static size_t
rr(unsigned type, unsigned ttl)
{
	size_t at;

	u16(0xc00c); u16(type); u16(1); u16(ttl >> 16); u16(ttl & 0xffff);
	at = N;
	u16(0);
	return at;
}
static void
rdend(size_t at)
{
	B[at] = (uint8_t)((N - at - 2) >> 8);
	B[at + 1] = (uint8_t)(N - at - 2);
}
static void
mx(unsigned pref, const char *host, unsigned ttl)
{
	size_t at = rr(DNS_T_MX, ttl);
	u16(pref);
	name(host);
	rdend(at);
}
static void
tlsa(unsigned u, unsigned s, unsigned m, size_t dlen)
{
	size_t at = rr(DNS_T_TLSA, 600), i;
	u8(u); u8(s); u8(m);
	for (i = 0; i < dlen; i++)
		u8(i);
	rdend(at);
}

static struct dns_result R;

static enum dns_status
parse(const char *q, unsigned type)
{
	return dns_parse_reply(guarded(B, N), N, ID, q, type, &R);
}

static void
test_tlsa_usable(void)
{
	uint8_t rd[80] = { 3, 1, 1 };

	CHECK_INT(dane_tlsa_usable(rd, 3 + 32), 1);     /* 3 1 1 */
	rd[0] = 2; rd[1] = 0; rd[2] = 2;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 64), 1);     /* 2 0 2 */
	rd[2] = 0;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 40), 1);     /* 2 0 0: full data */
	CHECK_INT(dane_tlsa_usable(rd, 3), 0);          /* ... but none */
	rd[2] = 1;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 31), 0);     /* SHA-256 one byte short */
	CHECK_INT(dane_tlsa_usable(rd, 3 + 33), 0);
	rd[2] = 2;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 32), 0);     /* SHA-512 of 32 bytes */
	rd[0] = 0; rd[1] = 1; rd[2] = 1;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 32), 0);     /* PKIX-TA */
	rd[0] = 1;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 32), 0);     /* PKIX-EE */
	rd[0] = 4;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 32), 0);     /* unknown usage */
	rd[0] = 3; rd[1] = 2;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 32), 0);     /* unknown selector */
	rd[1] = 1; rd[2] = 3;
	CHECK_INT(dane_tlsa_usable(rd, 3 + 32), 0);     /* unknown matching type */
	CHECK_INT(dane_tlsa_usable(guarded(rd, 2), 2), 0);
	CHECK_INT(dane_tlsa_usable(guarded(rd, 0), 0), 0);
}

static void
test_decide(void)
{
	uint8_t all[3] = { DH_USABLE, DH_USABLE, DH_USABLE };
	uint8_t some[3] = { DH_USABLE, DH_NO_TLSA, DH_ADDR_INSECURE };
	uint8_t unusable[2] = { DH_UNUSABLE, DH_NO_TLSA };
	uint8_t none[4] = { DH_NO_TLSA, DH_TLSA_INSECURE, DH_ADDR_INSECURE, DH_NO_ADDR };
	uint8_t mixed[2] = { DH_USABLE, DH_UNUSABLE };

	CHECK_INT(dane_decide(all, 3, 0), DANE_ALL);
	CHECK_INT(dane_decide(all, 1, 0), DANE_ALL);
	CHECK_INT(dane_decide(all, 3, 1), DANE_SOME);   /* hosts past the cap */
	CHECK_INT(dane_decide(some, 3, 0), DANE_SOME);
	CHECK_INT(dane_decide(unusable, 2, 0), DANE_SOME);
	CHECK_INT(dane_decide(unusable, 1, 0), DANE_SOME);
	CHECK_INT(dane_decide(mixed, 2, 0), DANE_SOME);
	CHECK_INT(dane_decide(none, 4, 0), DANE_NONE);
	CHECK_INT(dane_decide(none, 0, 0), DANE_NONE);  /* null MX: no host */
	CHECK_INT(dane_decide(none, 0, 1), DANE_NONE);
	CHECK_STR(dane_state_str(DANE_ALL), "dane-only");
	CHECK_STR(dane_state_str(DANE_SOME), "dane");
	CHECK_STR(dane_host_str(DH_USABLE), "secure, TLSA usable");
	CHECK_STR(dane_host_str((enum dane_host)99), "?");
}

static void
test_trusted(void)
{
	struct dns_servers s;

	memset(&s, 0, sizeof s);
	CHECK_INT(dane_servers_trusted(&s), 0);         /* none at all */
	CHECK_INT(dns_servers_add(&s, "127.0.0.53"), 0);
	CHECK_INT(dane_servers_trusted(&s), 1);
	CHECK_INT(dns_servers_add(&s, "[::1]:5353"), 0);
	CHECK_INT(dane_servers_trusted(&s), 1);
	CHECK_INT(dns_servers_add(&s, "10.0.0.53"), 0);
	CHECK_INT(dane_servers_trusted(&s), 0);         /* one remote server */
	memset(&s, 0, sizeof s);
	CHECK_INT(dns_servers_add(&s, "::ffff:127.0.0.1"), 0);
	CHECK_INT(dane_servers_trusted(&s), 0);         /* mapped: not ::1 */
	memset(&s, 0, sizeof s);
	CHECK_INT(dns_servers_add(&s, "128.0.0.1"), 0);
	CHECK_INT(dane_servers_trusted(&s), 0);
}

static void
test_query_bits(void)
{
	uint8_t q[DNS_QUERY_MAX];
	size_t n;

	n = dns_build_query(q, sizeof q, ID, "example.org", DNS_T_MX, 2);
	CHECK_INT(n, 12 + 13 + 4 + 11);
	CHECK_INT(q[2] << 8 | q[3], 0x0120);            /* RD and AD */
	CHECK_INT(q[n - 11 + 1] << 8 | q[n - 11 + 2], DNS_T_OPT);
	CHECK_INT(q[n - 4], 0x80);                      /* DO */
	n = dns_build_query(q, sizeof q, ID, "example.org", DNS_T_TXT, 1);
	CHECK_INT(q[2] << 8 | q[3], 0x0100);            /* plain queries unchanged */
	CHECK_INT(q[n - 4], 0);
}

static const char *
hosts_of(int *more)
{
	static char out[512];
	char h[DANE_HOSTS_MAX][DOMAIN_MAX + 1];
	int n = dane_mx_hosts(&R, h, DANE_HOSTS_MAX, more), i;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		strcat(out, i ? " " : "");
		strcat(out, h[i]);
	}
	return out;
}

static void
test_mx(void)
{
	char nm[32];
	int more, i;

	reply(0x81a0, 3, "example.org", DNS_T_MX);
	mx(20, "mx2.example.org", 900);
	mx(10, "MX1.example.org", 600);
	mx(20, "mx2.example.org", 900);                 /* a duplicate */
	CHECK_INT(parse("example.org", DNS_T_MX), DNS_DATA);
	CHECK_INT(R.ad, 1);
	CHECK_INT(R.ttl, 600);
	CHECK_INT(R.ntxt, 3);
	CHECK_STR(hosts_of(&more), "mx2.example.org mx1.example.org");
	CHECK_INT(more, 0);

	reply(0x8180, 1, "example.org", DNS_T_MX);      /* AD=0 */
	mx(0, "", 300);                                 /* the null MX */
	CHECK_INT(parse("example.org", DNS_T_MX), DNS_DATA);
	CHECK_INT(R.ad, 0);
	CHECK_STR(hosts_of(&more), "");

	/* 20 hosts: the first 16 are examined, the cap is reported */
	reply(0x81a0, 20, "example.org", DNS_T_MX);
	for (i = 0; i < 20; i++) {
		snprintf(nm, sizeof nm, "h%02d.example.org", i);
		mx((unsigned)(100 - i), nm, 300);
	}
	CHECK_INT(parse("example.org", DNS_T_MX), DNS_DATA);
	CHECK(strncmp(hosts_of(&more), "h00.example.org h01.example.org", 31) == 0);
	CHECK(strstr(hosts_of(&more), "h15.example.org") != NULL);
	CHECK(strstr(hosts_of(&more), "h16.example.org") == NULL);
	CHECK_INT(more, 1);
	/* exactly 16 hosts, one named twice: nothing left out */
	reply(0x81a0, 17, "example.org", DNS_T_MX);
	for (i = 0; i < 17; i++) {
		snprintf(nm, sizeof nm, "h%02d.example.org", i % 16);
		mx(10, nm, 300);
	}
	CHECK_INT(parse("example.org", DNS_T_MX), DNS_DATA);
	CHECK(strstr(hosts_of(&more), "h15.example.org") != NULL);
	CHECK_INT(more, 0);

	/* a broken MX: exchange runs past RDLENGTH */
	reply(0x81a0, 1, "example.org", DNS_T_MX);
	{
		size_t at = rr(DNS_T_MX, 300);
		u16(10);
		name("mx.example.org");
		B[at + 1] = 5;
		B[at] = 0;
	}
	CHECK_INT(parse("example.org", DNS_T_MX), DNS_MALFORMED);
	reply(0x81a0, 1, "example.org", DNS_T_MX);
	{
		size_t at = rr(DNS_T_MX, 300);
		u16(10);
		rdend(at);              /* no exchange at all */
	}
	CHECK_INT(parse("example.org", DNS_T_MX), DNS_MALFORMED);
}

static void
test_tlsa_records(void)
{
	const char *q = "_25._tcp.mx.example.org";

	reply(0x81a0, 2, q, DNS_T_TLSA);
	tlsa(3, 1, 1, 32);
	tlsa(1, 1, 1, 32);
	CHECK_INT(parse(q, DNS_T_TLSA), DNS_DATA);
	CHECK_INT(R.ad, 1);
	CHECK_INT(R.ttl, 600);
	CHECK_INT(R.ntxt, 2);
	CHECK_INT(R.txt[0].len, 35);
	CHECK_INT(dane_tlsa_usable(R.txtbuf + R.txt[0].off, R.txt[0].len), 1);
	CHECK_INT(dane_tlsa_usable(R.txtbuf + R.txt[1].off, R.txt[1].len), 0);

	reply(0x81a0, 2, q, DNS_T_TLSA);
	tlsa(3, 1, 1, 32);
	B[N - 35 - 2 - 4] = 0x80;                       /* TTL 0x80000258 */
	tlsa(3, 1, 1, 32);
	CHECK_INT(parse(q, DNS_T_TLSA), DNS_DATA);
	CHECK_INT(R.ttl, 0);                            /* RFC 2181 8: read as 0 */

	reply(0x81a3, 0, q, DNS_T_TLSA);                /* NXDOMAIN, AD */
	CHECK_INT(parse(q, DNS_T_TLSA), DNS_NONE);
	CHECK_INT(R.ad, 1);
	CHECK_INT(R.ttl, UINT32_MAX);
	reply(0x8182, 0, q, DNS_T_TLSA);                /* SERVFAIL: bogus */
	CHECK_INT(parse(q, DNS_T_TLSA), DNS_SERVER_ERR);
	CHECK_INT(R.rcode, 2);
}

/* ---- snapshot "D" records ---------------------------------------------- */

static struct snap_record got[4];
static int ngot;

static void
dsnap_cb(void *arg, const struct snap_record *r)
{
	(void)arg;
	if (ngot < 4)
		got[ngot++] = *r;
}

/* "mtasts-snapshot 1", then each body with its CRC, then the end marker */
static int
snap_parse(int64_t now, struct snap_stats *st, const char *const *bodies, int n)
{
	static char buf[4096];
	size_t len = (size_t)snprintf(buf, sizeof buf, "mtasts-snapshot 1\n");
	int i;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%08x %s\n",
		    snapshot_crc32(bodies[i], strlen(bodies[i])), bodies[i]);
	len += (size_t)snprintf(buf + len, sizeof buf - len, "%08x E 0\n",
	    snapshot_crc32("E 0", 3));
	ngot = 0;
	return snapshot_parse(buf, len, now, dsnap_cb, NULL, st);
}

static void
test_snapshot(void)
{
	const char *const good[] = { "D all.example 3 1000100", "D some.example 2 1000050" };
	const char *const bad[] = {
		"D expired.example 3 999999",           /* expired */
		"D bad.example 5 1000100",              /* no such state */
		"D bad.example 0 1000100",              /* unknown is never written */
		"D far.example 3 1009999",              /* beyond the TTL cap */
		"D Upper.Example 3 1000100",            /* not in normal form */
		"D bad.example 3",                      /* a field missing */
	};
	struct snap_stats st;
	struct cache c;
	struct cache_entry *e;
	char path[] = "/tmp/unit_dane.XXXXXX", *text;
	size_t len;
	int fd;

	CHECK_INT(snap_parse(1000000, &st, good, 2), 0);
	CHECK_INT(ngot, 2);
	CHECK_STR(got[0].domain, "all.example");
	CHECK_INT(got[0].dane, DANE_ALL);
	CHECK_INT(got[0].dane_until, 1000100);
	CHECK_INT(got[1].dane, DANE_SOME);
	CHECK_INT(snap_parse(1000000, &st, bad, 6), 0);
	CHECK_INT(ngot, 0);
	CHECK_INT(st.expired, 1);
	CHECK_INT(st.bad, 5);

	/* written by snapshot_write from the cache, read back */
	CHECK_INT(cache_init(&c, 16), 0);
	e = cache_store(&c, "dane.example", CE_DANE, NULL, 0, 5000);
	CHECK(e != NULL);
	if (e != NULL) {
		e->dane = DANE_FAILED;
		e->dane_until = 5 + 30;                 /* monotonic seconds */
	}
	e = cache_store(&c, "old.example", CE_DANE, NULL, 0, 5000);
	if (e != NULL) {
		e->dane = DANE_ALL;
		e->dane_until = 4;                      /* already expired */
	}
	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(snapshot_write(&c, path, 5000, path, 0), 0);   /* no policies */
	text = read_file(path, 65536, &len, NULL, 0);
	CHECK(text != NULL);
	if (text != NULL) {
		ngot = 0;
		CHECK_INT(snapshot_parse(text, len, wall_now(), dsnap_cb, NULL, &st), 0);
		CHECK_INT(ngot, 1);
		CHECK_STR(got[0].domain, "dane.example");
		CHECK_INT(got[0].dane, DANE_FAILED);
		CHECK(got[0].dane_until >= wall_now() + 29 && got[0].dane_until <= wall_now() + 30);
		CHECK_INT(st.bad, 0);
		free(text);
	}
	unlink(path);
	cache_free(&c);
}

/* ---- the keys, and what a dane zone answers from the cache -------------- */

static void
test_conf(void)
{
	static const char text[] = "dane = yes\n[zone s]\ndane_failure = sts\n"
	    "[zone n]\ndane = no\n";
	struct config c;
	char err[256];

	conf_defaults(&c);
	CHECK_INT(conf_parse(text, strlen(text), "t", &c, err, sizeof err), 0);
	CHECK_INT(c.zone[0].dane, 1);
	CHECK_INT(c.zone[0].dane_failure, 0);           /* temp by default */
	CHECK_INT(c.zone[1].dane, 1);                   /* from the default zone */
	CHECK_INT(c.zone[1].dane_failure, 1);
	CHECK_INT(c.zone[2].dane, 0);
	conf_defaults(&c);
	CHECK_INT(conf_parse("dane_failure = maybe\n", 21, "t", &c, err, sizeof err), -1);
	CHECK_STR(err, "t:1: dane_failure: bad value \"maybe\": expected temp or sts");
}

static struct daemon D;

static const char *
answer(const char *domain, int zone)
{
	static char out[256];
	struct request r;
	size_t n;

	memset(&r, 0, sizeof r);
	r.kind = REQ_CACHE;
	r.zone = (uint8_t)zone;
	strlcpy_m(r.domain, domain, sizeof r.domain);
	n = danejob_answer(&D, &r, out, sizeof out - 1);
	out[n] = '\0';
	return out;
}

static void
test_cached(void)
{
	static const char text[] = "dane = yes\n[zone s]\ndane_failure = sts\n";
	struct cache_entry *e;
	char err[256];

	conf_defaults(&D.conf);
	conf_parse(text, strlen(text), "t", &D.conf, err, sizeof err);
	CHECK_INT(cache_init(&D.cache, 16), 0);
	CHECK_INT(lookup_init(&D), 0);
	D.now = 1000000;
	D.dane_ok = 1;
	CHECK_INT(danejob_cached(&D, NULL, "x.example", &D.conf.zone[0]), 0);
	e = cache_store(&D.cache, "x.example", CE_DANE, NULL, 0, D.now);
	CHECK(e != NULL);
	if (e == NULL)
		return;
	CHECK_INT(danejob_cached(&D, e, "x.example", &D.conf.zone[0]), 0);   /* unknown */
	CHECK_INT(danejob_wanted(&D, "x.example", &D.conf.zone[0]), 1);
	e->dane = DANE_ALL;
	e->dane_until = 1000 + 60;
	CHECK_INT(danejob_wanted(&D, "x.example", &D.conf.zone[0]), 0);
	CHECK_INT(danejob_cached(&D, e, "x.example", &D.conf.zone[0]), 1);
	CHECK_STR(answer("x.example", 0), "OK dane-only");
	CHECK_STR(answer("x.example", 1), "OK dane-only");
	e->dane = DANE_SOME;
	CHECK_STR(answer("x.example", 0), "OK dane");
	e->dane = DANE_NONE;                            /* MTA-STS decides */
	CHECK_INT(danejob_cached(&D, e, "x.example", &D.conf.zone[0]), -1);
	CHECK_STR(answer("x.example", 0), "");
	e->dane = DANE_FAILED;
	CHECK_INT(danejob_cached(&D, e, "x.example", &D.conf.zone[0]), 1);
	CHECK_STR(answer("x.example", 0), "TEMP dnssec lookup failed");
	CHECK_INT(danejob_cached(&D, e, "x.example", &D.conf.zone[1]), -1);
	CHECK_STR(answer("x.example", 1), "");          /* dane_failure = sts */
	D.dane_ok = 0;                                  /* a remote nameserver */
	e->dane = DANE_ALL;
	CHECK_INT(danejob_cached(&D, e, "x.example", &D.conf.zone[0]), -1);
	CHECK_INT(danejob_wanted(&D, "x.example", &D.conf.zone[0]), 0);
	CHECK_STR(answer("x.example", 0), "");
	D.dane_ok = 1;
	/* stale: the decision still answers, a refresh starts */
	e->dane_until = 1000 - 1;
	CHECK_INT(D.jobs.nactive, 0);
	CHECK_INT(danejob_cached(&D, e, "x.example", &D.conf.zone[0]), 1);
	CHECK_INT(D.jobs.nactive, 1);
	CHECK_STR(answer("x.example", 0), "OK dane-only");
	if (D.jobs.nactive == 1) {
		struct job *j = D.jobs.active[0];
		CHECK_INT(j->state, JOB_DANE);
		CHECK_STR(j->domain, "x.example");
	}
	/* a request that joined a job without a DANE phase, for a domain
	 * whose DANE state is unknown: NOTFOUND, never the MTA-STS answer */
	{
		struct request r;
		char out[64];
		size_t n;

		memset(&r, 0, sizeof r);
		r.kind = REQ_JOB;
		r.job = D.jobs.active[0];
		strlcpy_m(r.domain, "y.example", sizeof r.domain);
		r.job->state = JOB_DONE;
		n = danejob_answer(&D, &r, out, sizeof out - 1);
		out[n] = '\0';
		CHECK_STR(out, "NOTFOUND ");
		r.kind = REQ_CACHE;
		CHECK_INT(danejob_answer(&D, &r, out, sizeof out), 0);
		r.job->state = JOB_DANE;
	}
	/* stale and not deciding, and MTA-STS never looked up: wait */
	e->dane = DANE_NONE;
	CHECK_INT(danejob_cached(&D, e, "x.example", &D.conf.zone[0]), 0);
	/* an MTA-STS entry of CE_DANE kind is no MTA-STS knowledge */
	CHECK_INT(lookup_cache_use(e, D.now), CACHED_NONE);
	lookup_free(&D);
	cache_free(&D.cache);
}

int
main(void)
{
	test_tlsa_usable();
	test_decide();
	test_trusted();
	test_query_bits();
	test_mx();
	test_tlsa_records();
	test_snapshot();
	test_conf();
	test_cached();
	UNIT_DONE();
}
