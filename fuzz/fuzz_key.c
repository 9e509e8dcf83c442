/* fuzz_key.c - key_normalize: a KEY_OK result is a valid lowercase LDH
 * policy domain, and normalising it again changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

static void
check_domain(const char *d)
{
	size_t n = strlen(d), i, lab = 0, labels = 0;
	int numeric = 1;

	if (n == 0 || n > POLICY_DOMAIN_MAX)
		abort();
	for (i = 0; i <= n; i++) {
		char c = d[i];

		if (c == '.' || c == '\0') {
			if (lab == 0 || lab > 63 || d[i - 1] == '-')
				abort();
			labels++;
			if (c == '.') {
				lab = 0;
				numeric = 1;
			}
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			abort();
		if (c == '-' && lab == 0)
			abort();
		if (c < '0' || c > '9')
			numeric = 0;
		lab++;
	}
	if (labels < 2 || numeric)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[DOMAIN_MAX + 1], again[DOMAIN_MAX + 1];
	enum key_status st;

	memset(out, 'X', sizeof out);
	st = key_normalize((const char *)data, size, out);
	if (st != KEY_OK) {
		if (st != KEY_PARENT && st != KEY_IP_LITERAL && st != KEY_BAD &&
		    st != KEY_BAD_UTF8 && st != KEY_BAD_IDN)
			abort();
		if (out[0] != '\0')
			abort();
		return 0;
	}
	check_domain(out);
	if (key_normalize(out, strlen(out), again) != KEY_OK || strcmp(out, again) != 0)
		abort();
	return 0;
}
