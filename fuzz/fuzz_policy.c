/* fuzz_policy.c - policy_parse and policy_answer.  A valid policy holds
 * only clean, distinct, lowercase patterns that policy_answer accepts, an
 * answer is never "OK" with nothing after it, and the longest one (TLSRPT
 * attributes on) fits Postfix's NS_REPLY_MAX. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

/* a NUL-terminated copy of n bytes of s, in a static buffer */
static char *
strndup_len(const char *s, size_t n)
{
	static char buf[NS_REPLY_MAX + 1];

	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)) != NULL; s++)
		n++;
	return n;
}

static void
check_answer(const struct policy *p, enum sts_mode mode, int strict, int sni)
{
	static char out[NS_REPLY_MAX + 1], plain[NS_REPLY_MAX + 1];
	struct policy_reply r;
	const char *list, *rest;
	size_t n;

	memset(&r, 0, sizeof r);
	r.mode = mode;
	r.max_age = p->max_age;
	r.mx = p->mx;
	r.mxlen = p->mxlen;
	r.strict_testing = strict;
	r.sni = sni;
	r.domain = "a-very-long-label-to-make-it-longer.example.com";
	memset(out, 0, 32);
	n = policy_answer(&r, plain, sizeof plain);
	if (n > NS_REPLY_MAX || n >= sizeof out)
		abort();
	if (n == 0) {
		/* every valid policy in force gets an answer */
		if (p->nmx > 0 && (mode == STS_ENFORCE || (mode == STS_TESTING && strict)))
			abort();
		return;
	}
	if (strlen(plain) != n || strncmp(plain, "OK secure match=", 16) != 0 || n <= 16)
		abort();
	/* the match list: non-empty patterns joined by ':', nothing else */
	list = strndup_len(plain + 16, strcspn(plain + 16, " "));
	if (list[0] == '\0' || list[0] == ':' || list[strlen(list) - 1] == ':' ||
	    strstr(list, "::") != NULL || strpbrk(list, ",{}=;\t\r\n") != NULL)
		abort();
	/* after it, only the servername attribute */
	rest = plain + 16 + strlen(list);
	if (strcmp(rest, sni ? " servername=hostname" : "") != 0)
		abort();
	if (mode != STS_ENFORCE && !(mode == STS_TESTING && strict))
		abort();
	/* PFX-4: the same, then the TLSRPT attributes; still within bounds */
	r.tlsrpt = 1;
	n = policy_answer(&r, out, sizeof out);
	if (n == 0 || n > NS_REPLY_MAX || n != policy_answer(&r, NULL, 0) ||
	    strncmp(out, plain, strlen(plain)) != 0 ||
	    strncmp(out + strlen(plain), " policy_type=sts policy_domain=", 31) != 0 ||
	    count(out, "mx_host_pattern=") != (size_t)p->nmx ||
	    count(out, "{ policy_string = ") != (size_t)p->nmx + 3 ||
	    count(out, "{") != (size_t)p->nmx + 3 || count(out, "}") != (size_t)p->nmx + 3 ||
	    count(out, "policy_type") != 1 || strpbrk(out, "\r\n\t,;") != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy p;
	struct policy_error err;
	size_t j, k;
	int i;

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
	if (p.nmx < 0 || p.mxlen > sizeof p.mx || p.max_age > MAX_AGE_MAX)
		abort();
	if (p.mode != STS_NONE && p.mode != STS_TESTING && p.mode != STS_ENFORCE)
		abort();
	if (p.mode != STS_NONE && p.nmx == 0)
		abort();
	for (i = 0, k = 0; i < p.nmx; i++, k += strlen(p.mx + k) + 1) {
		const char *m = p.mx + k;
		size_t n;

		if (k >= p.mxlen)
			abort();
		n = strnlen(m, MX_PATTERN_MAX + 1);
		if (n < 3 || n > MX_PATTERN_MAX || strchr(m, '.') == NULL)
			abort();
		if (strpbrk(m, " \t:,={}\r\n;ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL)
			abort();
		if (strchr(m + (m[0] == '*'), '*') != NULL || m[n - 1] == '.')
			abort();
		for (j = 0; j < k; j += strlen(p.mx + j) + 1)
			if (strcmp(p.mx + j, m) == 0)
				abort();
	}
	if (k != p.mxlen)
		abort();
	check_answer(&p, p.mode, 0, 1);
	check_answer(&p, p.mode, 1, 0);
	check_answer(&p, STS_ENFORCE, 0, 1);
	check_answer(&p, STS_TESTING, 1, 1);
	check_answer(&p, STS_NONE, 1, 1);
	return 0;
}
