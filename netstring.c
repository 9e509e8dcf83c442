/* netstring.c - netstring framing: a resumable reader and a writer (pure)
 *
 * The reader keeps its whole position in struct ns_reader, so a request
 * may arrive split at any byte and several may arrive in one read.  It
 * returns after each complete string, so the caller acts on one request
 * before feeding the rest of its buffer.
 */
#include <string.h>

#include "mtasts.h"

enum {
	NS_S_LEN = 0,      /* reading the decimal length */
	NS_S_BODY,         /* reading (or discarding) the payload */
	NS_S_COMMA,        /* the terminating comma is due */
	NS_S_ERROR         /* framing error seen: the stream is lost */
};

void
ns_reader_init(struct ns_reader *r)
{
	r->state = NS_S_LEN;
	r->want = 0;
	r->got = 0;
	r->digits = 0;
	r->len = 0;
	r->payload[0] = '\0';
}

/*
 * Protocol (see mtasts.h):
 *   NS_NEED_MORE  *used == len; feed more bytes later.
 *   NS_DONE       *used counts the bytes up to and including the comma;
 *                 payload[0..len) is valid (NUL-terminated) until the
 *                 next call.  Call again with buf + *used for the rest.
 *   NS_OVERSIZE   as NS_DONE, but the declared length (in r->want until
 *                 the next call) exceeded NS_PAYLOAD_MAX: the payload was
 *                 skipped, len is 0 and payload is empty.
 *   NS_ERROR      *used counts the bytes before the offending one.  The
 *                 error is sticky: later calls consume nothing and return
 *                 NS_ERROR until ns_reader_init.
 */
/* One byte of the length (or the colon after it): 0, or -1 for a framing
 * error.  The length is refused as soon as it is too long, before a
 * byte of such a body is read. */
static int
ns_len_byte(struct ns_reader *r, unsigned c)
{
	if (c == ':') {
		if (r->digits == 0)
			return -1;      /* empty length */
		r->state = r->want == 0 ? NS_S_COMMA : NS_S_BODY;
		r->got = 0;
		r->len = 0;
		return 0;
	}
	if (!ascii_isdigit((int)c))
		return -1;
	if (r->digits == 0)
		r->want = 0;            /* still the last string's until now */
	else if (r->want == 0)
		return -1;              /* leading zero */
	if (r->digits >= NS_LEN_DIGITS_MAX)
		return -1;
	r->want = r->want * 10 + (c - '0');
	r->digits++;
	return r->want > NS_DISCARD_MAX ? -1 : 0;
}

/* The comma arrived: the string is complete; ready for the next one. */
static enum ns_status
ns_complete(struct ns_reader *r)
{
	enum ns_status st = r->want <= NS_PAYLOAD_MAX ? NS_DONE : NS_OVERSIZE;

	r->len = st == NS_DONE ? r->want : 0;
	r->payload[r->len] = '\0';
	r->state = NS_S_LEN;
	r->digits = 0;
	r->got = 0;
	return st;
}

enum ns_status
ns_read(struct ns_reader *r, const uint8_t *buf, size_t len, size_t *used)
{
	size_t i = 0, n;

	*used = 0;
	if (r->state == NS_S_ERROR)
		return NS_ERROR;
	while (i < len) {
		switch (r->state) {
		case NS_S_LEN:
			if (ns_len_byte(r, buf[i]) < 0)
				goto bad;
			i++;
			break;
		case NS_S_BODY:
			n = r->want - r->got;
			if (n > len - i)
				n = len - i;
			/* over NS_PAYLOAD_MAX: count the bytes, keep none */
			if (r->want <= NS_PAYLOAD_MAX)
				memcpy(r->payload + r->got, buf + i, n);
			r->got += n;
			i += n;
			if (r->got == r->want)
				r->state = NS_S_COMMA;
			break;
		case NS_S_COMMA:
			if (buf[i] != ',')
				goto bad;
			*used = i + 1;
			return ns_complete(r);
		default:
			goto bad;
		}
	}
	*used = i;
	return NS_NEED_MORE;
bad:
	r->state = NS_S_ERROR;
	*used = i;
	return NS_ERROR;
}

/* No NUL is written: the output is a byte stream, not a C string. */
size_t
ns_write(char *out, size_t cap, const char *payload, size_t len)
{
	char digits[8];
	size_t nd = 0, total, v = len;

	if (len > NS_REPLY_MAX || (len > 0 && payload == NULL))
		return 0;
	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	total = nd + 1 + len + 1;
	if (out == NULL || total > cap)
		return 0;
	for (v = 0; v < nd; v++)
		out[v] = digits[nd - 1 - v];
	out[nd] = ':';
	if (len > 0)
		memcpy(out + nd + 1, payload, len);
	out[nd + 1 + len] = ',';
	return total;
}
