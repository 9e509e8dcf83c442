/* fuzz_netstring.c - the netstring reader fed in random splits.
 * Byte 0 of the input is the split length; the rest is the stream.  The
 * events seen must not depend on the split, and every result must keep
 * the reader's invariants. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

#define MAX_EVENTS 4096

struct event {
	enum ns_status st;
	size_t len;
	uint32_t hash;
};

static uint32_t
hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (uint8_t)*p++) * 16777619u;
	return h;
}

/* Feed data in pieces of at most step bytes; record what comes out. */
static size_t
run(const uint8_t *data, size_t size, size_t step, struct event *ev)
{
	static struct ns_reader r;
	size_t off = 0, nev = 0, used;

	ns_reader_init(&r);
	while (off < size && nev < MAX_EVENTS) {
		size_t n = size - off < step ? size - off : step, pos = 0;

		while (pos < n && nev < MAX_EVENTS) {
			enum ns_status st = ns_read(&r, data + off + pos, n - pos, &used);

			if (used > n - pos)
				abort();
			pos += used;
			if (st == NS_NEED_MORE) {
				if (pos != n)
					abort();
				break;
			}
			if (st != NS_ERROR &&
			    (r.len > NS_PAYLOAD_MAX || r.payload[r.len] != '\0'))
				abort();
			if (st == NS_OVERSIZE && (r.len != 0 || r.want <= NS_PAYLOAD_MAX ||
			    r.want > NS_DISCARD_MAX))
				abort();
			ev[nev].st = st;
			ev[nev].len = r.len;
			ev[nev].hash = hash(r.payload, r.len);
			nev++;
			if (st == NS_ERROR) {
				/* sticky */
				if (ns_read(&r, (const uint8_t *)"0:,", 3, &used) != NS_ERROR ||
				    used != 0)
					abort();
				return nev;
			}
			if (st != NS_DONE && st != NS_OVERSIZE)
				abort();
			/* what came in goes out again identically */
			{
				static char w[NS_PAYLOAD_MAX + 16];
				static struct ns_reader r2;
				size_t wn = ns_write(w, sizeof w, r.payload, r.len), u2;

				ns_reader_init(&r2);
				if (wn == 0 || ns_read(&r2, (const uint8_t *)w, wn, &u2) != NS_DONE ||
				    u2 != wn || r2.len != r.len ||
				    memcmp(r2.payload, r.payload, r.len) != 0)
					abort();
			}
		}
		off += n;
	}
	return nev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event a[MAX_EVENTS], b[MAX_EVENTS];
	size_t na, nb, i, step;

	if (size < 1)
		return 0;
	step = data[0] == 0 ? 1 : data[0];
	na = run(data + 1, size - 1, step, a);
	nb = run(data + 1, size - 1, size, b);
	if (na != nb)
		abort();
	for (i = 0; i < na; i++)
		if (a[i].st != b[i].st || a[i].len != b[i].len || a[i].hash != b[i].hash)
			abort();
	return 0;
}
