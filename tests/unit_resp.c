/* unit_resp.c - RESP2 replies and commands (resp.c), and the shared
 * cache's record (shared.c), with hostile input: every buffer is read
 * through guarded(), so a read past len faults. */
#include <stdio.h>
#include <string.h>

#include "mtasts.h"
#include "unit.h"

static int
parse(const char *s, size_t len, struct resp_reply *r, size_t *used)
{
	*used = 0;
	return resp_parse(guarded(s, len), len, r, used);
}
#define PARSE(lit, r, used) parse(lit, sizeof lit - 1, r, used)

static void
test_scalars(void)
{
	struct resp_reply r;
	size_t used;

	CHECK_INT(PARSE("+OK\r\n", &r, &used), RESP_OK);
	CHECK_INT(used, 5);
	CHECK_INT(r.top.type, RESP_STRING);
	CHECK(resp_is(&r.top, "OK"));
	CHECK(!resp_is(&r.top, "O"));
	CHECK(!resp_is(&r.top, "OKAY"));

	CHECK_INT(PARSE("-ERR wrong password\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.top.type, RESP_ERROR);
	CHECK_MEM(r.top.s, r.top.len, "ERR wrong password");

	CHECK_INT(PARSE(":42\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.top.n, 42);
	CHECK_INT(PARSE(":-7\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.top.n, -7);
	CHECK_INT(PARSE(":\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE(":-\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE(":4x\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE(":1234567890123456789\r\n", &r, &used), RESP_BAD);

	CHECK_INT(PARSE("$3\r\nfoo\r\n", &r, &used), RESP_OK);
	CHECK_INT(used, 9);
	CHECK_INT(r.top.type, RESP_BULK);
	CHECK_MEM(r.top.s, r.top.len, "foo");
	/* a bulk string is binary: CR LF inside is data */
	CHECK_INT(PARSE("$4\r\na\r\nb\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.top.len, 4);
	CHECK_INT(PARSE("$0\r\n\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.top.type, RESP_BULK);
	CHECK_INT(r.top.len, 0);
	CHECK_INT(PARSE("$-1\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.top.type, RESP_NIL);
	CHECK_INT(used, 5);
}

static void
test_hostile(void)
{
	struct resp_reply r;
	size_t used;
	char big[RESP_LINE_MAX + 8];

	CHECK_INT(parse("", 0, &r, &used), RESP_MORE);
	CHECK_INT(PARSE("+OK", &r, &used), RESP_MORE);
	CHECK_INT(PARSE("+OK\r", &r, &used), RESP_MORE);
	CHECK_INT(PARSE("+OK\n", &r, &used), RESP_BAD);       /* bare LF */
	CHECK_INT(PARSE("+O\rK\r\n", &r, &used), RESP_BAD);   /* CR not before LF */
	CHECK_INT(PARSE("x3\r\n", &r, &used), RESP_BAD);      /* no such type */
	CHECK_INT(PARSE("$-2\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE("$+3\r\nfoo\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE("$ 3\r\nfoo\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE("$\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE("$3\r\nfooXY", &r, &used), RESP_BAD); /* not CRLF after data */
	CHECK_INT(PARSE("$3\r\nfo", &r, &used), RESP_MORE);
	CHECK_INT(PARSE("$3\r\nfoo\r", &r, &used), RESP_MORE);
	/* lengths beyond our bounds end the connection, never a wait for
	 * gigabytes: a 1 MB value can only arrive when someone else asks */
	CHECK_INT(PARSE("$999999999\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE("$99999999999999999999\r\n", &r, &used), RESP_BAD);
	snprintf(big, sizeof big, "$%d\r\n", RESP_BULK_MAX + 1);
	CHECK_INT(parse(big, strlen(big), &r, &used), RESP_BAD);
	snprintf(big, sizeof big, "$%d\r\n", RESP_BULK_MAX);
	CHECK_INT(parse(big, strlen(big), &r, &used), RESP_MORE);
	CHECK_INT(PARSE("*99999999\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE("*65\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE("*-2\r\n", &r, &used), RESP_BAD);
	CHECK_INT(PARSE("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", &r, &used), RESP_BAD); /* too deep */
	CHECK_INT(PARSE("*1\r\n*1\r\n*1\r\n:1\r\n", &r, &used), RESP_OK);
	/* a status line without an end, longer than any real one */
	memset(big, 'a', sizeof big);
	big[0] = '+';
	CHECK_INT(parse(big, sizeof big, &r, &used), RESP_BAD);
	big[0] = '-';
	CHECK_INT(parse(big, RESP_LINE_MAX, &r, &used), RESP_MORE);
}

static void
test_arrays(void)
{
	static const char role[] = "*3\r\n$6\r\nmaster\r\n:3129659\r\n*2\r\n"
	    "*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n$7\r\n3129242\r\n"
	    "*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9002\r\n$7\r\n3129543\r\n";
	static const char two[] = "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n+OK\r\n";
	struct resp_reply r;
	size_t used, k;

	CHECK_INT(PARSE(two, &r, &used), RESP_OK);
	CHECK_INT(used, sizeof two - 1 - 5);    /* the +OK after it is the next reply */
	CHECK_INT(r.top.type, RESP_ARRAY);
	CHECK_INT(r.top.n, 2);
	CHECK_INT(r.nelem, 2);
	CHECK_MEM(r.elem[0].s, r.elem[0].len, "127.0.0.1");
	CHECK_MEM(r.elem[1].s, r.elem[1].len, "6380");

	CHECK_INT(PARSE(role, &r, &used), RESP_OK);
	CHECK_INT(used, sizeof role - 1);
	CHECK(resp_is(&r.elem[0], "master"));
	CHECK_INT(r.elem[1].n, 3129659);
	CHECK_INT(r.elem[2].type, RESP_ARRAY);
	CHECK_INT(r.elem[2].n, 2);
	/* every cut of a whole reply is incomplete, never bad, never done */
	for (k = 0; k < sizeof role - 1; k++)
		if (parse(role, k, &r, &used) != RESP_MORE)
			break;
	CHECK_INT(k, sizeof role - 1);

	CHECK_INT(PARSE("*-1\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.top.type, RESP_NIL);
	CHECK_INT(PARSE("*0\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.nelem, 0);
	/* more elements than noted: all checked, the first few kept */
	CHECK_INT(PARSE("*6\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n", &r, &used), RESP_OK);
	CHECK_INT(r.nelem, RESP_ELEMS_MAX);
	CHECK_INT(PARSE("*6\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\nX6\r\n", &r, &used), RESP_BAD);
}

static void
test_command(void)
{
	uint8_t out[64];
	const char *argv[] = { "GETRANGE", "mtasts:example.com", "0", "65600" };
	const char *bin[] = { "SET", "k", "a\r\nb" };
	const size_t binl[] = { 3, 1, 4 };
	static const char want[] = "*4\r\n$8\r\nGETRANGE\r\n$18\r\nmtasts:example.com\r\n"
	    "$1\r\n0\r\n$5\r\n65600\r\n";
	size_t n, cap;
	struct resp_reply r;

	n = resp_command(out, sizeof out, 4, argv, NULL);
	CHECK_MEM(out, n, want);
	/* every smaller buffer: 0, never a cut command */
	for (cap = 0; cap < sizeof want - 1; cap++)
		if (resp_command(out, cap, 4, argv, NULL) != 0)
			break;
	CHECK_INT(cap, sizeof want - 1);
	n = resp_command(out, sizeof out, 3, bin, binl);
	CHECK_MEM(out, n, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
	/* what we send parses as RESP too (an array of bulk strings) */
	CHECK_INT(resp_parse(out, n, &r, &cap), RESP_OK);
	CHECK_INT(r.nelem, 3);
	CHECK_MEM(r.elem[2].s, r.elem[2].len, "a\r\nb");
}

static int
rec(const char *v, size_t len, int64_t now, struct shared_record *sr, const char **why)
{
	return shared_record_parse(guarded(v, len), len, now, sr, why);
}
#define REC(lit, now, sr, why) rec(lit, sizeof lit - 1, now, sr, why)

static void
test_record(void)
{
	struct shared_record sr;
	const char *why;
	char head[64], v[SHARED_RECORD_MAX + 2];
	size_t hl;
	static const char body[] = "version: STSv1\nmode: enforce\nmx: mx.example.com\n"
	    "max_age: 86400\n";

	hl = shared_header(head, sizeof head, 1764633600, "20261202");
	CHECK_MEM(head, hl, "mtasts1 1764633600 20261202\n");
	CHECK_INT(shared_header(v, 10, 1764633600, "20261202"), 0);
	memcpy(v, head, hl);
	memcpy(v + hl, body, sizeof body - 1);
	CHECK_INT(rec(v, hl + sizeof body - 1, 1764633700, &sr, &why), 0);
	CHECK_INT(sr.fetched_wall, 1764633600);
	CHECK_STR(sr.id, "20261202");
	CHECK_MEM(sr.body, sr.bodylen, body);
	CHECK(why == NULL);

	CHECK_INT(REC("mtasts1 100 abc\n", 200, &sr, &why), 0);
	CHECK_INT(sr.bodylen, 0);       /* an empty body: policy_parse refuses it */
	CHECK_INT(REC("mtasts2 100 abc\nx", 200, &sr, &why), -1);
	CHECK_STR(why, "not an mtasts record");
	CHECK_INT(REC("garbage", 200, &sr, &why), -1);
	CHECK_INT(REC("", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 ", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 100 abc", 200, &sr, &why), -1);          /* no newline */
	CHECK_INT(REC("mtasts1 100\nabc", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 -100 abc\n", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 0 abc\n", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 1x0 abc\n", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 100 a-c\n", 200, &sr, &why), -1);        /* not an sts-id */
	CHECK_INT(REC("mtasts1 100  abc\n", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 100 \n", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 100 abc\r\n", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 100 123456789012345678901234567890123\n", 200, &sr, &why), -1);
	CHECK_INT(REC("mtasts1 100 12345678901234567890123456789012\n", 200, &sr, &why), 0);
	/* dated in the future beyond clock skew */
	CHECK_INT(REC("mtasts1 1000 abc\n", 1000 - SHARED_SKEW_SEC, &sr, &why), 0);
	CHECK_INT(REC("mtasts1 1001 abc\n", 1000 - SHARED_SKEW_SEC, &sr, &why), -1);
	CHECK_STR(why, "record dated in the future");
	/* the size bound, exactly */
	memset(v, 'x', sizeof v);
	memcpy(v, "mtasts1 100 abc\n", 16);
	CHECK_INT(rec(v, SHARED_RECORD_MAX, 200, &sr, &why), 0);
	CHECK_INT(rec(v, SHARED_RECORD_MAX + 1, 200, &sr, &why), -1);
	CHECK_STR(why, "record too large");
}

int
main(void)
{
	test_scalars();
	test_hostile();
	test_arrays();
	test_command();
	test_record();
	UNIT_DONE();
}
