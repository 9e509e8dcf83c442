/* fortify.c - Debian's libbearssl.a is built with glibc's _FORTIFY_SOURCE,
 * so it calls these checked variants; musl has none.  Only linked into the
 * static musl build. */
#include <stdlib.h>
#include <string.h>

void *__memcpy_chk(void *, const void *, size_t, size_t);
void *__memmove_chk(void *, const void *, size_t, size_t);
void *__memset_chk(void *, int, size_t, size_t);

void *
__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (n > dstlen)
		abort();
	return memcpy(dst, src, n);
}

void *
__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (n > dstlen)
		abort();
	return memmove(dst, src, n);
}

void *
__memset_chk(void *dst, int c, size_t n, size_t dstlen)
{
	if (n > dstlen)
		abort();
	return memset(dst, c, n);
}
