/* unit_snapshot.c - snapshot write/load round trip and hostile files */
#include <stdio.h>
#include <stdlib.h>
#include "mtasts.h"
#include "unit.h"

#define NOW 1800000000LL

static struct snap_record got[16];
static int ngot;

static void
collect(void *arg, const struct snap_record *r)
{
	(void)arg;
	if (ngot < 16)
		got[ngot++] = *r;
}

static int
parse(const char *text, size_t len, struct snap_stats *st)
{
	ngot = 0;
	return snapshot_parse(text, len, NOW, collect, NULL, st);
}

/* A line with its CRC in front, appended to buf. */
static void
line(char *buf, const char *body)
{
	sprintf(buf + strlen(buf), "%08x %s\n", snapshot_crc32(body, strlen(body)), body);
}

static char *
slurp(const char *path, size_t *len)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	*len = f ? fread(buf, 1, sizeof buf, f) : 0;
	if (f)
		fclose(f);
	return buf;
}

/* PFX-8: the largest policies survive a restart (SNAP_LINE_MAX) */
static void
test_big(void)
{
	static char body[HTTP_BODY_MAX], err[256];
	static struct policy pol;
	char path[] = "/tmp/mtasts-snap-XXXXXX";
	struct policy_error pe;
	struct snap_stats st;
	struct cache c;
	struct cache_entry *e;
	size_t o, len;
	int n, fd;

	/* the most "m<i>.ex.org" patterns a valid policy may have */
	for (n = 1200; n < 1400; n++) {
		int i;
		o = (size_t)snprintf(body, sizeof body, "version: STSv1\nmode: enforce\nmax_age: 9\n");
		for (i = 0; i <= n; i++)
			o += (size_t)snprintf(body + o, sizeof body - o, "mx: m%d.ex.org\n", i);
		if (policy_parse((const uint8_t *)body, o, &pol, &pe) < 0)
			break;
	}
	CHECK(n > 1200 && n < 1400);
	o = (size_t)snprintf(body, sizeof body, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
	{
		int i;
		for (i = 0; i < n; i++)
			o += (size_t)snprintf(body + o, sizeof body - o, "mx: m%d.ex.org\n", i);
	}
	CHECK_INT(policy_parse((const uint8_t *)body, o, &pol, &pe), 0);
	CHECK_INT(pol.nmx, n);
	CHECK_INT(cache_init(&c, 128), 0);   /* 512 blocks: room for ~32 KB */
	e = cache_store_policy(&c, "big.example", &pol, "id9", NOW - 5, 1000 + 86400000, 1000);
	CHECK(e != NULL);
	fd = mkstemp(path);
	close(fd);
	CHECK_INT(snapshot_write(&c, path, 1000, err, sizeof err), 1);
	{
		char *buf = slurp(path, &len);
		CHECK(len > 15000 && len < SNAP_LINE_MAX);
		CHECK_INT(parse(buf, len, &st), 0);
		CHECK_INT(st.loaded, 1);
		CHECK_INT(st.bad, 0);
		CHECK_INT(got[0].pol.nmx, n);
		CHECK_INT(got[0].pol.mxlen, pol.mxlen);
		CHECK(memcmp(got[0].pol.mx, pol.mx, pol.mxlen) == 0);
	}
	unlink(path);
	cache_free(&c);
}

int
main(void)
{
	struct snap_stats st;
	struct cache c;
	struct cache_entry *e;
	char text[8192], err[256], path[] = "/tmp/mtasts-snap-XXXXXX";
	static const char mx2[] = "mail.example.com\0*.example.net";
	size_t len;
	int fd;

	/* CRC-32 (IEEE) check value */
	CHECK_INT(snapshot_crc32("123456789", 9), 0xcbf43926u);

	/* round trip through a real file */
	CHECK_INT(cache_init(&c, 8), 0);
	e = cache_store(&c, "example.com", CE_POLICY, mx2, sizeof mx2, 1000);
	e->mode = STS_ENFORCE; e->max_age = 86400; e->fetched_wall = NOW - 100;
	e->expires = 1000 + 86400000; strcpy(e->id, "20240101");
	e = cache_store(&c, "none.example", CE_POLICY, NULL, 0, 1000);
	e->mode = STS_NONE; e->max_age = 600; e->fetched_wall = NOW - 10;
	e->expires = 1000 + 600000; strcpy(e->id, "n1");
	cache_store(&c, "negative.example", CE_NOPOLICY, NULL, 0, 1000);
	e = cache_store(&c, "expired.example", CE_POLICY, mx2, sizeof "mail.example.com", 1000);
	e->mode = STS_ENFORCE; e->expires = 500;   /* already expired: not written */
	fd = mkstemp(path);
	close(fd);
	CHECK_INT(snapshot_write(&c, path, 1000, err, sizeof err), 2);
	{
		char *buf = slurp(path, &len);
		CHECK_INT(parse(buf, len, &st), 0);
		CHECK_INT(st.loaded, 2);
		CHECK_INT(st.bad, 0);
		CHECK_INT(st.complete, 1);
		CHECK_STR(got[0].domain, "example.com");
		CHECK_STR(got[0].id, "20240101");
		CHECK_INT(got[0].fetched, NOW - 100);
		CHECK_INT(got[0].pol.mode, STS_ENFORCE);
		CHECK_INT(got[0].pol.max_age, 86400);
		CHECK_INT(got[0].pol.nmx, 2);
		CHECK_STR(got[0].pol.mx + sizeof "mail.example.com", "*.example.net");
		CHECK_STR(got[1].domain, "none.example");
		CHECK_INT(got[1].pol.mode, STS_NONE);
		CHECK_INT(got[1].pol.nmx, 0);

		/* every truncation point: never a crash, never more than 2 records,
		 * and the records before the cut still load */
		{
			size_t cut, worst = 0;
			int ok = 1;
			for (cut = 0; cut < len; cut++) {
				const unsigned char *g = guarded(buf, cut);
				if (snapshot_parse((const char *)g, cut, NOW, collect, NULL, &st) == 0 &&
				    st.complete)
					ok = 0;     /* a cut file must never look complete */
				if (st.loaded > 2)
					ok = 0;
				worst = (size_t)st.loaded > worst ? (size_t)st.loaded : worst;
				ngot = 0;
			}
			CHECK(ok);
			CHECK_INT(worst, 2);
		}
		/* one flipped byte in the first record: that record alone is lost */
		{
			char copy[4096];
			char *p;
			memcpy(copy, buf, len);
			p = strstr(copy, "example.com");
			p[0] = 'X';
			CHECK_INT(parse(copy, len, &st), 0);
			CHECK_INT(st.loaded, 1);
			CHECK_INT(st.bad, 1);
			CHECK_STR(st.why, "checksum mismatch");
			CHECK_STR(got[0].domain, "none.example");
		}
	}
	unlink(path);
	cache_free(&c);

	/* header checks */
	CHECK_INT(parse("", 0, &st), -1);
	CHECK_STR(st.why, "not an mtasts snapshot");
	CHECK_INT(parse("GARBAGE\n", 8, &st), -1);
	CHECK_STR(st.why, "not an mtasts snapshot");
	CHECK_INT(parse("mtasts-snapshot 2\n", 18, &st), -1);
	CHECK_STR(st.why, "unsupported snapshot version");
	CHECK_INT(parse("mtasts-snapshot 10\n", 19, &st), -1);
	CHECK_STR(st.why, "unsupported snapshot version");
	CHECK_INT(parse("mtasts-snapshot 1", 17, &st), -1);

	/* records validated like network input */
#define ONE(body, want_loaded, want_why) do { \
	strcpy(text, "mtasts-snapshot 1\n"); line(text, body); line(text, "E 1"); \
	CHECK_INT(parse(text, strlen(text), &st), 0); \
	CHECK_INT(st.loaded, want_loaded); \
	if (want_why) CHECK_STR(st.why, want_why); \
} while (0)
	ONE("P example.com id1 enforce 86400 1799999000 mx.example.com", 1, NULL);
	ONE("P example.com id1 testing 86400 1799999000 mx.example.com", 1, NULL);
	ONE("P Example.com id1 enforce 86400 1799999000 mx.example.com", 0, "bad domain");
	ONE("P example.com. id1 enforce 86400 1799999000 mx.example.com", 0, "bad domain");
	ONE("P 192.0.2.1 id1 enforce 86400 1799999000 mx.example.com", 0, "bad domain");
	ONE("P example.com id-1 enforce 86400 1799999000 mx.example.com", 0, "bad id");
	ONE("P example.com 012345678901234567890123456789012 enforce 86400 1799999000 mx.example.com",
	    0, "bad id");
	ONE("P example.com id1 Enforce 86400 1799999000 mx.example.com", 0, NULL);
	ONE("P example.com id1 enforce 99999999999 1799999000 mx.example.com", 0, "bad max_age");
	ONE("P example.com id1 enforce -5 1799999000 mx.example.com", 0, "bad max_age");
	ONE("P example.com id1 enforce 86400 1800090000 mx.example.com", 0, "fetch time in the future");
	ONE("P example.com id1 enforce 60 1799999000 mx.example.com", 0, NULL);   /* expired */
	CHECK_INT(st.expired, 1);
	ONE("P example.com id1 enforce 86400 1799999000 mx.example.com:evil", 0, NULL);
	ONE("P example.com id1 enforce 86400 1799999000 servername=evil", 0, NULL);
	ONE("P example.com id1 enforce 86400 1799999000", 0, NULL);   /* enforce needs mx */
	ONE("P example.com id1 enforce 86400 1799999000  mx.example.com", 0, "malformed record");
	ONE("P example.com id1 enforce 86400 1799999000 mx.example.com ", 0, "malformed record");
	ONE("Q example.com id1 enforce 86400 1799999000 mx.example.com", 0, "malformed record");
	ONE("P", 0, "malformed line");
	/* records after the end marker are ignored */
	strcpy(text, "mtasts-snapshot 1\n");
	line(text, "E 0");
	line(text, "P example.com id1 enforce 86400 1799999000 mx.example.com");
	CHECK_INT(parse(text, strlen(text), &st), 0);
	CHECK_INT(st.loaded, 0);
	/* a bad CRC field */
	strcpy(text, "mtasts-snapshot 1\nzzzzzzzz P example.com id1 enforce 86400 1799999000 m.x.y\n");
	CHECK_INT(parse(text, strlen(text), &st), 0);
	CHECK_INT(st.loaded, 0);
	CHECK_INT(st.bad, 1);
	/* binary garbage after a valid header */
	{
		static char junk[70000];
		size_t i;
		srand(7);
		memcpy(junk, "mtasts-snapshot 1\n", 18);
		for (i = 18; i < sizeof junk; i++)
			junk[i] = (char)(rand() & 0xff);
		CHECK_INT(parse(junk, sizeof junk, &st), 0);
		CHECK_INT(st.loaded, 0);
	}
	test_big();
	UNIT_DONE();
}
