/*
 * resp.c - Redis's RESP2 protocol, both ways, as pure functions: commands
 * out as arrays of bulk strings, replies in from whatever bytes a socket
 * gave us.  The reply parser never reads past len, copies nothing (items
 * point into the caller's buffer) and refuses what a sane server never
 * sends (lengths beyond our bounds, arrays nested deeper than Sentinel's
 * ROLE reply), so a hostile server costs a reconnect, never memory.
 */
#include <stdio.h>
#include <string.h>

#include "mtasts.h"

/* One "<type><text>\r\n" line starting at buf[at]: the text's end, or
 * RESP_MORE / RESP_BAD. */
static long
line_end(const uint8_t *buf, size_t len, size_t at)
{
	size_t i;

	for (i = at; i < len && i - at <= RESP_LINE_MAX; i++) {
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return RESP_MORE;
			return buf[i + 1] == '\n' ? (long)i : RESP_BAD;
		}
		if (buf[i] == '\n')
			return RESP_BAD;
	}
	return i - at > RESP_LINE_MAX ? RESP_BAD : RESP_MORE;
}

/* "-1" or 0..max in decimal */
static int
length_of(const uint8_t *s, size_t n, uint64_t max, int64_t *out)
{
	uint64_t v;

	if (n == 2 && s[0] == '-' && s[1] == '1') {
		*out = -1;
		return 0;
	}
	if (dec_parse((const char *)s, n, 10, max, &v) < 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* One item at buf[*at]; depth counts arrays around it.  On success *at is
 * past it and *it (if not NULL) describes it. */
static int
item(const uint8_t *buf, size_t len, size_t *at, int depth, struct resp_item *it)
{
	size_t p = *at, text;
	long end;
	int64_t n, k;
	struct resp_item dummy;

	if (p >= len)
		return RESP_MORE;
	if ((end = line_end(buf, len, p + 1)) < 0)
		return (int)end;
	text = p + 1;
	if (it == NULL)
		it = &dummy;
	memset(it, 0, sizeof *it);
	it->type = buf[p];
	switch (buf[p]) {
	case RESP_STRING:
	case RESP_ERROR:
		it->s = buf + text;
		it->len = (size_t)end - text;
		*at = (size_t)end + 2;
		return RESP_OK;
	case RESP_INT:
		if (end - (long)text > 1 && buf[text] == '-') {
			uint64_t v;
			if (dec_parse((const char *)buf + text + 1, (size_t)end - text - 1, 18,
			    UINT64_MAX, &v) < 0)
				return RESP_BAD;
			it->n = -(int64_t)v;
		} else {
			uint64_t v;
			if (dec_parse((const char *)buf + text, (size_t)end - text, 18, UINT64_MAX,
			    &v) < 0)
				return RESP_BAD;
			it->n = (int64_t)v;
		}
		*at = (size_t)end + 2;
		return RESP_OK;
	case RESP_BULK:
		if (length_of(buf + text, (size_t)end - text, RESP_BULK_MAX, &n) < 0)
			return RESP_BAD;
		p = (size_t)end + 2;
		if (n < 0) {
			it->type = RESP_NIL;
			*at = p;
			return RESP_OK;
		}
		if (p > len || len - p < (size_t)n + 2)
			return RESP_MORE;
		if (buf[p + (size_t)n] != '\r' || buf[p + (size_t)n + 1] != '\n')
			return RESP_BAD;
		it->s = buf + p;
		it->len = (size_t)n;
		*at = p + (size_t)n + 2;
		return RESP_OK;
	case RESP_ARRAY:
		if (depth >= RESP_DEPTH_MAX ||
		    length_of(buf + text, (size_t)end - text, RESP_ARRAY_MAX, &n) < 0)
			return RESP_BAD;
		p = (size_t)end + 2;
		it->n = n;
		if (n < 0)
			it->type = RESP_NIL;
		for (k = 0; k < n; k++) {
			int rc = item(buf, len, &p, depth + 1, NULL);
			if (rc != RESP_OK)
				return rc;
		}
		*at = p;
		return RESP_OK;
	default:
		return RESP_BAD;
	}
}

int
resp_parse(const uint8_t *buf, size_t len, struct resp_reply *r, size_t *used)
{
	size_t at = 0, p;
	int rc, k;

	memset(r, 0, sizeof *r);
	if ((rc = item(buf, len, &at, 0, &r->top)) != RESP_OK)
		return rc;
	*used = at;
	if (r->top.type != RESP_ARRAY)
		return RESP_OK;
	/* the array was checked whole; now note its first elements */
	p = (size_t)(line_end(buf, len, 1) + 2);
	for (k = 0; k < r->top.n && k < RESP_ELEMS_MAX; k++) {
		if (item(buf, len, &p, 1, &r->elem[k]) != RESP_OK)
			return RESP_BAD;        /* cannot happen: parsed above */
		r->nelem++;
	}
	return RESP_OK;
}

size_t
resp_command(uint8_t *out, size_t cap, int argc, const char *const *argv, const size_t *argl)
{
	size_t n = 0, l;
	int k, w;

	w = snprintf((char *)out, cap, "*%d\r\n", argc);
	if (w < 0 || (size_t)w >= cap)
		return 0;
	n = (size_t)w;
	for (k = 0; k < argc; k++) {
		l = argl != NULL ? argl[k] : strlen(argv[k]);
		w = snprintf((char *)out + n, cap - n, "$%zu\r\n", l);
		if (w < 0 || (size_t)w >= cap - n || cap - n - (size_t)w < l + 2)
			return 0;
		n += (size_t)w;
		memcpy(out + n, argv[k], l);
		n += l;
		out[n++] = '\r';
		out[n++] = '\n';
	}
	return n;
}

int
resp_is(const struct resp_item *it, const char *s)
{
	size_t l = strlen(s);

	return (it->type == RESP_STRING || it->type == RESP_BULK || it->type == RESP_ERROR) &&
	    it->len == l && !memcmp(it->s, s, l);
}
