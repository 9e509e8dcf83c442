/* fuzz_idn.c - idn.c: idn_to_ascii of any bytes fails with one of its
 * errors, or gives lowercase LDH labels of 1-63 octets whose xn-- labels
 * decode, and whose Unicode form converts back to the very same name;
 * idn_decode_label of any bytes fails cleanly or re-encodes to them. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

static void
check_ldh(const char *d, size_t n)
{
	size_t i, lab = 0;
	uint32_t cp[IDN_LABEL_CPS];

	if (n == 0 || n > DOMAIN_MAX || strlen(d) != n)
		abort();
	for (i = 0; i <= n; i++) {
		char c = d[i];

		if (c == '.' || c == '\0') {
			if (lab == 0 || lab > LABEL_MAX || d[i - 1] == '-' || d[i - lab] == '-')
				abort();
			if (lab >= 4 && d[i - lab + 2] == '-' && d[i - lab + 3] == '-') {
				int k, m = memcmp(d + i - lab, "xn", 2) != 0 ? -1 :
				    idn_decode_label(d + i - lab + 4, lab - 4, cp, IDN_LABEL_CPS);

				/* an A-label decodes to a U-label: not all ASCII */
				for (k = 0; k < m && cp[k] < 0x80; k++)
					;
				if (m <= 0 || k == m)
					abort();
			}
			lab = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			abort();
		lab++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[DOMAIN_MAX + 1], again[DOMAIN_MAX + 1], uni[DOMAIN_MAX * 4 + 1];
	char enc[LABEL_MAX * 2];
	uint32_t cp[IDN_LABEL_CPS];
	int r, u, n;

	r = idn_to_ascii(data, size, out, sizeof out);
	if (r < 0) {
		if (r != IDN_ERR_SYNTAX && r != IDN_ERR_UTF8 && r != IDN_ERR_LABEL)
			abort();
	} else {
		check_ldh(out, (size_t)r);
		/* the A-label form is a fixed point */
		if (idn_to_ascii((const uint8_t *)out, (size_t)r, again, sizeof again) != r ||
		    strcmp(out, again) != 0)
			abort();
		/* decode every label, encode again: the same name */
		u = idn_to_unicode(out, (size_t)r, uni, sizeof uni);
		if (u < 0 || idn_to_ascii((const uint8_t *)uni, (size_t)u, again, sizeof again) != r ||
		    strcmp(out, again) != 0)
			abort();
	}
	/* any bytes for display, with a short buffer too: never past cap */
	u = idn_to_unicode((const char *)data, size, uni, 16);
	if (u >= 16 || (u >= 0 && uni[u] != '\0'))
		abort();
	(void)idn_to_unicode((const char *)data, size, uni, sizeof uni);
	/* Punycode alone: a decoded label encodes back to the input, up to
	 * the case of its letters (a leading "-" with no basic code points before
	 * it is the one other spelling, so it is left out) */
	n = idn_decode_label((const char *)data, size, cp, IDN_LABEL_CPS);
	if (n > 0 && size <= LABEL_MAX && data[0] != '-') {
		int e = idn_encode_label(cp, (size_t)n, enc, sizeof enc), k;

		if (e != (int)size)
			abort();
		for (k = 0; k < e; k++)
			if (ascii_tolower((unsigned char)enc[k]) != ascii_tolower(data[k]))
				abort();
	}
	return 0;
}
