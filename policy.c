/* policy.c - MTA-STS TXT record rules, policy file parser, Postfix answer
 *
 * Everything here is pure: functions over (buf, len) and caller storage.
 * The grammar is RFC 8461 sections 3.1 and 3.2, applied strictly; where
 * the RFC leaves room, docs/requirements.md (TXT, POL, PFX) decides.
 */
#include <stdio.h>
#include <string.h>

#include "mtasts.h"

/* ---- TXT record (RFC 8461 3.1) --------------------------------------- */

static const char sts_version[] = "v=STSv1";
#define STS_VERSION_LEN (sizeof sts_version - 1)

/* The selection filter (TXT-3): "v=STSv1" *WSP ";".  Only records that
 * pass it compete for "exactly one"; "v=STSv10;" or "V=STSv1" do not. */
static int
txt_is_sts(const uint8_t *buf, size_t len)
{
	size_t i = STS_VERSION_LEN;

	if (len < STS_VERSION_LEN || memcmp(buf, sts_version, STS_VERSION_LEN) != 0)
		return 0;
	while (i < len && ascii_isblank(buf[i]))
		i++;
	return i < len && buf[i] == ';';
}

/* extension name: ALNUM then up to 31 of ALNUM "_" "-" "." */
static int
ext_name_char(unsigned c)
{
	return ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
}

/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): no space, ";" or "=" */
static int
txt_value_char(unsigned c)
{
	return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

static int
txt_err(struct txt_error *err, enum txt_why why, size_t n)
{
	err->why = why;
	err->n = n;
	return -1;
}

/* One field at buf[*pos]: name "=" value, *pos moved past it.  The first
 * id= goes to id (RFC 8461 3.2, last paragraph); names are case-sensitive,
 * so "ID=" is an extension.  0, or -1 with *err if it breaks the ABNF. */
static int
txt_field(const uint8_t *buf, size_t len, size_t *pos, char id[TXT_ID_MAX + 1], int *have_id,
    struct txt_error *err)
{
	size_t i = *pos, s = i, v;

	if (!ascii_isalnum(buf[i]))
		return txt_err(err, TXT_WHY_SYNTAX, i + 1);
	for (i++; i < len && ext_name_char(buf[i]); i++)
		if (i - s >= TXT_EXT_NAME_MAX)
			return txt_err(err, TXT_WHY_SYNTAX, i + 1);
	if (i == len || buf[i] != '=')
		return txt_err(err, TXT_WHY_SYNTAX, i + 1);
	v = ++i;
	if (i - s == 3 && buf[s] == 'i' && buf[s + 1] == 'd') {
		while (i < len && ascii_isalnum(buf[i]))
			i++;
		if (i < len && buf[i] != ';' && !ascii_isblank(buf[i]))
			return txt_err(err, TXT_WHY_ID_CHAR, i + 1);
		if (i == v)
			return txt_err(err, TXT_WHY_ID_EMPTY, 0);
		if (i - v > TXT_ID_MAX)
			return txt_err(err, TXT_WHY_ID_LONG, i - v);
		if (!*have_id) {
			memcpy(id, buf + v, i - v);
			id[i - v] = '\0';
			*have_id = 1;
		}
	} else {
		while (i < len && txt_value_char(buf[i]))
			i++;
		if (i == v)
			return txt_err(err, TXT_WHY_SYNTAX, i + 1);
	}
	*pos = i;
	return 0;
}

int
policy_txt_record(const uint8_t *buf, size_t len, char id[TXT_ID_MAX + 1])
{
	struct txt_error err;

	return policy_txt_check(buf, len, id, &err);
}

int
policy_txt_check(const uint8_t *buf, size_t len, char id[TXT_ID_MAX + 1],
    struct txt_error *err)
{
	size_t i = STS_VERSION_LEN;
	int fields = 0, have_id = 0;

	id[0] = '\0';
	err->why = TXT_WHY_OK;
	err->n = 0;
	if (buf == NULL || !txt_is_sts(buf, len))
		return 0;
	/* 1*(sts-field-delim sts-field) [sts-field-delim] */
	for (;;) {
		/* a delimiter: *WSP ";" *WSP; only a field may end the record
		 * without one, so "id=a " is invalid (strict ABNF) */
		if (i == len && fields > 0)
			break;
		while (i < len && ascii_isblank(buf[i]))
			i++;
		if (i == len || buf[i] != ';') {
			txt_err(err, TXT_WHY_SYNTAX, i + 1);
			goto bad;
		}
		i++;
		while (i < len && ascii_isblank(buf[i]))
			i++;
		if (i == len)
			break;          /* the optional trailing delimiter */
		if (txt_field(buf, len, &i, id, &have_id, err) < 0)
			goto bad;
		fields++;
	}
	if (fields == 0 || !have_id) {
		txt_err(err, TXT_WHY_NO_ID, 0);
		goto bad;
	}
	return 1;
bad:
	id[0] = '\0';
	return -1;
}

/* For a record cut short (too_long): could its start be an STSv1
 * record?  True when it passes the filter, or is too short to tell. */
static int
txt_maybe_sts(const uint8_t *p, size_t len)
{
	size_t i = len < STS_VERSION_LEN ? len : STS_VERSION_LEN;

	if (memcmp(p, sts_version, i) != 0)
		return 0;
	while (i < len && ascii_isblank(p[i]))
		i++;
	return i == len || p[i] == ';';
}

/*
 * TXT-3: among the records that pass the filter exactly one may remain,
 * and it must be valid.  A record longer than TXT_RECORD_MAX is invalid;
 * it competes as an STSv1 record unless what is stored of it shows that
 * it is something else.
 */
enum txt_status
policy_txt_select(const struct dns_result *r, char id[TXT_ID_MAX + 1], struct txt_error *err)
{
	char tmp[TXT_ID_MAX + 1];
	struct txt_error e, first = { TXT_WHY_OK, 0 };
	int i, n, sts = 0, valid = 0;

	id[0] = '\0';
	if (err == NULL)
		err = &e;
	err->why = TXT_WHY_NO_STS;
	err->n = 0;
	if (r == NULL)
		return TXT_NONE;
	n = r->ntxt;
	if (n > DNS_TXT_MAX)
		n = DNS_TXT_MAX;
	for (i = 0; i < n; i++) {
		const struct dns_txt_rr *t = &r->txt[i];
		const uint8_t *p;
		size_t len = t->len;
		int rc;

		if ((size_t)t->off > sizeof r->txtbuf ||
		    len > sizeof r->txtbuf - t->off) {
			if (sts++ == 0) /* unreadable: count it as a broken one */
				first.why = TXT_WHY_SYNTAX;
			continue;
		}
		p = r->txtbuf + t->off;
		if (t->too_long) {
			if (txt_maybe_sts(p, len) && sts++ == 0) {
				first.why = TXT_WHY_TOO_LONG;
				first.n = TXT_RECORD_MAX;
			}
			continue;
		}
		rc = policy_txt_check(p, len, tmp, &e);
		if (rc == 0)
			continue;
		if (sts++ == 0)
			first = e;
		if (rc == 1 && valid++ == 0)
			memcpy(id, tmp, sizeof tmp);
	}
	if (sts == 1 && valid == 1) {
		err->why = TXT_WHY_OK;
		return TXT_FOUND;
	}
	if (sts > 1) {
		err->why = TXT_WHY_MANY;
		err->n = (size_t)sts;
	} else if (sts == 1) {
		*err = first;
	}
	id[0] = '\0';
	return TXT_NONE;
}

/* ---- policy file (RFC 8461 3.2) ---------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n <= need || p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return need + 1;
}

/*
 * sts-policy-mx-value = ["*."] Domain.  LDH labels of 1-63 octets, no
 * hyphen at either end, A-labels only.  One trailing dot is dropped, the
 * result is lowercase.  At least two labels after "*.", and no numeric
 * last label, which keeps IPv4-looking values and Postfix's strategy
 * words (nexthop, dot-nexthop, hostname) out of match= (POL-9).
 * Returns the pattern length, or 0 if invalid.
 */
static size_t
mx_pattern(const uint8_t *v, size_t n, char out[MX_PATTERN_MAX + 1])
{
	size_t i, o = 0, lab = 0, labels = 0, start = 0;
	int numeric = 1;

	if (n > 0 && v[n - 1] == '.')
		n--;
	if (n >= 2 && v[0] == '*' && v[1] == '.') {
		out[o++] = '*';
		out[o++] = '.';
		start = 2;
	}
	if (n == start || n - start > DOMAIN_MAX)
		return 0;
	for (i = start; i <= n; i++) {
		unsigned c = i < n ? v[i] : '.';

		if (c == '.') {
			if (lab == 0 || v[i - 1] == '-')
				return 0;
			labels++;
			if (i < n) {
				lab = 0;
				numeric = 1;
			}
		} else if (ascii_isalnum(c) || (c == '-' && lab > 0)) {
			if (++lab > LABEL_MAX)
				return 0;
			if (!ascii_isdigit(c))
				numeric = 0;
		} else
			return 0;
		if (i < n)
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	if (labels < 2 || numeric)
		return 0;
	out[o] = '\0';
	return o;
}

/* max_age: 1*10 DIGIT, nothing else; clamped to MAX_AGE_MAX (POL-8) */
static int
parse_max_age(const uint8_t *v, size_t n, uint32_t *out)
{
	uint64_t x;

	if (dec_parse((const char *)v, n, MAX_AGE_DIGITS, UINT64_MAX, &x) < 0)
		return -1;
	*out = x > MAX_AGE_MAX ? MAX_AGE_MAX : (uint32_t)x;
	return 0;
}

static int
value_is(const uint8_t *v, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(v, s, n) == 0;
}

static int
name_is(const uint8_t *p, size_t n, const char *s)
{
	return value_is(p, n, s);
}

#define SEEN_VERSION 1
#define SEEN_MODE    2
#define SEEN_MAX_AGE 4

/*
 * One line without its terminator, taken apart: 0 for a line that carries
 * nothing, 1 for a field with its name p[0..*nn) and its value *v[0..*vn)
 * (surrounding WSP removed), -1 with *why for a line that breaks the
 * grammar or holds bytes no policy may hold.
 */
static int
policy_line_split(const uint8_t *p, size_t n, size_t *nn, const uint8_t **v, size_t *vn,
    const char **why)
{
	size_t i, s;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r')
			return *why = "bare CR", -1;
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return *why = "control character", -1;
	}
	/* [D] blank lines, and lines of only WSP, carry nothing: skip them */
	for (i = 0; i < n && ascii_isblank(p[i]); i++)
		;
	if (i == n)
		return 0;
	/* name ":" with no WSP before the name or the colon */
	*why = "malformed line";
	if (!ascii_isalnum(p[0]))
		return -1;
	for (*nn = 1; *nn < n && ext_name_char(p[*nn]); (*nn)++)
		if (*nn >= POLICY_NAME_MAX)
			return -1;
	if (*nn == n || p[*nn] != ':')
		return -1;
	/* value: after *WSP, without trailing WSP */
	for (i = *nn + 1; i < n && ascii_isblank(p[i]); i++)
		;
	*v = p + i;
	*vn = n - i;
	while (*vn > 0 && ascii_isblank((*v)[*vn - 1]))
		(*vn)--;
	for (i = 0; i < *vn; i += s)
		if ((s = utf8_seq(*v + i, *vn - i)) == 0)
			return *why = "bad utf-8", -1;
	return 1;
}

/* What an invalid mx value looks like to a person (POL-9) */
static const char *
mx_why(const uint8_t *v, size_t n)
{
	size_t i;
	int digits_dots = n > 0;

	for (i = 0; i < n; i++) {
		if (v[i] == ':' || v[i] == '[')
			return "is an IP address";
		if (ascii_isblank(v[i]))
			return "has a space in it";
		if (!ascii_isdigit(v[i]) && v[i] != '.')
			digits_dots = 0;
	}
	if (n == 0)
		return "is empty";
	return digits_dots ? "is an IP address" : "is not a host name";
}

static int
all_digits(const uint8_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!ascii_isdigit(v[i]))
			return 0;
	return n > 0;
}

static const char *
perr(struct policy_error *err, const char *reason, const char *text)
{
	err->reason = reason;
	err->text = text;
	return reason;
}

/* Too big for Postfix (PFX-8): its longest answer passes NS_REPLY_MAX */
static const char *
too_big(struct policy_error *err)
{
	return perr(err, "too many mx",
	    "the answer to Postfix would pass its 100000-byte limit");
}

/* An mx field: every one is checked, repeated or not, so one bad one
 * spoils all; repeats are dropped.  Each pattern of n bytes adds at least
 * 3 (n + 1) + 39 bytes to the longest answer (match=, mx_host_pattern=,
 * policy_string): past NS_REPLY_MAX on that count alone the policy is
 * refused at once, which also bounds the repeat search.  NULL or the
 * error reason. */
static const char *
policy_mx(const uint8_t *v, size_t vn, struct policy *out, struct policy_error *err)
{
	char pat[MX_PATTERN_MAX + 1];
	size_t plen = mx_pattern(v, vn, pat), k;

	if (plen == 0) {
		err->value = v;
		err->valuelen = vn;
		return perr(err, "bad mx", mx_why(v, vn));
	}
	for (k = 0; k < out->mxlen; k += strlen(out->mx + k) + 1)
		if (strcmp(out->mx + k, pat) == 0)
			return NULL;
	if (out->mxlen + plen + 1 > sizeof out->mx ||
	    3 * (out->mxlen + plen + 1) + 39 * ((size_t)out->nmx + 1) > NS_REPLY_MAX)
		return too_big(err);
	memcpy(out->mx + out->mxlen, pat, plen + 1);
	out->mxlen += plen + 1;
	out->nmx++;
	return NULL;
}

/* One field into out.  Repeated non-mx fields: the first wins, later ones
 * are ignored.  NULL or the error reason (with err filled). */
static const char *
policy_field(const uint8_t *p, size_t nn, const uint8_t *v, size_t vn, struct policy *out,
    int *seen, struct policy_error *err)
{
	if (name_is(p, nn, "mx"))
		return policy_mx(v, vn, out, err);
	if (name_is(p, nn, "version")) {
		if (*seen & SEEN_VERSION)
			return NULL;
		if (!value_is(v, vn, "STSv1"))
			return perr(err, "bad version", "version is not STSv1");
		*seen |= SEEN_VERSION;
		return NULL;
	}
	if (name_is(p, nn, "mode")) {
		if (*seen & SEEN_MODE)
			return NULL;
		if (value_is(v, vn, "enforce"))
			out->mode = STS_ENFORCE;
		else if (value_is(v, vn, "testing"))
			out->mode = STS_TESTING;
		else if (value_is(v, vn, "none"))
			out->mode = STS_NONE;
		else
			return perr(err, "bad mode", "mode is not enforce, testing or none");
		*seen |= SEEN_MODE;
		return NULL;
	}
	if (name_is(p, nn, "max_age")) {
		if (*seen & SEEN_MAX_AGE)
			return NULL;
		if (parse_max_age(v, vn, &out->max_age) < 0)
			return perr(err, "bad max_age", all_digits(v, vn) ?
			    "max_age has more than 10 digits" : "max_age not a number");
		*seen |= SEEN_MAX_AGE;
		return NULL;
	}
	/* an extension: accepted and ignored, but it needs a value (ABNF) */
	if (vn == 0)
		return perr(err, "empty value", "a field without a value");
	return NULL;
}

/* One line without its terminator.  Returns NULL or the error reason. */
static const char *
policy_line(const uint8_t *p, size_t n, struct policy *out, int *seen,
    struct policy_error *err)
{
	static const struct { const char *reason, *text; } split_text[] = {
		{ "bare CR", "a CR that does not end the line" },
		{ "control character", "a control character" },
		{ "malformed line", "not a 'name: value' line" },
		{ "bad utf-8", "not UTF-8 text" },
	};
	const uint8_t *v = NULL;
	const char *why = NULL;
	size_t nn = 0, vn = 0, k;
	int r = policy_line_split(p, n, &nn, &v, &vn, &why);

	if (r < 0) {
		for (k = 0; k < sizeof split_text / sizeof split_text[0]; k++)
			if (split_text[k].reason == why)
				return perr(err, why, split_text[k].text);
		return perr(err, why, why);
	}
	if (r == 0)
		return NULL;
	return policy_field(p, nn, v, vn, out, seen, err);
}

static size_t policy_answer_max(const struct policy *p);

int
policy_parse(const uint8_t *buf, size_t len, struct policy *out, struct policy_error *err)
{
	const char *why;
	size_t pos = 0, e, next;
	int line = 0, seen = 0;

	out->mode = STS_NONE;
	out->max_age = 0;
	out->nmx = 0;
	out->mxlen = 0;
	err->line = 0;
	err->reason = err->text = NULL;
	err->value = NULL;
	err->valuelen = 0;
	if (buf == NULL)
		len = 0;
	while (pos < len) {
		const uint8_t *lf = memchr(buf + pos, '\n', len - pos);

		line++;
		if (lf != NULL) {
			e = (size_t)(lf - buf);
			next = e + 1;
			/* CRLF; a CR anywhere else is caught in policy_line */
			if (e > pos && buf[e - 1] == '\r')
				e--;
		} else {
			e = next = len;  /* the final terminator is optional */
		}
		why = policy_line(buf + pos, e - pos, out, &seen, err);
		if (why != NULL) {
			err->line = line;
			goto bad;
		}
		pos = next;
	}
	if (!(seen & SEEN_VERSION))
		perr(err, "missing version", "no version line (the first line should be "
		    "'version: STSv1')");
	else if (!(seen & SEEN_MODE))
		perr(err, "missing mode", "no mode line");
	else if (!(seen & SEEN_MAX_AGE))
		perr(err, "missing max_age", "no max_age line");
	else if (out->nmx == 0 && out->mode != STS_NONE)
		perr(err, "missing mx", "no mx line (mode enforce and testing need one)");
	else if (policy_answer_max(out) > NS_REPLY_MAX)
		too_big(err);
	else
		return 0;
bad:
	out->nmx = 0;
	out->mxlen = 0;
	return -1;
}

/* ---- explanations for the log and query mode ------------------------------- */

size_t
policy_txt_explain(const struct txt_error *err, const char *qname, char *out, size_t cap)
{
	int n;

	switch (err->why) {
	case TXT_WHY_OK:
		n = snprintf(out, cap, "TXT record valid");
		break;
	case TXT_WHY_NO_STS:
		n = snprintf(out, cap, "no STSv1 TXT record at %s (only other TXT records)", qname);
		break;
	case TXT_WHY_MANY:
		if (err->n == 2)
			n = snprintf(out, cap, "two STSv1 TXT records");
		else
			n = snprintf(out, cap, "%zu STSv1 TXT records", err->n);
		break;
	case TXT_WHY_ID_LONG:
		n = snprintf(out, cap, "TXT id has %zu characters (at most %d)", err->n, TXT_ID_MAX);
		break;
	case TXT_WHY_ID_EMPTY:
		n = snprintf(out, cap, "TXT id is empty");
		break;
	case TXT_WHY_ID_CHAR:
		n = snprintf(out, cap, "TXT id has a character other than letters and digits "
		    "(byte %zu of the record)", err->n);
		break;
	case TXT_WHY_NO_ID:
		n = snprintf(out, cap, "STSv1 TXT record without id");
		break;
	case TXT_WHY_TOO_LONG:
		n = snprintf(out, cap, "STSv1 TXT record over %zu bytes", err->n);
		break;
	default:
		n = snprintf(out, cap, "STSv1 TXT record malformed at byte %zu", err->n);
		break;
	}
	return n < 0 ? 0 : (size_t)n;
}

size_t
policy_error_explain(const struct policy_error *err, char *out, size_t cap)
{
	char val[LOG_SAFE_MAX / 2 + 1];
	const char *text = err->text != NULL ? err->text :
	    err->reason != NULL ? err->reason : "invalid";
	size_t i, k = 0;
	int n;

	if (err->value != NULL && err->line > 0) {
		/* the value quoted as far as it is printable ASCII */
		for (i = 0; i < err->valuelen && k + 5 < sizeof val; i++) {
			unsigned c = err->value[i];
			if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
				val[k++] = (char)c;
			} else {
				snprintf(val + k, sizeof val - k, "\\x%02x", c);
				k += 4;
			}
		}
		val[k] = '\0';
		n = snprintf(out, cap, "mx line %d: '%s'%s %s", err->line, val,
		    i < err->valuelen ? "..." : "", text);
	} else if (err->line > 0) {
		n = snprintf(out, cap, "policy line %d: %s", err->line, text);
	} else {
		n = snprintf(out, cap, "policy: %s", text);
	}
	return n < 0 ? 0 : (size_t)n;
}

/* ---- the answer to Postfix (PFX-1..PFX-3, PFX-7, SM-4) --------------- */

struct outbuf {
	char *p;
	size_t cap, n;
	int full;          /* something did not fit: checked once at the end */
};

static void
put(struct outbuf *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->n) {
		o->full = 1;
		return;
	}
	if (o->p != NULL)       /* NULL: only counting */
		memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void
puts_(struct outbuf *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A policy_domain Postfix accepts (PFX-6): a non-empty LDH name whose
 * labels are 1-63 octets and do not end in "-" */
static int
domain_ok(const char *d)
{
	size_t i, lab = 0, n = d != NULL ? strnlen(d, DOMAIN_MAX + 1) : 0;

	if (n == 0 || n > DOMAIN_MAX)
		return 0;
	for (i = 0; i <= n; i++) {
		unsigned c = i < n ? (unsigned char)d[i] : '.';
		if (c == '.') {
			if (lab == 0 || d[i - 1] == '-')
				return 0;
			lab = 0;
		} else if ((ascii_isalnum(c) || (c == '-' && lab > 0)) && ++lab <= LABEL_MAX)
			continue;
		else
			return 0;
	}
	return 1;
}

/*
 * Each pattern is checked again here, so that nothing but a validated
 * name can reach a reply (SEC-8) whatever the caller passes: it must be
 * what mx_pattern would store for it.  Repeats were dropped by the parser
 * (PFX-3).  The policy_string lines come from the parsed policy, never
 * from the body, so no brace or control byte of a server's reaches
 * Postfix; they are version, mode, the mx lines in published order, then
 * max_age as applied (capped at MAX_AGE_MAX), as RFC 8461 3.2 writes
 * them.  The reply is NUL-terminated; its length must be below cap.
 */
size_t
policy_answer(const struct policy_reply *r, char *out, size_t cap)
{
	char pat[MX_PATTERN_MAX + 1], num[16];
	struct outbuf o;
	const char *m, *end;
	size_t n;

	if (r->mode != STS_ENFORCE && !(r->mode == STS_TESTING && r->strict_testing))
		return 0;
	if (r->mx == NULL || r->mxlen == 0 || r->mx[r->mxlen - 1] != '\0' ||
	    (r->tlsrpt && !domain_ok(r->domain)) || (out != NULL && cap == 0))
		return 0;
	end = r->mx + r->mxlen;
	for (m = r->mx; m < end; m += n + 1) {
		n = strlen(m);
		if (n == 0 || n > MX_PATTERN_MAX ||
		    mx_pattern((const uint8_t *)m, n, pat) != n || memcmp(pat, m, n) != 0)
			return 0;
	}
	o.p = out;
	o.cap = out != NULL ? cap : SIZE_MAX;
	o.n = 0;
	o.full = 0;
	puts_(&o, "OK secure match=");
	for (m = r->mx; m < end; m += strlen(m) + 1) {
		if (m > r->mx)
			put(&o, ":", 1);
		/* "*.example.net" -> ".example.net": Postfix's "any subdomain" */
		puts_(&o, m[0] == '*' ? m + 1 : m);
	}
	if (r->sni)
		puts_(&o, " servername=hostname");
	if (r->tlsrpt) {
		puts_(&o, " policy_type=sts policy_domain=");
		puts_(&o, r->domain);
		for (m = r->mx; m < end; m += strlen(m) + 1) {
			puts_(&o, " mx_host_pattern=");
			puts_(&o, m);
		}
		puts_(&o, " { policy_string = version: STSv1 } { policy_string = mode: ");
		puts_(&o, policy_mode_str(r->mode));
		for (m = r->mx; m < end; m += strlen(m) + 1) {
			puts_(&o, " } { policy_string = mx: ");
			puts_(&o, m);
		}
		snprintf(num, sizeof num, "%u", (unsigned)r->max_age);
		puts_(&o, " } { policy_string = max_age: ");
		puts_(&o, num);
		puts_(&o, " }");
	}
	if (out == NULL)
		return o.n;
	if (o.full || o.n >= cap)
		return 0;
	out[o.n] = '\0';
	return o.n;
}

/* The longest answer p could give, whatever its mode (the limit does not
 * depend on it): servername and the TLSRPT attributes on, a 7-letter
 * mode, a policy domain of DOMAIN_MAX characters, an 8-digit max_age. */
static size_t
policy_answer_max(const struct policy *p)
{
	char dom[DOMAIN_MAX + 1];
	struct policy_reply r;
	size_t i;

	for (i = 0; i < DOMAIN_MAX; i++)
		dom[i] = i % 64 == 63 ? '.' : 'a';
	dom[DOMAIN_MAX] = '\0';
	memset(&r, 0, sizeof r);
	r.mode = STS_TESTING;
	r.max_age = MAX_AGE_MAX;
	r.mx = p->mx;
	r.mxlen = p->mxlen;
	r.domain = dom;
	r.strict_testing = r.sni = r.tlsrpt = 1;
	return policy_answer(&r, NULL, 0);
}

size_t
policy_failure_answer(const char *domain, enum fetch_class cls, char *out, size_t cap)
{
	struct outbuf o = { out, cap, 0, 0 };

	if (cls == FETCH_OK || !domain_ok(domain) || out == NULL || cap == 0)
		return 0;
	puts_(&o, "OK secure policy_type=sts policy_domain=");
	puts_(&o, domain);
	puts_(&o, " policy_failure=");
	puts_(&o, http_class_str(cls));
	if (o.full || o.n >= cap)
		return 0;
	out[o.n] = '\0';
	return o.n;
}

const char *
policy_mode_str(enum sts_mode m)
{
	switch (m) {
	case STS_NONE:
		return "none";
	case STS_TESTING:
		return "testing";
	case STS_ENFORCE:
		return "enforce";
	}
	return "unknown";
}
