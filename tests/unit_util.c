/* unit_util.c - the shared helpers of util.c: character classes, the
 * decimal parser with each caller's limits, host:port, whole files */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "mtasts.h"
#include "unit.h"

static void
test_classes(void)
{
	int c, digits = 0, alnums = 0, hex = 0, blanks = 0, spaces = 0, lowered = 0;

	/* every byte, so nothing outside ASCII slips in (no locale) */
	for (c = 0; c < 256; c++) {
		digits += ascii_isdigit(c);
		alnums += ascii_isalnum(c);
		hex += ascii_hexval(c) >= 0;
		blanks += ascii_isblank(c);
		spaces += ascii_isspace(c);
		lowered += ascii_tolower(c) != c;
	}
	CHECK_INT(digits, 10);
	CHECK_INT(alnums, 62);
	CHECK_INT(hex, 22);
	CHECK_INT(blanks, 2);
	CHECK_INT(spaces, 6);
	CHECK_INT(lowered, 26);
	CHECK_INT(ascii_isblank('\t'), 1);
	CHECK_INT(ascii_isblank('\r'), 0);
	CHECK_INT(ascii_isspace('\v'), 1);
	CHECK_INT(ascii_hexval('0'), 0);
	CHECK_INT(ascii_hexval('9'), 9);
	CHECK_INT(ascii_hexval('a'), 10);
	CHECK_INT(ascii_hexval('F'), 15);
	CHECK_INT(ascii_hexval('g'), -1);
	CHECK_INT(ascii_hexval('/'), -1);
	CHECK_INT(ascii_tolower('A'), 'a');
	CHECK_INT(ascii_tolower('Z'), 'z');
	CHECK_INT(ascii_tolower('@'), '@');
	CHECK_INT(ascii_tolower('['), '[');
	CHECK_INT(ascii_tolower(0xc4), 0xc4);
	CHECK_INT(ascii_isalnum(0xe9), 0);
	CHECK_INT(ascii_isalnum('z'), 1);
	CHECK_INT(ascii_isalnum('{'), 0);
}

/* dec_parse on s (NUL-terminated for the test): the value, or -1 */
static long long
dec(const char *s, size_t maxdigits, uint64_t max)
{
	uint64_t v = 12345;
	const unsigned char *g = guarded(s, strlen(s));    /* no read past len */

	if (dec_parse((const char *)g, strlen(s), maxdigits, max, &v) < 0) {
		CHECK(v == 12345);      /* untouched on failure */
		return -1;
	}
	return (long long)v;
}

static void
test_dec(void)
{
	/* the syntax: digits only, at least one */
	CHECK_INT(dec("0", SIZE_MAX, 100), 0);
	CHECK_INT(dec("42", SIZE_MAX, 100), 42);
	CHECK_INT(dec("007", SIZE_MAX, 100), 7);
	CHECK_INT(dec("", SIZE_MAX, 100), -1);
	CHECK_INT(dec("+1", SIZE_MAX, 100), -1);
	CHECK_INT(dec("-1", SIZE_MAX, 100), -1);
	CHECK_INT(dec(" 1", SIZE_MAX, 100), -1);
	CHECK_INT(dec("1 ", SIZE_MAX, 100), -1);
	CHECK_INT(dec("1a", SIZE_MAX, 100), -1);
	CHECK_INT(dec("0x1", SIZE_MAX, 100), -1);
	CHECK_INT(dec("1.0", SIZE_MAX, 100), -1);
	CHECK_INT(dec(":", SIZE_MAX, 100), -1);   /* '9' + 1 */
	CHECK_INT(dec("/", SIZE_MAX, 100), -1);   /* '0' - 1 */
	/* max is inclusive, and checked before it can overflow */
	CHECK_INT(dec("100", SIZE_MAX, 100), 100);
	CHECK_INT(dec("101", SIZE_MAX, 100), -1);
	CHECK_INT(dec("1000", SIZE_MAX, 100), -1);
	CHECK_INT(dec("0000000000000000000000000100", SIZE_MAX, 100), 100);
	{
		uint64_t v = 0;
		CHECK_INT(dec_parse("18446744073709551615", 20, SIZE_MAX, UINT64_MAX, &v), 0);
		CHECK(v == UINT64_MAX);
		CHECK_INT(dec_parse("18446744073709551616", 20, SIZE_MAX, UINT64_MAX, &v), -1);
		CHECK_INT(dec_parse("99999999999999999999", 20, SIZE_MAX, UINT64_MAX, &v), -1);
		CHECK_INT(dec_parse("184467440737095516150", 21, SIZE_MAX, UINT64_MAX, &v), -1);
	}
	/* each caller's rules */
	/* policy max_age: 1*10DIGIT, any value (clamped by the caller) */
	CHECK_INT(dec("9999999999", MAX_AGE_DIGITS, UINT64_MAX), 9999999999LL);
	CHECK_INT(dec("00000000001", MAX_AGE_DIGITS, UINT64_MAX), -1);
	/* snapshot: at most 20 digits even when the value is small */
	CHECK_INT(dec("00000000000000000001", 20, MAX_AGE_MAX), 1);
	CHECK_INT(dec("000000000000000000001", 20, MAX_AGE_MAX), -1);
	CHECK_INT(dec("31557600", 20, MAX_AGE_MAX), 31557600);
	CHECK_INT(dec("31557601", 20, MAX_AGE_MAX), -1);
	/* ports and resolv.conf options: no cap on the digits */
	CHECK_INT(dec("0000065535", SIZE_MAX, 65535), 65535);
	CHECK_INT(dec("65536", SIZE_MAX, 65535), -1);
	CHECK_INT(dec("1000000", SIZE_MAX, 1000000), 1000000);
}

/* hostport_split: "host|port" or "-1" */
static const char *
split(const char *s, int def)
{
	static char out[300];
	struct hostport hp;

	if (hostport_split(s, strlen(s), def, &hp) < 0)
		return "-1";
	snprintf(out, sizeof out, "%.*s|%d%s", (int)hp.hostlen, hp.host, hp.port,
	    hp.bracketed ? "|b" : "");
	return out;
}

/* hostport_addr: "address|port" or "-1" */
static const char *
addr(const char *s, int def)
{
	static char out[INET6_ADDRSTRLEN + 16];
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	char a[INET6_ADDRSTRLEN];

	if (hostport_addr(s, strlen(s), def, &ss, &sl) < 0)
		return "-1";
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		CHECK_INT(sl, sizeof *sin);
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof a);
		snprintf(out, sizeof out, "%s|%d", a, ntohs(sin->sin_port));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		CHECK_INT(sl, sizeof *sin6);
		CHECK_INT(ss.ss_family, AF_INET6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof a);
		snprintf(out, sizeof out, "[%s]|%d", a, ntohs(sin6->sin6_port));
	}
	return out;
}

static void
test_hostport(void)
{
	/* the port may be left out (nameserver, resolv.conf) */
	CHECK_STR(split("1.2.3.4", 53), "1.2.3.4|53");
	CHECK_STR(split("1.2.3.4:5353", 53), "1.2.3.4|5353");
	CHECK_STR(split("::1", 53), "::1|53");
	CHECK_STR(split("::1:53", 53), "::1:53|53");    /* two colons: all address */
	CHECK_STR(split("[::1]", 53), "::1|53|b");
	CHECK_STR(split("[::1]:5353", 53), "::1|5353|b");
	CHECK_STR(split("host:1", 53), "host|1");
	CHECK_STR(split("1.2.3.4:0", 53), "-1");
	CHECK_STR(split("1.2.3.4:65536", 53), "-1");
	CHECK_STR(split("1.2.3.4:", 53), "-1");
	CHECK_STR(split("1.2.3.4:+53", 53), "-1");
	CHECK_STR(split(":53", 53), "-1");
	CHECK_STR(split("[]:53", 53), "-1");
	CHECK_STR(split("[::1]:", 53), "-1");
	CHECK_STR(split("[::1]x", 53), "-1");
	CHECK_STR(split("[::1]53", 53), "-1");
	CHECK_STR(split("[::1:53", 53), "-1");
	CHECK_STR(split("", 53), "-1");
	/* the port is required (listen): the last colon starts it */
	CHECK_STR(split("127.0.0.1:8461", 0), "127.0.0.1|8461");
	CHECK_STR(split("[::1]:8461", 0), "::1|8461|b");
	CHECK_STR(split("::1:8461", 0), "::1|8461");
	CHECK_STR(split("a:b:1", 0), "a:b|1");
	CHECK_STR(split("localhost:25", 0), "localhost|25");
	CHECK_STR(split("127.0.0.1", 0), "-1");
	CHECK_STR(split("[::1]", 0), "-1");
	CHECK_STR(split("127.0.0.1:00008461", 0), "127.0.0.1|8461");
	CHECK_STR(split("[::1]:8461:1", 0), "-1");
	CHECK_STR(split("[a]b]:80", 0), "-1");
	/* a NUL inside the text is refused, not cut at */
	{
		struct hostport hp;
		CHECK_INT(hostport_split("1.2.3.4\0:53", 10, 53, &hp), -1);
	}
	/* no read past len: the guard page */
	{
		struct hostport hp;
		const unsigned char *g = guarded("[::1]:53", 8);
		CHECK_INT(hostport_split((const char *)g, 8, 0, &hp), 0);
		CHECK_INT(hp.port, 53);
		g = guarded("[::1", 4);
		CHECK_INT(hostport_split((const char *)g, 4, 0, &hp), -1);
		g = guarded("1.2.3.4:", 8);
		CHECK_INT(hostport_split((const char *)g, 8, 53, &hp), -1);
	}

	/* and the address */
	CHECK_STR(addr("1.2.3.4", 53), "1.2.3.4|53");
	CHECK_STR(addr("127.0.0.1:5353", 53), "127.0.0.1|5353");
	CHECK_STR(addr("::1", 53), "[::1]|53");
	CHECK_STR(addr("2001:db8::1:53", 53), "[2001:db8::1:53]|53");
	CHECK_STR(addr("[2001:db8::1]:5353", 53), "[2001:db8::1]|5353");
	CHECK_STR(addr("[::ffff:1.2.3.4]", 53), "[::ffff:1.2.3.4]|53");
	CHECK_STR(addr("::1:8461", 0), "[::1]|8461");
	CHECK_STR(addr("0.0.0.0:25", 0), "0.0.0.0|25");
	CHECK_STR(addr("[1.2.3.4]:53", 53), "-1");      /* brackets: IPv6 only */
	CHECK_STR(addr("localhost:53", 53), "-1");      /* literals only */
	CHECK_STR(addr("1.2.3:53", 53), "-1");
	CHECK_STR(addr("1.2.3.4.5", 53), "-1");
	CHECK_STR(addr("[::1]:8461", 0), "[::1]|8461");
	/* the longest address text there is (45 characters) */
	CHECK_STR(addr("[0000:0000:0000:0000:0000:ffff:255.255.255.255]", 53),
	    "[::ffff:255.255.255.255]|53");
}

static char *
tmpfile_with(const char *text, size_t len)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/unit_util.XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, text, len) == (ssize_t)len);
	close(fd);
	return path;
}

static void
test_read_file(void)
{
	char err[300], *buf, *path, big[10000];
	size_t len = 99;

	memset(big, 'x', sizeof big);
	/* whole, NUL-terminated, the exact size allowed */
	path = tmpfile_with("hello\n", 6);
	buf = read_file(path, 6, &len, err, sizeof err);
	CHECK(buf != NULL);
	CHECK_INT(len, 6);
	CHECK(buf != NULL && memcmp(buf, "hello\n", 7) == 0);
	free(buf);
	/* one byte more than allowed */
	err[0] = '\0';
	errno = 0;
	buf = read_file(path, 5, &len, err, sizeof err);
	CHECK(buf == NULL);
	CHECK_INT(errno, EFBIG);
	CHECK(strstr(err, path) == err && strstr(err, "larger than 5 bytes") != NULL);
	unlink(path);
	/* empty */
	path = tmpfile_with("", 0);
	buf = read_file(path, 100, &len, err, sizeof err);
	CHECK(buf != NULL && len == 0 && buf[0] == '\0');
	free(buf);
	unlink(path);
	/* larger than the first allocation of a non-regular file would be */
	path = tmpfile_with(big, sizeof big);
	buf = read_file(path, sizeof big, &len, err, sizeof err);
	CHECK(buf != NULL && len == sizeof big && memcmp(buf, big, len) == 0 && buf[len] == '\0');
	free(buf);
	unlink(path);
	/* not there: ENOENT kept for the caller, the path in the text */
	errno = 0;
	buf = read_file("/nonexistent/unit_util", 100, &len, err, sizeof err);
	CHECK(buf == NULL);
	CHECK_INT(errno, ENOENT);
	CHECK_STR(err, "/nonexistent/unit_util: No such file or directory");
	/* a directory */
	buf = read_file("/tmp", 100, &len, err, sizeof err);
	CHECK(buf == NULL);
	CHECK(strncmp(err, "/tmp: ", 6) == 0);
	/* not a regular file: read to the end all the same */
	buf = read_file("/dev/null", 100, &len, err, sizeof err);
	CHECK(buf != NULL && len == 0);
	free(buf);
	/* a device that never ends: cut at max, refused */
	errno = 0;
	buf = read_file("/dev/zero", 10000, &len, err, sizeof err);
	CHECK(buf == NULL);
	CHECK_INT(errno, EFBIG);
}

int
main(void)
{
	test_classes();
	test_dec();
	test_hostport();
	test_read_file();
	UNIT_DONE();
}
