/* dns.c - DNS message build and parse (pure), resolv.conf parsing, and
 * the non-blocking stub resolver engine driven by the daemon's poll loop */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mtasts.h"

#define F_QR     0x8000
#define F_TC     0x0200
#define F_RD     0x0100
#define F_AD     0x0020
#define R_FORMERR  1
#define R_NXDOMAIN 3
#define R_NOTIMP   4
#define C_IN       1

/* ---- resolv.conf ------------------------------------------------------ */

int
dns_servers_add(struct dns_servers *s, const char *addr)
{
	if (s->n < 0 || s->n >= DNS_NS_MAX ||
	    hostport_addr(addr, strlen(addr), DNS_PORT, &s->addr[s->n], &s->addrlen[s->n]) < 0)
		return -1;
	s->n++;
	return 0;
}

/* Next blank-separated token of [*p, end); its length, 0 at the end. */
static size_t
token(const char **p, const char *end, const char **tok)
{
	const char *s = *p;

	while (s < end && ascii_isspace((unsigned char)*s))
		s++;
	*tok = s;
	while (s < end && !ascii_isspace((unsigned char)*s))
		s++;
	*p = s;
	return (size_t)(s - *tok);
}

static int
tok_is(const char *tok, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(tok, word, len) == 0;
}

static void
resolv_line(const char *p, const char *end, struct dns_servers *out)
{
	const char *tok;
	size_t tl = token(&p, end, &tok);
	uint64_t v;

	if (tl == 0 || tok[0] == '#' || tok[0] == ';')
		return;
	if (tok_is(tok, tl, "nameserver")) {
		tl = token(&p, end, &tok);
		if (out->n < DNS_NS_MAX &&
		    hostport_addr(tok, tl, DNS_PORT, &out->addr[out->n], &out->addrlen[out->n]) == 0)
			out->n++;
		return;
	}
	if (!tok_is(tok, tl, "options"))
		return;     /* search, domain, sortlist...: not for absolute names */
	while ((tl = token(&p, end, &tok)) > 0) {
		if (tl > 8 && memcmp(tok, "timeout:", 8) == 0) {
			if (dec_parse(tok + 8, tl - 8, SIZE_MAX, 1000000, &v) == 0)
				out->timeout_ms = v < 1 ? 1000 :
				    v > DNS_TIMEOUT_CAP_MS / 1000 ? DNS_TIMEOUT_CAP_MS : (int)v * 1000;
		} else if (tl > 9 && memcmp(tok, "attempts:", 9) == 0) {
			if (dec_parse(tok + 9, tl - 9, SIZE_MAX, 1000000, &v) == 0)
				out->attempts = v < 1 ? 1 :
				    v > DNS_ATTEMPTS_CAP ? DNS_ATTEMPTS_CAP : (int)v;
		}
	}
}

int
dns_servers_parse(const char *buf, size_t len, struct dns_servers *out)
{
	const char *p = buf, *end = buf + len, *nl;

	memset(out, 0, sizeof *out);
	out->timeout_ms = DNS_TIMEOUT_DEF_MS;
	out->attempts = DNS_ATTEMPTS_DEF;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		resolv_line(p, nl, out);
		p = nl + 1;
	}
	return out->n;
}

/* ---- messages (pure) -------------------------------------------------- */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Presentation name (no trailing dot) -> wire form; its length or 0. */
static size_t
name_to_wire(const char *name, uint8_t out[DNS_NAME_WIRE_MAX])
{
	size_t o = 0, lab = 0, i;

	if (name[0] == '\0')
		return 0;
	for (i = 0;; i++) {
		if (name[i] == '.' || name[i] == '\0') {
			if (i == lab || i - lab > LABEL_MAX || o + 1 + (i - lab) + 1 > DNS_NAME_WIRE_MAX)
				return 0;
			out[o++] = (uint8_t)(i - lab);
			memcpy(out + o, name + lab, i - lab);
			o += i - lab;
			lab = i + 1;
			if (name[i] == '\0')
				break;
		}
	}
	out[o++] = 0;
	return o;
}

size_t
dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name,
    uint16_t qtype, int edns)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t wl = name_to_wire(name, wire), n;

	n = 12 + wl + 4 + (edns ? 11 : 0);
	if (wl == 0 || n > cap)
		return 0;
	memset(buf, 0, 12);
	put16(buf, id);
	put16(buf + 2, edns > 1 ? F_RD | F_AD : F_RD);   /* AD=1: RFC 6840 5.7 */
	put16(buf + 4, 1);
	put16(buf + 10, edns ? 1 : 0);
	memcpy(buf + 12, wire, wl);
	put16(buf + 12 + wl, qtype);
	put16(buf + 14 + wl, C_IN);
	if (edns) {
		/* OPT: root owner, class = UDP payload size, TTL: version 0
		 * and the DO bit when edns > 1 (RFC 3225), no options */
		uint8_t *o = buf + 16 + wl;
		memset(o, 0, 11);
		put16(o + 1, DNS_T_OPT);
		put16(o + 3, DNS_UDP_SIZE);
		if (edns > 1)
			o[7] = 0x80;
	}
	return n;
}

/* Expand the name at *pos into out (wire form, ASCII lowercased) and move
 * *pos past the name as stored.  Every pointer must point strictly before
 * itself, so expansion cannot loop; the jump cap bounds the work anyway. */
static int
name_read(const uint8_t *msg, size_t len, size_t *pos, uint8_t out[DNS_NAME_WIRE_MAX],
    size_t *outlen)
{
	size_t p = *pos, o = 0, end = 0, t, i;
	int jumps = 0;
	uint8_t c;

	for (;;) {
		if (p >= len)
			return -1;
		c = msg[p];
		if ((c & 0xc0) == 0xc0) {
			if (p + 1 >= len)
				return -1;
			t = (size_t)(c & 0x3f) << 8 | msg[p + 1];
			if (t >= p || ++jumps > DNS_JUMPS_MAX)
				return -1;
			if (end == 0)
				end = p + 2;
			p = t;
			continue;
		}
		if (c & 0xc0)           /* label types 01 and 10 */
			return -1;
		out[o++] = c;
		if (c == 0)
			break;
		if (c > len - p - 1 || o + c + 1 > DNS_NAME_WIRE_MAX)
			return -1;
		for (i = 0; i < c; i++)
			out[o++] = (uint8_t)ascii_tolower(msg[p + 1 + i]);
		p += 1 + c;
	}
	*pos = end != 0 ? end : p + 1;
	*outlen = o;
	return 0;
}

/* Does the name stored at off equal the wire name n? */
static int
name_at_is(const uint8_t *msg, size_t len, size_t off, const uint8_t *n, size_t nl)
{
	uint8_t tmp[DNS_NAME_WIRE_MAX];
	size_t tl;

	return name_read(msg, len, &off, tmp, &tl) == 0 && tl == nl &&
	    memcmp(tmp, n, nl) == 0;
}

/* Wire name -> presentation form for dns_result.cname; bytes that cannot
 * survive the round trip through dns_build_query are refused. */
static int
name_to_text(const uint8_t *w, char *out, size_t cap)
{
	size_t o = 0, i;

	if (w[0] == 0)
		return -1;
	while (*w != 0) {
		if (o + *w + 1 > cap)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (i = 1; i <= *w; i++) {
			if (w[i] == '.' || w[i] == '\0')
				return -1;
			out[o++] = (char)w[i];
		}
		w += *w + 1;
	}
	out[o] = '\0';
	return 0;
}

/* ---- reply: walking the message ---------------------------------------
 * As musl's __dns_parse separates walking a message from acting on its
 * records: msg_question checks the header and the question, msg_answers
 * lays out the answer section, and the functions after them only
 * interpret that table. */

struct rr {
	size_t owner;              /* offset of the owner name */
	size_t rdata;              /* offset of the RDATA */
	uint16_t type, class, rdlen;
	uint32_t ttl;
};
struct msg {
	const uint8_t *p;
	size_t len;
	uint16_t flags;
	int an;                    /* answer RRs, in rr[] */
	uint8_t want[DNS_NAME_WIRE_MAX];   /* QNAME, wire form, lowercase */
	size_t wl;
	struct rr rr[DNS_MAX_RR];
};

/* Is this a reply to our question?  The header and the question against
 * (id, qname, qtype, IN); out->rcode and out->edns_rejected are set on
 * the way.  DNS_PENDING when m is ready for interpretation, otherwise the
 * outcome: MISMATCH, MALFORMED, TRUNCATED or SERVER_ERR. */
static enum dns_status
msg_question(struct msg *m, uint16_t id, const char *qname, uint16_t qtype,
    struct dns_result *out, size_t *pos)
{
	uint8_t cur[DNS_NAME_WIRE_MAX];
	size_t cl, i;

	if (m->len < 12 || get16(m->p) != id)
		return DNS_MISMATCH;
	m->flags = get16(m->p + 2);
	if (!(m->flags & F_QR) || (m->flags >> 11 & 0xf) != 0)
		return DNS_MISMATCH;
	out->rcode = m->flags & 0xf;
	if (out->rcode == R_FORMERR || out->rcode == R_NOTIMP) {
		out->edns_rejected = 1;
		/* servers that do not know EDNS often drop the question */
		if (get16(m->p + 4) == 0)
			return DNS_SERVER_ERR;
	}
	if (get16(m->p + 4) != 1)
		return DNS_MISMATCH;
	m->wl = name_to_wire(qname, m->want);
	if (m->wl == 0)
		return DNS_MISMATCH;
	for (i = 0; i < m->wl; i++)
		m->want[i] = (uint8_t)ascii_tolower(m->want[i]);
	*pos = 12;
	if (name_read(m->p, m->len, pos, cur, &cl) < 0 || m->len - *pos < 4)
		return DNS_MALFORMED;
	if (cl != m->wl || memcmp(cur, m->want, m->wl) != 0 ||
	    get16(m->p + *pos) != qtype || get16(m->p + *pos + 2) != C_IN)
		return DNS_MISMATCH;
	*pos += 4;
	if (m->flags & F_TC)
		return DNS_TRUNCATED;   /* never look at a partial answer */
	if (out->rcode != 0 && out->rcode != R_NXDOMAIN)
		return DNS_SERVER_ERR;
	return DNS_PENDING;
}

/* The answer section from pos into m->rr[]: every RR whole inside the
 * message.  DNS_PENDING, or DNS_MALFORMED. */
static enum dns_status
msg_answers(struct msg *m, size_t pos)
{
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t nl;
	int j;

	m->an = get16(m->p + 6);
	if (m->an > DNS_MAX_RR)
		return DNS_MALFORMED;
	for (j = 0; j < m->an; j++) {
		struct rr *r = &m->rr[j];

		r->owner = pos;
		if (name_read(m->p, m->len, &pos, name, &nl) < 0 || m->len - pos < 10)
			return DNS_MALFORMED;
		r->type = get16(m->p + pos);
		r->class = get16(m->p + pos + 2);
		r->rdlen = get16(m->p + pos + 8);
		r->ttl = (uint32_t)get16(m->p + pos + 4) << 16 | get16(m->p + pos + 6);
		if (r->ttl > 0x7fffffffu)
			r->ttl = 0;     /* RFC 2181 8: the top bit set reads as 0 */
		pos += 10;
		if (r->rdlen > m->len - pos)
			return DNS_MALFORMED;
		r->rdata = pos;
		pos += r->rdlen;
	}
	return DNS_PENDING;
}

/* ---- reply: interpreting the records ------------------------------------ */

/* Does answer RR j belong to the name cur and have this type (class IN)? */
static int
rr_is(const struct msg *m, int j, uint16_t type, const uint8_t *cur, size_t cl)
{
	return m->rr[j].type == type && m->rr[j].class == C_IN &&
	    name_at_is(m->p, m->len, m->rr[j].owner, cur, cl);
}

/* Follow the CNAME chain from QNAME within the answer section: cur ends
 * as the name whose records answer the question; a loop runs into the
 * hop cap.  0, or -1 for a broken chain. */
static int
cname_follow(const struct msg *m, uint16_t qtype, uint8_t cur[DNS_NAME_WIRE_MAX],
    size_t *cl, int *hops)
{
	size_t pos;
	int j;

	memcpy(cur, m->want, m->wl);
	*cl = m->wl;
	*hops = 0;
	while (qtype != DNS_T_CNAME) {
		for (j = 0; j < m->an; j++)
			if (rr_is(m, j, DNS_T_CNAME, cur, *cl))
				break;
		if (j == m->an)
			break;
		if (++*hops > DNS_CNAME_MAX)
			return -1;
		pos = m->rr[j].rdata;
		if (name_read(m->p, m->len, &pos, cur, cl) < 0 ||
		    pos != m->rr[j].rdata + m->rr[j].rdlen)
			return -1;
	}
	return 0;
}

/* One TXT RR: its character-strings must fill rdlength exactly; they are
 * joined without separator.  -1 when malformed or nothing more fits. */
static int
txt_add(struct dns_result *out, size_t *used, const uint8_t *rd, size_t rdlen)
{
	struct dns_txt_rr *t;
	size_t p = 0, total = 0, keep, n;

	if (rdlen == 0)
		return -1;      /* one or more strings (RFC 1035 3.3.14) */
	while (p < rdlen) {
		if (rd[p] > rdlen - p - 1)
			return -1;
		total += rd[p];
		p += 1 + rd[p];
	}
	/* an RRset we cannot hold whole must not be judged by a part of it */
	if (out->ntxt >= DNS_TXT_MAX)
		return -1;
	t = &out->txt[out->ntxt];
	t->too_long = total > TXT_RECORD_MAX;
	keep = t->too_long ? DNS_TXT_PREFIX : total;
	if (keep > DNS_TXT_BUF - *used)
		return -1;
	t->off = (uint16_t)*used;
	t->len = (uint16_t)keep;
	for (p = 0; p < rdlen && keep > 0; p += 1 + rd[p]) {
		n = rd[p] < keep ? rd[p] : keep;
		memcpy(out->txtbuf + *used, rd + p + 1, n);
		*used += n;
		keep -= n;
	}
	out->ntxt++;
	return 0;
}

/* Bytes b[0..n) as the next kept record (MX, TLSA: dns_result.txt) */
static int
raw_add(struct dns_result *out, size_t *used, const uint8_t *b, size_t n)
{
	if (out->ntxt >= DNS_TXT_MAX || n > DNS_TXT_BUF - *used)
		return -1;
	out->txt[out->ntxt].off = (uint16_t)*used;
	out->txt[out->ntxt].len = (uint16_t)n;
	out->txt[out->ntxt++].too_long = 0;
	memcpy(out->txtbuf + *used, b, n);
	*used += n;
	return 0;
}

/* MX RDATA at j: preference (2 bytes) and the exchange as text, kept
 * together; the null MX's root exchange (RFC 7505) is kept as "". */
static int
mx_add(const struct msg *m, int j, struct dns_result *out, size_t *used)
{
	uint8_t w[DNS_NAME_WIRE_MAX];
	char t[2 + DOMAIN_MAX + 2];
	size_t pos = m->rr[j].rdata + 2, wl;

	if (m->rr[j].rdlen < 3 || name_read(m->p, m->len, &pos, w, &wl) < 0 ||
	    pos != m->rr[j].rdata + m->rr[j].rdlen)
		return -1;
	memcpy(t, m->p + m->rr[j].rdata, 2);
	t[2] = '\0';
	if (wl > 1 && name_to_text(w, t + 2, sizeof t - 2) < 0)
		return -1;
	return raw_add(out, used, (const uint8_t *)t, 2 + strlen(t + 2));
}

/* The records of type qtype at the name cur into out: DNS_DATA if any,
 * DNS_MALFORMED for a broken one, DNS_PENDING for none. */
static enum dns_status
answer_collect(const struct msg *m, uint16_t qtype, const uint8_t *cur, size_t cl,
    struct dns_result *out)
{
	size_t used = 0;
	int j, found = 0;

	for (j = 0; j < m->an; j++) {
		const uint8_t *rd = m->p + m->rr[j].rdata;

		if (!rr_is(m, j, qtype, cur, cl))
			continue;
		found = 1;
		if (m->rr[j].ttl < out->ttl)
			out->ttl = m->rr[j].ttl;
		if (qtype == DNS_T_MX) {
			if (mx_add(m, j, out, &used) < 0)
				return DNS_MALFORMED;
		} else if (qtype == DNS_T_TLSA) {
			if (raw_add(out, &used, rd, m->rr[j].rdlen) < 0)
				return DNS_MALFORMED;
		} else if (qtype == DNS_T_TXT) {
			if (txt_add(out, &used, rd, m->rr[j].rdlen) < 0)
				return DNS_MALFORMED;
		} else if (qtype == DNS_T_A || qtype == DNS_T_AAAA) {
			size_t al = qtype == DNS_T_A ? 4 : 16;
			if (m->rr[j].rdlen != al)
				return DNS_MALFORMED;
			if (out->naddr < DNS_ADDR_MAX) {
				struct dns_addr *a = &out->addr[out->naddr++];
				a->family = qtype == DNS_T_A ? AF_INET : AF_INET6;
				memset(a->addr, 0, sizeof a->addr);
				memcpy(a->addr, rd, al);
			}
		}
	}
	return found ? DNS_DATA : DNS_PENDING;
}

static enum dns_status
parse_body(const uint8_t *msg, size_t len, uint16_t id, const char *qname,
    uint16_t qtype, struct dns_result *out, int *hopsp)
{
	struct msg m;
	uint8_t cur[DNS_NAME_WIRE_MAX];
	enum dns_status st;
	size_t pos, cl;
	int hops, j;

	out->status = DNS_PENDING;
	out->rcode = 0;
	out->ad = 0;
	out->ttl = UINT32_MAX;
	out->edns_rejected = 0;
	out->cname[0] = '\0';
	out->ntxt = 0;
	out->naddr = 0;
	*hopsp = 0;

	m.p = msg;
	m.len = len;
	if ((st = msg_question(&m, id, qname, qtype, out, &pos)) != DNS_PENDING ||
	    (st = msg_answers(&m, pos)) != DNS_PENDING)
		return st;
	if (cname_follow(&m, qtype, cur, &cl, &hops) < 0)
		return DNS_MALFORMED;
	*hopsp = hops;
	out->ad = (m.flags & F_AD) != 0;
	for (j = 0; j < m.an; j++)     /* the CNAMEs that led here count too */
		if (m.rr[j].type == DNS_T_CNAME && m.rr[j].ttl < out->ttl)
			out->ttl = m.rr[j].ttl;
	if (out->rcode == R_NXDOMAIN)
		return DNS_NONE;
	if ((st = answer_collect(&m, qtype, cur, cl, out)) != DNS_PENDING)
		return st;
	if (hops > 0) {
		if (name_to_text(cur, out->cname, sizeof out->cname) < 0)
			return DNS_MALFORMED;
		return DNS_CNAME;
	}
	return DNS_NONE;
}

/* Records are only reported with DNS_DATA, never half of a broken reply. */
static enum dns_status
parse_reply(const uint8_t *msg, size_t len, uint16_t id, const char *qname,
    uint16_t qtype, struct dns_result *out, int *hops)
{
	enum dns_status st = parse_body(msg, len, id, qname, qtype, out, hops);

	if (st != DNS_DATA) {
		out->ntxt = 0;
		out->naddr = 0;
	}
	return st;
}

enum dns_status
dns_parse_reply(const uint8_t *msg, size_t len, uint16_t id, const char *qname,
    uint16_t qtype, struct dns_result *out)
{
	int hops;

	out->status = parse_reply(msg, len, id, qname, qtype, out, &hops);
	return out->status;
}

/* ---- the engine ------------------------------------------------------- */

enum { Q_DONE = 0, Q_UDP, Q_TCP_CONNECT, Q_TCP_WRITE, Q_TCP_READ };

static int
q_attempts(const struct dns_query *q)
{
	return q->servers->attempts > 0 ? q->servers->attempts : DNS_ATTEMPTS_DEF;
}

static void
q_close(struct dns_query *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

static void
q_finish(struct dns_query *q, enum dns_status st)
{
	q_close(q);
	q->state = Q_DONE;
	q->result.status = st;
	if (st != DNS_DATA) {
		q->result.ntxt = 0;
		q->result.naddr = 0;
	}
}

/* A new socket connected to the current server, so that the kernel picks
 * a random source port and drops datagrams from anyone else.
 * 0 connected, 1 connect in progress, -1 failed. */
static int
q_socket(struct dns_query *q, int type, msec_t now)
{
	const struct dns_servers *s = q->servers;
	int fd, r, t = s->timeout_ms > 0 ? s->timeout_ms : DNS_TIMEOUT_DEF_MS;

	q_close(q);
	fd = socket(s->addr[q->server].ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	q->fd = fd;
	r = connect(fd, (const struct sockaddr *)&s->addr[q->server], s->addrlen[q->server]);
	if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
		q_close(q);
		return -1;
	}
	q->attempt_deadline = now + t < q->deadline ? now + t : q->deadline;
	return r < 0;
}

/* One UDP attempt to the current server with a fresh ID and socket. */
static int
q_udp(struct dns_query *q, msec_t now)
{
	ssize_t n;

	if (rand_fill(&q->id, sizeof q->id) < 0)
		return -1;
	q->qlen = dns_build_query(q->qbuf + 2, sizeof q->qbuf - 2, q->id,
	    q->qname, q->qtype, q->edns);
	if (q->qlen == 0 || q_socket(q, SOCK_DGRAM, now) < 0)
		return -1;
	put16(q->qbuf, (uint16_t)q->qlen);
	q->tcp = 0;
	do
		n = send(q->fd, q->qbuf + 2, q->qlen, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)q->qlen) {
		q_close(q);
		return -1;
	}
	q->nsent++;
	q->state = Q_UDP;
	return 0;
}

/* round-robin over the servers, `attempts` rounds */
static void
q_advance(struct dns_query *q)
{
	if (++q->server >= q->servers->n) {
		q->server = 0;
		q->round++;
	}
}

/* Try the current server, then the following ones, until one send works. */
static void
q_send(struct dns_query *q, msec_t now)
{
	while (q->round < q_attempts(q)) {
		if (q_udp(q, now) == 0)
			return;
		q_advance(q);
	}
	if (q->fail == DNS_FAIL_NONE)
		q->fail = DNS_FAIL_NETWORK;
	q_finish(q, DNS_FAIL);
}

static void
q_next(struct dns_query *q, msec_t now, enum dns_fail kind, const char *why)
{
	char tmp[256];

	q->fail = kind;
	q->fail_server = q->server;
	q->fail_rcode = q->result.rcode;
	log_debug("dns: %s from server %d for %s", why, q->server,
	    log_safe(q->qname, strlen(q->qname), tmp, sizeof tmp));
	q_close(q);
	q_advance(q);
	q_send(q, now);
}

/* TC=1: the same question, same ID, to the same server over TCP */
static void
q_tcp(struct dns_query *q, msec_t now)
{
	int r = q_socket(q, SOCK_STREAM, now);

	if (r < 0) {
		q_next(q, now, DNS_FAIL_NETWORK, "tcp connect failed");
		return;
	}
	q->tcp = 1;
	q->ntcp++;
	q->io = 0;
	q->tcp_want = 0;
	q->state = r == 1 ? Q_TCP_CONNECT : Q_TCP_WRITE;
}

static void
q_handle(struct dns_query *q, enum dns_status st, int hops, msec_t now)
{
	switch (st) {
	case DNS_DATA:
	case DNS_NONE:
		/* an answer reached through CNAME queries is only as secure,
		 * and lasts only as long, as every step of the way */
		q->result.ad &= q->hop_ad;
		if (q->hop_ttl < q->result.ttl)
			q->result.ttl = q->hop_ttl;
		if (q->hops + hops > DNS_CNAME_MAX)
			q->fail = DNS_FAIL_CNAME;
		q_finish(q, q->hops + hops > DNS_CNAME_MAX ? DNS_FAIL : st);
		return;
	case DNS_CNAME:
		q->hops += hops;
		if (q->hops > DNS_CNAME_MAX) {
			q->fail = DNS_FAIL_CNAME;
			q_finish(q, DNS_FAIL);
			return;
		}
		q->hop_ad &= q->result.ad;
		if (q->result.ttl < q->hop_ttl)
			q->hop_ttl = q->result.ttl;
		memcpy(q->qname, q->result.cname, sizeof q->qname);
		q->server = 0;
		q->round = 0;
		q_send(q, now);
		return;
	case DNS_TRUNCATED:
		if (!q->tcp) {
			q_tcp(q, now);
			return;
		}
		q_next(q, now, DNS_FAIL_MALFORMED, "truncated reply over tcp");
		return;
	case DNS_SERVER_ERR:
		if (q->result.edns_rejected && q->edns) {
			q->edns = 0;    /* once per query: the server did not like OPT */
			q_send(q, now);
			return;
		}
		q_next(q, now, DNS_FAIL_SERVER, "server error");
		return;
	default:
		q_next(q, now, DNS_FAIL_MALFORMED,
		    st == DNS_MISMATCH ? "mismatched tcp reply" : "malformed reply");
		return;
	}
}

static enum dns_status
q_parse(struct dns_query *q, const uint8_t *msg, size_t len, int *hops)
{
	return parse_reply(msg, len, q->id, q->qname, q->qtype, &q->result, hops);
}

/* A UDP reply is parsed the moment it arrives and nothing points into it
 * afterwards, so all queries share one buffer (one thread, one loop);
 * only TCP replies, which arrive in pieces, use the query's own rbuf. */
static uint8_t udp_buf[DNS_UDP_SIZE];

static void
q_udp_read(struct dns_query *q, msec_t now)
{
	enum dns_status st;
	ssize_t n;
	int i, hops;
	char tmp[256];

	for (i = 0; i < DNS_UDP_READS; i++) {
		/* MSG_TRUNC: the real length, so an oversized datagram is
		 * treated as truncated instead of being parsed in part */
		n = recv(q->fd, udp_buf, sizeof udp_buf, MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				q_next(q, now, DNS_FAIL_NETWORK, strerror(errno));
			return;
		}
		st = q_parse(q, udp_buf, (size_t)n < DNS_UDP_SIZE ? (size_t)n : DNS_UDP_SIZE, &hops);
		if (st == DNS_MISMATCH) {
			log_debug("dns: ignored a reply that does not match the query for %s",
			    log_safe(q->qname, strlen(q->qname), tmp, sizeof tmp));
			continue;
		}
		if ((size_t)n > DNS_UDP_SIZE)
			st = DNS_TRUNCATED;
		q_handle(q, st, hops, now);
		return;
	}
}

static void
q_tcp_write(struct dns_query *q, msec_t now)
{
	int err = 0;
	socklen_t el = sizeof err;
	ssize_t n;

	if (q->state == Q_TCP_CONNECT) {
		if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
			q_next(q, now, DNS_FAIL_NETWORK, "tcp connect failed");
			return;
		}
		q->state = Q_TCP_WRITE;
	}
	/* length prefix and message in one write (RFC 7766 8) */
	while (q->io < q->qlen + 2) {
		n = send(q->fd, q->qbuf + q->io, q->qlen + 2 - q->io, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				q_next(q, now, DNS_FAIL_NETWORK, "tcp write failed");
			return;
		}
		q->io += (size_t)n;
	}
	q->nsent++;
	q->state = Q_TCP_READ;
	q->io = 0;
	q->tcp_want = 0;
}

/* io counts bytes read including the 2-byte length, which is gathered
 * into tcp_want so that it may arrive split across reads. */
static void
q_tcp_read(struct dns_query *q, msec_t now)
{
	uint8_t lb[2];
	ssize_t n, i;
	int hops;

	for (;;) {
		if (q->io < 2)
			n = recv(q->fd, lb, 2 - q->io, 0);
		else
			n = recv(q->fd, q->rbuf + q->io - 2, q->tcp_want - (q->io - 2), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				q_next(q, now, DNS_FAIL_NETWORK, "tcp read failed");
			return;
		}
		if (n == 0) {
			q_next(q, now, DNS_FAIL_NETWORK, "tcp connection closed early");
			return;
		}
		if (q->io < 2) {
			for (i = 0; i < n; i++)
				q->tcp_want = q->tcp_want << 8 | lb[i];
			q->io += (size_t)n;
			if (q->io == 2 && q->tcp_want < 12) {
				q_next(q, now, DNS_FAIL_MALFORMED, "short tcp reply");
				return;
			}
			continue;
		}
		q->io += (size_t)n;
		if (q->io - 2 == q->tcp_want) {
			enum dns_status st = q_parse(q, q->rbuf, q->tcp_want, &hops);
			q_handle(q, st, hops, now);
			return;
		}
	}
}

static void
q_start(struct dns_query *q, const struct dns_servers *servers,
    const char *name, uint16_t qtype, msec_t now, msec_t deadline, int edns)
{
	q->fd = -1;
	q->hop_ad = 1;
	q->hop_ttl = UINT32_MAX;
	q->state = Q_DONE;
	q->nsent = q->ntimeout = q->ntcp = 0;
	q->server = 0;
	q->round = 0;
	q->tcp = 0;
	q->edns = edns;
	q->hops = 0;
	q->id = 0;
	q->qtype = qtype;
	q->deadline = deadline;
	q->attempt_deadline = deadline;
	q->servers = servers;
	q->qlen = 0;
	q->io = 0;
	q->tcp_want = 0;
	q->result.status = DNS_PENDING;
	q->fail = DNS_FAIL_NONE;
	q->fail_server = 0;
	q->fail_rcode = 0;
	q->started = now;
	q->result.rcode = 0;
	q->result.ad = 0;
	q->result.ttl = UINT32_MAX;
	q->result.edns_rejected = 0;
	q->result.cname[0] = '\0';
	q->result.ntxt = 0;
	q->result.naddr = 0;
	if (servers == NULL || servers->n <= 0 || servers->n > DNS_NS_MAX ||
	    deadline <= now ||
	    strlcpy_m(q->qname, name, sizeof q->qname) >= sizeof q->qname) {
		q->fail = servers == NULL || servers->n <= 0 ? DNS_FAIL_NO_SERVER : DNS_FAIL_TIMEOUT;
		q_finish(q, DNS_FAIL);
		return;
	}
	q_send(q, now);
}

void
dns_query_start(struct dns_query *q, const struct dns_servers *servers,
    const char *name, uint16_t qtype, msec_t now, msec_t deadline)
{
	q_start(q, servers, name, qtype, now, deadline, 1);
}

void
dns_query_start_dnssec(struct dns_query *q, const struct dns_servers *servers,
    const char *name, uint16_t qtype, msec_t now, msec_t deadline)
{
	q_start(q, servers, name, qtype, now, deadline, 2);
}

int
dns_query_poll(const struct dns_query *q, short *events, msec_t *deadline)
{
	if (q->state == Q_DONE) {
		/* already finished: due at once so that the loop steps it */
		*events = 0;
		*deadline = 0;
		return -1;
	}
	*events = q->state == Q_TCP_CONNECT || q->state == Q_TCP_WRITE ? POLLOUT : POLLIN;
	*deadline = q->attempt_deadline < q->deadline ? q->attempt_deadline : q->deadline;
	return q->fd;
}

int
dns_query_step(struct dns_query *q, short revents, msec_t now)
{
	/* errors surface through the read or write that follows */
	if (revents & (POLLERR | POLLHUP | POLLNVAL))
		revents |= POLLIN | POLLOUT;
	switch (q->state) {
	case Q_UDP:
		if (revents & POLLIN)
			q_udp_read(q, now);
		break;
	case Q_TCP_CONNECT:
	case Q_TCP_WRITE:
		if (revents & POLLOUT)
			q_tcp_write(q, now);
		break;
	case Q_TCP_READ:
		if (revents & POLLIN)
			q_tcp_read(q, now);
		break;
	}
	if (q->state != Q_DONE && now >= q->deadline) {
		q->ntimeout++;
		q->fail = DNS_FAIL_TIMEOUT;
		q->fail_server = q->server;
		q_finish(q, DNS_FAIL);
	} else if (q->state != Q_DONE && now >= q->attempt_deadline) {
		q->ntimeout++;
		q_next(q, now, DNS_FAIL_TIMEOUT, "timeout");
	}
	return q->state == Q_DONE;
}

size_t
dns_query_explain(const struct dns_query *q, msec_t now, char *out, size_t cap)
{
	static const char *const rcodes[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	    "NOTIMP", "REFUSED" };
	const struct sockaddr_storage *ss;
	char ip[INET6_ADDRSTRLEN + 16] = "?";
	int port = DNS_PORT, n;

	if (q->servers != NULL && q->fail_server >= 0 && q->fail_server < q->servers->n &&
	    q->fail_server < DNS_NS_MAX) {
		ss = &q->servers->addr[q->fail_server];
		if (ss->ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
			port = ntohs(s6->sin6_port);
		} else {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
			port = ntohs(s4->sin_port);
		}
		if (port != DNS_PORT)
			snprintf(ip + strlen(ip), sizeof ip - strlen(ip), " port %d", port);
	}
	switch (q->fail) {
	case DNS_FAIL_TIMEOUT:
		n = snprintf(out, cap, "DNS timeout at %s after %lld s", ip,
		    (long long)((now - q->started + 500) / 1000));
		break;
	case DNS_FAIL_SERVER:
		n = snprintf(out, cap, "DNS server %s answered %s", ip,
		    q->fail_rcode < sizeof rcodes / sizeof rcodes[0] ?
		    rcodes[q->fail_rcode] : "an error");
		break;
	case DNS_FAIL_MALFORMED:
		n = snprintf(out, cap, "DNS answer from %s malformed", ip);
		break;
	case DNS_FAIL_CNAME:
		n = snprintf(out, cap, "DNS: more than %d CNAME hops", DNS_CNAME_MAX);
		break;
	case DNS_FAIL_NO_SERVER:
		n = snprintf(out, cap, "no DNS server configured");
		break;
	case DNS_FAIL_NETWORK:
		n = snprintf(out, cap, "DNS server %s unreachable", ip);
		break;
	default:
		n = snprintf(out, cap, "DNS lookup failed");
		break;
	}
	return n < 0 ? 0 : (size_t)n;
}

/* A finished query holds no fd, so aborting it, or a zeroed struct that
 * never started, touches nothing. */
void
dns_query_abort(struct dns_query *q)
{
	if (q->state != Q_DONE)
		q_finish(q, DNS_FAIL);
}
