/* http.c - incremental HTTP/1.1 response parser (pure: no I/O, no malloc)
 *
 * The header section is collected whole into p->hdr (HTTP_HEADER_MAX) and
 * interpreted once its blank line arrives; the body is then framed by
 * Content-Length, chunked coding or connection close and copied into the
 * caller's buffer, never past body_cap.  Everything that is wrong is an
 * HTTP_ERROR with a class (RFC 8460 result type) and a short reason code.
 */
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "mtasts.h"

enum {
	HS_HEAD = 0,       /* status line and header fields */
	HS_BODY_LEN,       /* Content-Length: remaining bytes */
	HS_BODY_CLOSE,     /* body ends at connection close */
	HS_CHUNK_SIZE,     /* chunk-size hex digits */
	HS_CHUNK_WS,       /* whitespace after the size (BWS before ';') */
	HS_CHUNK_EXT,      /* chunk extensions: ignored up to the line end */
	HS_CHUNK_LF,       /* CR seen at the end of a chunk-size line */
	HS_CHUNK_DATA,
	HS_CHUNK_END,      /* CRLF after chunk data */
	HS_CHUNK_END_LF,
	HS_TRAILER,        /* at the start of a trailer line */
	HS_TRAILER_LINE,   /* inside a trailer line: ignored */
	HS_TRAILER_LF,     /* CR of the final empty line seen */
	HS_DONE,
	HS_ERROR
};

enum { FRAME_NONE = 0, FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

const char *
http_class_str(enum fetch_class c)
{
	switch (c) {
	case FETCH_OK:         return "ok";
	case FETCH_ERR_FETCH:  return "sts-policy-fetch-error";
	case FETCH_ERR_WEBPKI: return "sts-webpki-invalid";
	case FETCH_ERR_POLICY: return "sts-policy-invalid";
	}
	return "unknown";
}

void
http_init(struct http_parser *p, uint8_t *body, size_t body_cap)
{
	/* everything but the header buffer, whose untouched pages stay so */
	memset(p, 0, offsetof(struct http_parser, hdr));
	p->state = HS_HEAD;
	p->body = body;
	p->body_cap = body_cap;
	p->err_class = FETCH_OK;
}

/* The reason codes in words, for p->why */
static const struct {
	const char *reason, *why;
} http_why[] = {
	{ "bad-header", "HTTP response with a malformed header line" },
	{ "too-many-fields", "HTTP response with more than 64 header fields" },
	{ "te-and-content-length", "HTTP response with both Transfer-Encoding and Content-Length" },
	{ "bad-transfer-encoding", "HTTP Transfer-Encoding other than chunked" },
	{ "bad-content-length", "HTTP Content-Length not a number" },
	{ "body-too-large", "body over 64 KiB" },
	{ "content-encoding", "HTTP Content-Encoding other than identity (compressed body)" },
	{ "content-type-missing", "no Content-Type (must be text/plain)" },
	{ "bad-status-line", "no HTTP/1.x status line" },
	{ "too-many-interim", "more than 8 interim (1xx) HTTP responses" },
	{ "header-too-large", "HTTP header over 8 KiB" },
	{ "bad-chunk", "HTTP chunked coding broken" },
	{ "no-close-notify", "connection closed without TLS close_notify before the body ended" },
	{ "empty-response", "connection closed without an HTTP response" },
	{ "truncated", "connection closed before the HTTP response was complete" },
};

static enum http_status
http_fail(struct http_parser *p, enum fetch_class c, const char *reason)
{
	size_t i;

	p->state = HS_ERROR;
	p->err_class = c;
	strlcpy_m(p->reason, reason, sizeof p->reason);
	strlcpy_m(p->why, reason, sizeof p->why);
	for (i = 0; i < sizeof http_why / sizeof http_why[0]; i++)
		if (strcmp(http_why[i].reason, reason) == 0)
			strlcpy_m(p->why, http_why[i].why, sizeof p->why);
	return HTTP_ERROR;
}

/* s[0..n) equals the lowercase word w, ASCII case-insensitively */
static int
eq_word(const uint8_t *s, size_t n, const char *w)
{
	size_t i;

	if (n != strlen(w))
		return 0;
	for (i = 0; i < n; i++)
		if (ascii_tolower(s[i]) != w[i])
			return 0;
	return 1;
}

/* RFC 9110 5.6.2 tchar */
static int
is_tchar(int c)
{
	if (ascii_isalnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Trim OWS on both ends of [*s, *e). */
static void
trim(const uint8_t **s, const uint8_t **e)
{
	while (*s < *e && ascii_isblank(**s))
		(*s)++;
	while (*e > *s && ascii_isblank((*e)[-1]))
		(*e)--;
}

/* Next element of a comma-separated list starting at *pos, trimmed; empty
 * elements are returned too (*pos becomes NULL after the last one). */
static int
list_next(const uint8_t **pos, const uint8_t *end, const uint8_t **s, const uint8_t **e)
{
	const uint8_t *c;

	if (*pos == NULL)
		return 0;
	c = memchr(*pos, ',', (size_t)(end - *pos));
	*s = *pos;
	*e = c != NULL ? c : end;
	trim(s, e);
	*pos = c != NULL ? c + 1 : NULL;
	return 1;
}

/* Facts gathered from the header fields of the final response. */
struct head_info {
	int te_seen, te_chunked, te_other;
	int cl_seen, cl_bad;
	uint64_t cl;
	int ct_seen, ct_bad;
	const uint8_t *ct;         /* the media type, for p->why */
	size_t ctlen;
	int ce_bad;
};

static void
field_te(struct head_info *h, const uint8_t *v, const uint8_t *end)
{
	const uint8_t *s, *e;

	h->te_seen = 1;
	while (list_next(&v, end, &s, &e)) {
		if (s == e)
			continue;       /* empty list elements are allowed */
		if (eq_word(s, (size_t)(e - s), "chunked"))
			h->te_chunked++;
		else
			h->te_other++;
	}
}

static void
field_cl(struct head_info *h, const uint8_t *v, const uint8_t *end)
{
	const uint8_t *s, *e;
	uint64_t n;

	while (list_next(&v, end, &s, &e)) {
		if (s == e) {
			h->cl_bad = 1;
			continue;
		}
		/* saturate: any huge value is simply too large */
		for (n = 0; s < e; s++) {
			if (!ascii_isdigit(*s)) {
				h->cl_bad = 1;
				break;
			}
			n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(*s - '0');
		}
		if (h->cl_seen && n != h->cl)
			h->cl_bad = 1;
		h->cl_seen = 1;
		h->cl = n;
	}
}

/* Only the media type matters; parameters (charset...) are not checked
 * since the policy parser works on bytes anyway. */
static void
field_ct(struct head_info *h, const uint8_t *v, const uint8_t *end)
{
	const uint8_t *semi = memchr(v, ';', (size_t)(end - v));
	const uint8_t *e = semi != NULL ? semi : end;

	h->ct_seen = 1;
	trim(&v, &e);
	if (!eq_word(v, (size_t)(e - v), "text/plain") && !h->ct_bad) {
		h->ct_bad = 1;
		h->ct = v;
		h->ctlen = (size_t)(e - v);
	}
}

static void
field_ce(struct head_info *h, const uint8_t *v, const uint8_t *end)
{
	const uint8_t *s, *e;

	while (list_next(&v, end, &s, &e))
		if (s != e && !eq_word(s, (size_t)(e - s), "identity"))
			h->ce_bad = 1;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]"; returns the code or -1 */
static int
status_line(const uint8_t *s, size_t n)
{
	size_t i;

	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !ascii_isdigit(s[7]) ||
	    s[8] != ' ')
		return -1;
	for (i = 9; i < 12; i++)
		if (!ascii_isdigit(s[i]))
			return -1;
	if (n > 12 && s[12] != ' ')
		return -1;
	for (i = 12; i < n; i++)
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return -1;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

/* One field line [s, e) without its line end: "name:" OWS value OWS. */
static enum http_status
field_line(struct http_parser *p, struct head_info *h, const uint8_t *s, const uint8_t *e)
{
	const uint8_t *name = s, *v;
	size_t nlen;

	while (s < e && is_tchar(*s))
		s++;
	nlen = (size_t)(s - name);
	/* whitespace before the colon is refused (request smuggling) */
	if (nlen == 0 || s == e || *s != ':')
		return http_fail(p, FETCH_ERR_FETCH, "bad-header");
	v = s + 1;
	for (s = v; s < e; s++)
		if (*s == '\0' || *s == '\r' || *s == '\n')
			return http_fail(p, FETCH_ERR_FETCH, "bad-header");
	trim(&v, &e);
	if (++p->nfields > HTTP_FIELDS_MAX)
		return http_fail(p, FETCH_ERR_FETCH, "too-many-fields");
	if (eq_word(name, nlen, "transfer-encoding"))
		field_te(h, v, e);
	else if (eq_word(name, nlen, "content-length"))
		field_cl(h, v, e);
	else if (eq_word(name, nlen, "content-type"))
		field_ct(h, v, e);
	else if (eq_word(name, nlen, "content-encoding"))
		field_ce(h, v, e);
	/* everything else, caching fields included, is ignored (HTTP-11) */
	return HTTP_NEED_MORE;
}

/* Decide how the body is framed once the fields are known. */
static enum http_status
head_framing(struct http_parser *p, const struct head_info *h)
{
	if (h->te_seen && h->cl_seen)
		return http_fail(p, FETCH_ERR_FETCH, "te-and-content-length");
	if (h->te_seen && (h->te_other > 0 || h->te_chunked != 1))
		return http_fail(p, FETCH_ERR_FETCH, "bad-transfer-encoding");
	if (h->cl_bad)
		return http_fail(p, FETCH_ERR_FETCH, "bad-content-length");
	if (h->cl_seen && h->cl > p->body_cap)
		return http_fail(p, FETCH_ERR_FETCH, "body-too-large");
	if (h->ce_bad)
		return http_fail(p, FETCH_ERR_POLICY, "content-encoding");
	if (!h->ct_seen)
		return http_fail(p, FETCH_ERR_POLICY, "content-type-missing");
	if (h->ct_bad) {
		char t[48];
		http_fail(p, FETCH_ERR_POLICY, "content-type");
		snprintf(p->why, sizeof p->why, "Content-Type %s (must be text/plain)",
		    h->ctlen == 0 ? "empty" : log_safe(h->ct, h->ctlen, t, sizeof t));
		return HTTP_ERROR;
	}
	if (h->te_seen) {
		p->framing = FRAME_CHUNKED;
		p->state = HS_CHUNK_SIZE;
		p->ndigits = 0;
		p->remaining = 0;
		p->linelen = 0;
	} else if (h->cl_seen) {
		p->framing = FRAME_LENGTH;
		p->remaining = h->cl;
		p->state = h->cl == 0 ? HS_DONE : HS_BODY_LEN;
	} else {
		p->framing = FRAME_CLOSE;
		p->state = HS_BODY_CLOSE;
	}
	return p->state == HS_DONE ? HTTP_DONE : HTTP_NEED_MORE;
}

/* The whole header section is in hdr[0..hdrlen), every line ending in LF,
 * the last line empty. */
static enum http_status
head_done(struct http_parser *p)
{
	uint8_t *h = p->hdr, *end = p->hdr + p->hdrlen, *s, *e, *lf;
	struct head_info info;
	size_t i;
	int code;

	/* the status line */
	lf = memchr(h, '\n', p->hdrlen);
	e = lf > h && lf[-1] == '\r' ? lf - 1 : lf;
	code = status_line(h, (size_t)(e - h));
	if (code < 0)
		return http_fail(p, FETCH_ERR_FETCH, "bad-status-line");
	if (code >= 100 && code < 200 && code != 101) {
		if (++p->interim > HTTP_INTERIM_MAX)
			return http_fail(p, FETCH_ERR_FETCH, "too-many-interim");
		p->hdrlen = 0;
		p->linestart = 0;
		return HTTP_NEED_MORE;
	}
	p->status_code = code;
	if (code != 200) {
		char r[32];
		snprintf(r, sizeof r, "http-status-%03d", code);
		http_fail(p, FETCH_ERR_FETCH, r);
		if (code >= 300 && code < 400)
			snprintf(p->why, sizeof p->why, "HTTP %03d (redirects are not followed)", code);
		else
			snprintf(p->why, sizeof p->why, "HTTP %03d (not 200)", code);
		return HTTP_ERROR;
	}

	/* obs-fold: a line starting with SP/HTAB continues the previous
	 * field; its line end becomes SP.  None may follow the status line. */
	if (ascii_isblank(lf[1]))
		return http_fail(p, FETCH_ERR_FETCH, "bad-header");
	for (i = (size_t)(lf - h) + 1; i + 1 < p->hdrlen; i++) {
		if (h[i] == '\n' && ascii_isblank(h[i + 1])) {
			h[i] = ' ';
			if (h[i - 1] == '\r')
				h[i - 1] = ' ';
		}
	}

	memset(&info, 0, sizeof info);
	p->nfields = 0;
	for (s = lf + 1; s < end; s = lf + 1) {
		lf = memchr(s, '\n', (size_t)(end - s));
		e = lf > s && lf[-1] == '\r' ? lf - 1 : lf;
		if (e == s)
			break;          /* the blank line */
		if (field_line(p, &info, s, e) == HTTP_ERROR)
			return HTTP_ERROR;
	}
	return head_framing(p, &info);
}

/* Collect header bytes up to and including the blank line. */
static size_t
head_bytes(struct http_parser *p, const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		size_t n;

		if (p->hdrlen >= sizeof p->hdr) {
			http_fail(p, FETCH_ERR_FETCH, "header-too-large");
			return i;
		}
		p->hdr[p->hdrlen++] = buf[i];
		if (buf[i] != '\n')
			continue;
		n = p->hdrlen - 1 - p->linestart;   /* line length without LF */
		if (n == 0 || (n == 1 && p->hdr[p->linestart] == '\r')) {
			if (p->linestart == 0) {
				/* an empty first line: no status line at all */
				http_fail(p, FETCH_ERR_FETCH, "bad-status-line");
				return i + 1;
			}
			head_done(p);
			return i + 1;
		}
		p->linestart = p->hdrlen;
	}
	return len;
}

static int
body_put(struct http_parser *p, const uint8_t *buf, size_t n)
{
	if (n > p->body_cap - p->body_len) {
		http_fail(p, FETCH_ERR_FETCH, "body-too-large");
		return -1;
	}
	memcpy(p->body + p->body_len, buf, n);
	p->body_len += n;
	return 0;
}

/* A chunk-size line is complete. */
static void
chunk_size_done(struct http_parser *p)
{
	p->linelen = 0;
	if (p->remaining == 0) {
		p->state = HS_TRAILER;
	} else if (p->remaining > p->body_cap - p->body_len) {
		http_fail(p, FETCH_ERR_FETCH, "body-too-large");
	} else {
		p->state = HS_CHUNK_DATA;
	}
}

/* One byte of chunked framing outside chunk data. */
/* A byte of a chunk-size line: size, blanks, extension, CRLF.  0, or -1
 * for a byte the line cannot hold. */
static int
chunk_size_byte(struct http_parser *p, uint8_t c)
{
	int v;

	switch (p->state) {
	case HS_CHUNK_SIZE:
		if ((v = ascii_hexval(c)) >= 0) {
			if (++p->ndigits > HTTP_CHUNK_DIGITS_MAX)
				return -1;
			p->remaining = p->remaining * 16 + (uint64_t)v;
			return 0;
		}
		if (p->ndigits == 0)
			return -1;
		/* FALLTHROUGH */
	case HS_CHUNK_WS:
		if (ascii_isblank(c))
			p->state = HS_CHUNK_WS;
		else if (c == ';')
			p->state = HS_CHUNK_EXT;
		else if (c == '\r')
			p->state = HS_CHUNK_LF;
		else if (c == '\n')
			chunk_size_done(p);
		else
			return -1;
		return 0;
	case HS_CHUNK_EXT:
		if (c == '\r')
			p->state = HS_CHUNK_LF;
		else if (c == '\n')
			chunk_size_done(p);
		return 0;
	default:        /* HS_CHUNK_LF */
		if (c != '\n')
			return -1;
		chunk_size_done(p);
		return 0;
	}
}

/* A byte of the trailer section, which is skipped up to its empty line.
 * 0, or -1 for a CR without its LF. */
static int
trailer_byte(struct http_parser *p, uint8_t c)
{
	switch (p->state) {
	case HS_TRAILER:
		if (c == '\r')
			p->state = HS_TRAILER_LF;
		else if (c == '\n')
			p->state = HS_DONE;
		else
			p->state = HS_TRAILER_LINE;
		return 0;
	case HS_TRAILER_LINE:
		if (c == '\n')
			p->state = HS_TRAILER;
		return 0;
	default:        /* HS_TRAILER_LF */
		if (c != '\n')
			return -1;
		p->state = HS_DONE;
		return 0;
	}
}

/* One byte of chunked framing outside chunk data. */
static void
chunk_byte(struct http_parser *p, uint8_t c)
{
	int rc = -1;

	/* chunk-size lines and the trailer section are bounded */
	if (++p->linelen > HTTP_HEADER_MAX) {
		http_fail(p, FETCH_ERR_FETCH, p->state >= HS_TRAILER ?
		    "header-too-large" : "bad-chunk");
		return;
	}
	switch (p->state) {
	case HS_CHUNK_SIZE:
	case HS_CHUNK_WS:
	case HS_CHUNK_EXT:
	case HS_CHUNK_LF:
		rc = chunk_size_byte(p, c);
		break;
	case HS_CHUNK_END:      /* the CRLF after a chunk's data */
		if (c == '\r') {
			p->state = HS_CHUNK_END_LF;
			return;
		}
		/* FALLTHROUGH */
	case HS_CHUNK_END_LF:
		if (c != '\n')
			break;
		p->state = HS_CHUNK_SIZE;
		p->ndigits = 0;
		p->remaining = 0;
		p->linelen = 0;
		return;
	case HS_TRAILER:
	case HS_TRAILER_LINE:
	case HS_TRAILER_LF:
		rc = trailer_byte(p, c);
		break;
	}
	if (rc < 0)
		http_fail(p, FETCH_ERR_FETCH, "bad-chunk");
}

enum http_status
http_feed(struct http_parser *p, const uint8_t *buf, size_t len, size_t *used)
{
	size_t i = 0, n;

	if (len > 0)
		p->seen = 1;
	while (i < len && p->state != HS_DONE && p->state != HS_ERROR) {
		switch (p->state) {
		case HS_HEAD:
			i += head_bytes(p, buf + i, len - i);
			break;
		case HS_BODY_LEN:
		case HS_CHUNK_DATA:
			n = len - i;
			if (n > p->remaining)
				n = (size_t)p->remaining;
			if (body_put(p, buf + i, n) < 0)
				break;
			i += n;
			p->remaining -= n;
			if (p->remaining == 0)
				p->state = p->state == HS_BODY_LEN ? HS_DONE : HS_CHUNK_END;
			break;
		case HS_BODY_CLOSE:
			n = len - i;
			if (body_put(p, buf + i, n) < 0)
				break;
			i += n;
			break;
		default:
			chunk_byte(p, buf[i++]);
			break;
		}
	}
	*used = i;
	if (p->state == HS_DONE)
		return HTTP_DONE;
	return p->state == HS_ERROR ? HTTP_ERROR : HTTP_NEED_MORE;
}

enum http_status
http_eof(struct http_parser *p, int clean)
{
	switch (p->state) {
	case HS_DONE:
		return HTTP_DONE;
	case HS_ERROR:
		return HTTP_ERROR;
	case HS_BODY_CLOSE:
		/* a close-delimited body counts only with close_notify (TLS-8) */
		if (clean) {
			p->state = HS_DONE;
			return HTTP_DONE;
		}
		return http_fail(p, FETCH_ERR_FETCH, "no-close-notify");
	case HS_HEAD:
		if (!p->seen)
			return http_fail(p, FETCH_ERR_FETCH, "empty-response");
		break;
	}
	return http_fail(p, FETCH_ERR_FETCH, "truncated");
}
