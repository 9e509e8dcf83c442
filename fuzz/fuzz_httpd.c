/* fuzz_httpd.c - the metrics_listen request parser.  Beyond not crashing
 * or reading past the input: the answer is one of the documented codes,
 * a head it accepts lies within the input and the bound, and a prefix
 * gives either "more" (0) or the same answer as the whole input, because
 * the daemon parses again as bytes arrive and must not change its mind. */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpd_request r;
	int code = httpd_parse(data, size, &r), c;
	size_t k, step;

	switch (code) {
	case 0:
		if (size >= HTTPD_REQ_MAX)
			abort();                /* at the bound there must be an answer */
		break;
	case 200: case 404: case 405: case 505:
		if (r.len == 0 || r.len > size || r.len > HTTPD_REQ_MAX || r.methodlen == 0 ||
		    r.targetlen == 0)
			abort();
		break;
	case 400: case 414: case 431:
		break;
	default:
		abort();
	}
	if (code == 200 && (r.methodlen != 3 || memcmp(r.method, "GET", 3) != 0))
		abort();
	step = size / 7 + 1;
	for (k = 0; k < size; k += step) {
		c = httpd_parse(data, k, &r);
		if (c != 0 && c != code)
			abort();
	}
	return 0;
}
