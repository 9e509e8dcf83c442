/*
 * snapshot.c - the cache on disk, so a restarted daemon answers at once.
 *
 * Format (text, so byte order never matters; version 1):
 *
 *   mtasts-snapshot 1
 *   <crc32> P <domain> <id> <mode> <max_age> <fetched_unix> <mx> [<mx> ...]
 *   <crc32> D <domain> <dane_state> <expires_unix>     (after the P lines)
 *   ...
 *   <crc32> E <records>
 *
 * Every line carries the CRC-32 of the rest of the line, so a damaged line
 * is skipped while the others still load.  Every field is validated on
 * load with the parsers used for network input (the policy itself goes
 * through policy_parse), and records whose max_age passed while the
 * daemon was down, or dated in the future, are dropped.
 *
 * Writing: temporary file in the same directory, fsync, rename, so a crash
 * at any moment leaves the old file or the new one, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

#define SNAP_MAGIC "mtasts-snapshot "

uint32_t
snapshot_crc32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* ---- load (pure) -------------------------------------------------------- */

/* Split a record line into space-separated fields (no empty fields): the
 * first max at most; *rest is the offset of what follows them (len if
 * nothing).  The count, or -1. */
static int
split(const char *s, size_t len, const char **f, size_t *flen, int max, size_t *rest)
{
	int n = 0;
	size_t i = 0;

	if (len > 0 && s[len - 1] == ' ')
		return -1;
	while (i < len && n < max) {
		size_t start = i;
		while (i < len && s[i] != ' ')
			i++;
		if (i == start)
			return -1;
		f[n] = s + start;
		flen[n++] = i - start;
		if (i < len)
			i++;            /* the single space */
	}
	*rest = i;
	return n;
}

/* One "P ..." record (after the CRC) into r; 0 ok, -1 invalid. */
static int
parse_record(const char *s, size_t len, int64_t now, struct snap_record *r, const char **why)
{
	const char *f[6];
	size_t fl[6], rest, k, e;
	/* each mx field "x.yz " becomes "mx: x.yz\n": less than twice as long */
	char text[2 * SNAP_LINE_MAX];
	char domain[DOMAIN_MAX + 1];
	struct policy_error pe;
	uint64_t max_age, fetched;
	size_t n = 0;
	int nf, nmx = 0;

	nf = split(s, len, f, fl, 6, &rest);
	if (nf < 6 || fl[0] != 1 || f[0][0] != 'P')
		return *why = "malformed record", -1;
	/* the domain must already be in normal form */
	if (fl[1] > DOMAIN_MAX || key_normalize(f[1], fl[1], domain) != KEY_OK ||
	    strlen(domain) != fl[1] || memcmp(domain, f[1], fl[1]) != 0)
		return *why = "bad domain", -1;
	{
		char txt[64];
		if (fl[2] > TXT_ID_MAX)
			return *why = "bad id", -1;
		snprintf(txt, sizeof txt, "v=STSv1; id=%.*s", (int)fl[2], f[2]);
		if (policy_txt_record((const uint8_t *)txt, strlen(txt), r->id) != 1)
			return *why = "bad id", -1;
	}
	if (dec_parse(f[4], fl[4], 20, MAX_AGE_MAX, &max_age) < 0)
		return *why = "bad max_age", -1;
	if (dec_parse(f[5], fl[5], 20, SNAP_TIME_MAX, &fetched) < 0)
		return *why = "bad fetch time", -1;
	if ((int64_t)fetched > now + SNAP_CLOCK_SKEW)
		return *why = "fetch time in the future", -1;
	if ((int64_t)(fetched + max_age) <= now)
		return *why = "expired", -1;
	/* the policy goes through the network parser again */
	n = (size_t)snprintf(text, sizeof text, "version: STSv1\nmode: %.*s\nmax_age: %u\n",
	    (int)fl[3], f[3], (unsigned)max_age);
	for (k = rest; k < len; k = e + 1, nmx++) {
		for (e = k; e < len && s[e] != ' '; e++)
			;
		if (e == k)
			return *why = "malformed record", -1;
		if (n + (e - k) + 6 > sizeof text)
			return *why = "record too long", -1;
		memcpy(text + n, "mx: ", 4);
		memcpy(text + n + 4, s + k, e - k);
		n += e - k + 5;
		text[n - 1] = '\n';
	}
	if (policy_parse((const uint8_t *)text, n, &r->pol, &pe) < 0)
		return *why = pe.reason, -1;
	if (r->pol.max_age != max_age || r->pol.nmx != nmx)
		return *why = "bad mx list", -1;
	memcpy(r->domain, domain, fl[1] + 1);
	r->fetched = (int64_t)fetched;
	return 0;
}

/* ---- DANE decisions ("D" records, danejob.c) ------------------------------ */

/* One "D <domain> <state> <expires>" record into r; 0 ok, -1 invalid. */
static int
parse_dane_record(const char *s, size_t len, int64_t now, struct snap_record *r,
    const char **why)
{
	const char *f[4];
	size_t fl[4], rest;
	uint64_t st, until;

	if (split(s, len, f, fl, 4, &rest) != 4 || rest != len || fl[0] != 1)
		return *why = "malformed record", -1;
	if (fl[1] > DOMAIN_MAX || key_normalize(f[1], fl[1], r->domain) != KEY_OK ||
	    strlen(r->domain) != fl[1] || memcmp(r->domain, f[1], fl[1]) != 0)
		return *why = "bad domain", -1;
	if (dec_parse(f[2], fl[2], 1, DANE_FAILED, &st) < 0 || st == DANE_UNKNOWN)
		return *why = "bad dane state", -1;
	if (dec_parse(f[3], fl[3], 20, SNAP_TIME_MAX, &until) < 0 ||
	    (int64_t)until > now + DANE_TTL_MAX + SNAP_CLOCK_SKEW)
		return *why = "bad dane expiry", -1;
	if ((int64_t)until <= now)
		return *why = "expired", -1;
	r->dane = (uint8_t)st;
	r->dane_until = (int64_t)until;
	r->id[0] = '\0';               /* no policy in a D record */
	r->fetched = 0;
	r->pol.mode = STS_NONE;
	r->pol.max_age = 0;
	r->pol.mxlen = 0;
	r->pol.nmx = 0;
	return 0;
}

static int put_line(FILE *f, const char *body, size_t len);

/* Every current DANE decision as a "D" line; *bad set if a write failed. */
static void
snap_write_dane(FILE *f, const struct cache *c, msec_t now, int *bad)
{
	char line[DOMAIN_MAX + 64], domain[DOMAIN_MAX + 1];
	int64_t wall = wall_now();
	uint32_t i;

	for (i = 0; i < c->entry_mark; i++) {
		const struct cache_entry *e = &c->e[i];
		int32_t left = (int32_t)(e->dane_until - (uint32_t)(now / 1000));
		int n;

		if (e->kind == CE_FREE || e->dane == DANE_UNKNOWN || left <= 0)
			continue;
		cache_domain(c, e, domain);
		n = snprintf(line, sizeof line, "D %s %u %lld", domain, e->dane,
		    (long long)(wall + left));
		if (n > 0 && (size_t)n < sizeof line)
			*bad |= put_line(f, line, (size_t)n);
	}
}

/* The first line: magic and version.  0 with *pos after it, or -1 with
 * st->why (a foreign file, or a version this daemon cannot read). */
static int
snap_header(const char *buf, size_t len, size_t *pos, struct snap_stats *st)
{
	size_t n = 0;

	while (n < len && buf[n] != '\n')
		n++;
	if (n == len || n < sizeof SNAP_MAGIC || memcmp(buf, SNAP_MAGIC, sizeof SNAP_MAGIC - 1)) {
		st->why = "not an mtasts snapshot";
		return -1;
	}
	if (n != sizeof SNAP_MAGIC || buf[sizeof SNAP_MAGIC - 1] != '1') {
		st->why = "unsupported snapshot version";
		return -1;
	}
	*pos = n + 1;
	return 0;
}

/* "<crc32> <body>": the shape, and the CRC of the body.  NULL when the
 * line is sound, else why not. */
static const char *
snap_line_check(const char *line, size_t n)
{
	uint32_t crc = 0;
	size_t i;

	if (n < 11 || n > SNAP_LINE_MAX || line[8] != ' ')
		return "malformed line";
	for (i = 0; i < 8; i++) {
		char ch = line[i];
		int v = ch >= 'A' && ch <= 'F' ? -1 : ascii_hexval(ch);   /* as written */
		if (v < 0)
			break;
		crc = crc << 4 | (uint32_t)v;
	}
	if (i != 8 || crc != snapshot_crc32(line + 9, n - 9))
		return "checksum mismatch";
	return NULL;
}

static void
snap_bad(struct snap_stats *st, int lineno, const char *why)
{
	st->bad++;
	st->bad_line = lineno;
	st->why = why;
}

int
snapshot_parse(const char *buf, size_t len, int64_t now, snap_cb cb, void *arg,
    struct snap_stats *st)
{
	size_t pos, n;
	int lineno = 1, ended = 0;
	struct snap_record r;

	memset(st, 0, sizeof *st);
	if (snap_header(buf, len, &pos, st) < 0)
		return -1;
	while (pos < len) {
		const char *line = buf + pos, *why = NULL;

		n = 0;
		while (pos + n < len && line[n] != '\n')
			n++;
		lineno++;
		if (pos + n == len) {       /* no final newline: cut short */
			st->bad++;
			st->why = "truncated";
			break;
		}
		pos += n + 1;
		if (ended) {
			st->bad++;
			continue;
		}
		if ((why = snap_line_check(line, n)) != NULL) {
			snap_bad(st, lineno, why);
			continue;
		}
		if (line[9] == 'E') {
			ended = 1;
			continue;
		}
		r.dane = DANE_UNKNOWN;
		if ((line[9] == 'D' ? parse_dane_record(line + 9, n - 9, now, &r, &why) :
		    parse_record(line + 9, n - 9, now, &r, &why)) < 0) {
			if (!strcmp(why, "expired"))
				st->expired++;
			else
				snap_bad(st, lineno, why);
			continue;
		}
		st->loaded++;
		cb(arg, &r);
	}
	if (!ended && st->why == NULL)
		st->why = "no end marker (file cut short)";
	st->complete = ended;
	return 0;
}

/* ---- write ----------------------------------------------------------------- */

static int
put_line(FILE *f, const char *body, size_t len)
{
	return fprintf(f, "%08x %.*s\n", snapshot_crc32(body, len), (int)len, body) < 0 ? -1 : 0;
}

/* Every usable policy of c as a "P" line, then the "E" line; returns the
 * records written, with *bad set if a write failed. */
static uint32_t
snap_write_records(FILE *f, const struct cache *c, msec_t now, int *bad)
{
	char line[SNAP_LINE_MAX + 64], data[65536];  /* an entry's data: 16-bit length */
	uint32_t i, records = 0;

	for (i = 0; i < c->entry_mark; i++) {
		const struct cache_entry *e = &c->e[i];
		const char *mx;
		size_t n, k, mxlen;

		if (e->kind != CE_POLICY || e->expires <= now ||
		    cache_read(c, e, data, sizeof data, &mx, &mxlen) < 0)
			continue;
		n = (size_t)snprintf(line, sizeof line, "P %s %s %s %u %lld", data, e->id,
		    policy_mode_str((enum sts_mode)e->mode), e->max_age, (long long)e->fetched_wall);
		for (k = 0; k < mxlen && n < sizeof line; k += strlen(mx + k) + 1)
			n += (size_t)snprintf(line + n, sizeof line - n, " %s", mx + k);
		if (n >= sizeof line || n > SNAP_LINE_MAX - 9)
			continue;
		*bad |= put_line(f, line, n);
		records++;
	}
	snap_write_dane(f, c, now, bad);
	snprintf(line, sizeof line, "E %u", records);
	*bad |= put_line(f, line, strlen(line));
	return records;
}

/* fsync the directory that holds path, so that a rename into it lasts */
static void
snap_sync_dir(const char *path)
{
	char dir[300];
	char *slash;
	int fd;

	strlcpy_m(dir, path, sizeof dir);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strlcpy_m(dir, ".", sizeof dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
snapshot_write(const struct cache *c, const char *path, msec_t now,
    char *err, size_t errlen)
{
	char tmp[300];
	uint32_t records;
	FILE *f;
	int fd, bad = 0;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "%s1\n", SNAP_MAGIC);
	records = snap_write_records(f, c, now, &bad);
	if (bad || fflush(f) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	snap_sync_dir(path);    /* make the rename itself durable */
	return (int)records;
}
