/*
 * shared.c - the record a fetched policy is shared under in Redis: a short
 * header, then the policy body exactly as its policy host served it.
 * Redis is shared and may hold anything, so the reader trusts nothing: it
 * checks the header here, and the caller runs the body through the same
 * policy_parse as a fetch.  Keeping the body, not our parsed form, means
 * no second format to validate and no version skew between instances.
 */
#include <stdio.h>
#include <string.h>

#include "mtasts.h"

size_t
shared_header(char *out, size_t cap, int64_t fetched_wall, const char *id)
{
	int n = snprintf(out, cap, SHARED_MAGIC "%lld %s\n", (long long)fetched_wall, id);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int
shared_record_parse(const uint8_t *v, size_t len, int64_t now_wall,
    struct shared_record *rec, const char **why)
{
	size_t magic = sizeof SHARED_MAGIC - 1, p, sp, nl;
	uint64_t t;

	memset(rec, 0, sizeof *rec);
	*why = "not an mtasts record";
	if (len < magic || memcmp(v, SHARED_MAGIC, magic) != 0)
		return -1;
	*why = "record too large";
	if (len > SHARED_RECORD_MAX)
		return -1;
	*why = "bad record header";
	for (sp = magic; sp < len && v[sp] != ' '; sp++)
		;
	for (nl = sp + 1; nl < len && v[nl] != '\n'; nl++)
		;
	if (sp >= len || nl >= len ||
	    dec_parse((const char *)v + magic, sp - magic, 12, UINT64_MAX, &t) < 0)
		return -1;
	if (nl - sp - 1 < 1 || nl - sp - 1 > TXT_ID_MAX)
		return -1;
	for (p = sp + 1; p < nl; p++)
		if (!ascii_isalnum(v[p]))
			return -1;
	*why = "record dated in the future";
	if ((int64_t)t > now_wall + SHARED_SKEW_SEC || t == 0)
		return -1;
	rec->fetched_wall = (int64_t)t;
	memcpy(rec->id, v + sp + 1, nl - sp - 1);
	rec->body = v + nl + 1;
	rec->bodylen = len - nl - 1;
	*why = NULL;
	return 0;
}
