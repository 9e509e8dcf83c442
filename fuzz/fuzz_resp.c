/* fuzz_resp.c - resp_parse over bytes a hostile Redis server could send,
 * and shared_record_parse over values a hostile writer could store.
 * A reply found complete must parse the same from exactly its own bytes,
 * and be incomplete one byte short; items must lie inside the input; a
 * record's id must be an sts-id and its body the input's tail. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

static void
inside(const struct resp_item *it, const uint8_t *data, size_t used)
{
	if (it->s != NULL && (it->s < data || it->s + it->len > data + used))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resp_reply r, again;
	struct shared_record sr;
	const char *why;
	size_t used, used2, i;
	int rc, k;

	rc = resp_parse(data, size, &r, &used);
	if (rc != RESP_OK && rc != RESP_MORE && rc != RESP_BAD)
		abort();
	if (rc == RESP_OK) {
		if (used == 0 || used > size)
			abort();
		inside(&r.top, data, used);
		if (r.nelem > RESP_ELEMS_MAX || (r.nelem > 0 && r.top.type != RESP_ARRAY))
			abort();
		for (k = 0; k < r.nelem; k++)
			inside(&r.elem[k], data, used);
		if (resp_parse(data, used, &again, &used2) != RESP_OK || used2 != used ||
		    again.top.type != r.top.type || again.nelem != r.nelem)
			abort();
		if (resp_parse(data, used - 1, &again, &used2) != RESP_MORE)
			abort();
	}
	if (shared_record_parse(data, size, 2000000000, &sr, &why) == 0) {
		size_t n = strlen(sr.id);
		if (why != NULL || n == 0 || n > TXT_ID_MAX || sr.fetched_wall <= 0 ||
		    sr.body + sr.bodylen != data + size || size > SHARED_RECORD_MAX)
			abort();
		for (i = 0; i < n; i++)
			if (!ascii_isalnum((unsigned char)sr.id[i]))
				abort();
	} else if (why == NULL) {
		abort();
	}
	return 0;
}
