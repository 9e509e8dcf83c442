/* unit.h - the tiny test harness: each CHECK is one counted test.
 * A test program ends with "N passed, M failed" and exits non-zero on failure. */
#ifndef UNIT_H
#define UNIT_H
#include <stdio.h>
#include <string.h>

static int unit_pass, unit_fail;

#define CHECK(cond) do { \
	if (cond) unit_pass++; \
	else { unit_fail++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_INT(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ == w_) unit_pass++; \
	else { unit_fail++; printf("FAIL %s:%d: %s = %lld, want %lld\n", \
	    __FILE__, __LINE__, #got, g_, w_); } \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ != NULL && strcmp(g_, w_) == 0) unit_pass++; \
	else { unit_fail++; printf("FAIL %s:%d: %s = \"%s\", want \"%s\"\n", \
	    __FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_); } \
} while (0)

#define CHECK_MEM(got, gotlen, want) do { \
	const char *w_ = (want); size_t wl_ = strlen(w_); \
	if ((size_t)(gotlen) == wl_ && memcmp((got), w_, wl_) == 0) unit_pass++; \
	else { unit_fail++; printf("FAIL %s:%d: %s = \"%.*s\", want \"%s\"\n", \
	    __FILE__, __LINE__, #got, (int)(gotlen), (const char *)(got), w_); } \
} while (0)

#define UNIT_DONE() do { \
	printf("%d passed, %d failed\n", unit_pass, unit_fail); \
	return unit_fail ? 1 : 0; \
} while (0)

/* Copy s to the end of a page followed by a PROT_NONE guard page, so a read
 * past len faults under any build.  Returns the copy (valid until next call). */
#include <sys/mman.h>
#include <unistd.h>
static inline const unsigned char *
guarded(const void *s, size_t len)
{
	static unsigned char *base;
	static size_t pagesz;
	size_t span;

	if (base == NULL) {
		pagesz = (size_t)sysconf(_SC_PAGESIZE);
		base = mmap(NULL, 32 * pagesz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mprotect(base + 31 * pagesz, pagesz, PROT_NONE);
	}
	span = 31 * pagesz;
	if (len > span)
		len = span;
	memcpy(base + span - len, s, len);
	return base + span - len;
}
#endif
