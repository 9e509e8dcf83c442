/* fuzz_policy.c - policy_parse and policy_answer.  A valid policy holds
 * only clean, distinct, lowercase patterns that policy_answer accepts, and
 * an answer is never "OK" with nothing after it. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

/* a NUL-terminated copy of n bytes of s, in a static buffer */
static char *
strndup_len(const char *s, size_t n)
{
	static char buf[REPLY_MAX];

	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static void
check_answer(const struct policy *p, enum sts_mode mode, int strict, int sni)
{
	static char out[REPLY_MAX];
	const char *mx[MX_MAX], *list, *rest;
	size_t n;
	int i;

	for (i = 0; i < p->nmx; i++)
		mx[i] = p->mx[i];
	memset(out, 0, 32);
	n = policy_answer(mode, p->nmx, mx, strict, sni, out, sizeof out);
	if (n >= 100000 || n >= sizeof out)
		abort();
	if (n == 0) {
		/* every valid policy in force gets an answer */
		if (p->nmx > 0 && (mode == STS_ENFORCE || (mode == STS_TESTING && strict)))
			abort();
		return;
	}
	if (strlen(out) != n || strncmp(out, "OK secure match=", 16) != 0 || n <= 16)
		abort();
	/* the match list: non-empty patterns joined by ':', nothing else */
	list = strndup_len(out + 16, strcspn(out + 16, " "));
	if (list[0] == '\0' || list[0] == ':' || list[strlen(list) - 1] == ':' ||
	    strstr(list, "::") != NULL || strpbrk(list, ",{}=;\t\r\n") != NULL)
		abort();
	/* after it, only the servername attribute */
	rest = out + 16 + strlen(list);
	if (strcmp(rest, sni ? " servername=hostname" : "") != 0)
		abort();
	if (mode != STS_ENFORCE && !(mode == STS_TESTING && strict))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy p;
	struct policy_error err;
	int i, j;

	if (policy_parse(data, size, &p, &err) != 0) {
		char why[200];
		if (err.reason == NULL || err.line < 0 || p.nmx != 0)
			abort();
		/* the explanation quotes only what lies inside the input */
		if (err.value != NULL && (err.value < data || err.valuelen > size ||
		    (size_t)(err.value - data) > size - err.valuelen))
			abort();
		if (policy_error_explain(&err, why, sizeof why) == 0 || strlen(why) >= sizeof why)
			abort();
		return 0;
	}
	if (err.reason != NULL)
		abort();
	if (p.nmx < 0 || p.nmx > MX_MAX || p.max_age > MAX_AGE_MAX)
		abort();
	if (p.mode != STS_NONE && p.mode != STS_TESTING && p.mode != STS_ENFORCE)
		abort();
	if (p.mode != STS_NONE && p.nmx == 0)
		abort();
	for (i = 0; i < p.nmx; i++) {
		const char *m = p.mx[i];
		size_t n = strnlen(m, MX_PATTERN_MAX + 1);

		if (n < 3 || n > MX_PATTERN_MAX || strchr(m, '.') == NULL)
			abort();
		if (strpbrk(m, " \t:,={}\r\n;ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL)
			abort();
		if (strchr(m + (m[0] == '*'), '*') != NULL || m[n - 1] == '.')
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(p.mx[j], m) == 0)
				abort();
	}
	check_answer(&p, p.mode, 0, 1);
	check_answer(&p, p.mode, 1, 0);
	check_answer(&p, STS_ENFORCE, 0, 1);
	check_answer(&p, STS_TESTING, 1, 1);
	check_answer(&p, STS_NONE, 1, 1);
	return 0;
}
