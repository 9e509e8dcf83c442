/*
 * json.c - a JSON text writer into a caller's buffer (pure).
 *
 * The caller writes the structure ("{", ",", "}") with json_raw and the
 * values with json_str / json_int; json_str escapes everything RFC 8259
 * section 7 requires, and any other control or non-ASCII byte, so that
 * names and reasons taken from the network come out as valid JSON.
 * Output that does not fit sets w->over and stops growing; the text is
 * NUL-terminated at every step.
 */
#include <stdio.h>
#include <string.h>

#include "mtasts.h"

void
json_init(struct json *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->over = cap == 0;
	if (cap > 0)
		buf[0] = '\0';
}

static void
json_put(struct json *w, const char *s, size_t n)
{
	if (w->over || n >= w->cap - w->len) {
		w->over = 1;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void
json_raw(struct json *w, const char *s)
{
	json_put(w, s, strlen(s));
}

void
json_str(struct json *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	json_put(w, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			json_put(w, esc, 2);
		} else if (c < 0x20 || c >= 0x7f)
			json_put(w, esc, 6);
		else
			json_put(w, (const char *)&c, 1);
	}
	json_put(w, "\"", 1);
}

void
json_int(struct json *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%lld", (long long)v);

	json_put(w, num, (size_t)n);
}

void
json_key(struct json *w, const char *key)
{
	json_str(w, key, strlen(key));
	json_put(w, ":", 1);
}
