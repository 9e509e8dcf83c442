/*
 * mtasts.h - the table of contents: every limit, every shared type,
 * every module's interface.  Modules with one name prefix each:
 *   ns_        netstring.c  netstring framing (pure)
 *   key_       key.c        socketmap key -> policy domain (pure)
 *   idn_       idn.c        UTF-8 names -> A-labels, Punycode (pure)
 *   dns_       dns.c        DNS message build/parse (pure) + stub resolver engine
 *   http_      http.c       HTTP/1.1 response parser incl. chunked (pure)
 *   policy_    policy.c     TXT record rules, policy parser, Postfix answer (pure)
 *   anchors_   anchors.c    PEM CA bundle -> trust anchors (pure parsers)
 *   tls_fetch_ tls.c        non-blocking HTTPS GET over BearSSL
 *   cache_     cache.c      fixed hash table + byte-bounded store, LRU (pure)
 *   snapshot_  snapshot.c   the cache on disk
 *   conf_      conf.c       mta-sts.conf parser (pure over text)
 *   dane_      dane.c       DANE: TLSA usability, MX hosts, the decision (pure)
 *   json_      json.c       JSON text writer for query and dump output (pure)
 *   resp_      resp.c       Redis RESP2 commands and replies (pure)
 *   shared_    shared.c     the record a policy is shared under in Redis (pure)
 *   redis_     redis.c      the Redis / Sentinel connection (I/O, daemon.h)
 *   control_   control.c    control socket commands and dump lines (pure),
 *                           and its client (mtasts -d, -p, -r, -S)
 *   server.c, lookup.c, pool.c, mtasts.c: the loop and its jobs (I/O),
 *              declared in daemon.h, which starts with the daemon's limits
 *   metrics_, httpd_  metrics.c, httpd.c: counters, Prometheus text and
 *              the metrics_listen responder, declared in metrics.h
 *   log_       log.c        stderr / file / syslog
 *   (none)     util.c       shared helpers, each named for what it does
 *
 * Requirement IDs in comments (HTTP-14, SM-2, ...) are defined in
 * docs/requirements.md, each with the RFC section or manual it comes from.
 *
 * Conventions: "pure" functions work on (buf, len) and caller storage
 * only, never read past len, allocate, log or block.  Unless a comment
 * says otherwise, pointers a function returns point into the caller's
 * buffers or to static strings, and the caller owns every struct it
 * passes in.
 */
#ifndef MTASTS_H
#define MTASTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <bearssl.h>

#define MTASTS_VERSION "0.1.0"

/* ---- limits: one place for every bound and tunable ------------------
 * Sizes in bytes unless a unit is named.  Run-time settings and their
 * defaults are in conf.c's key table and conf_defaults(). */
#define DOMAIN_MAX        253    /* octets of a presentation-form name */
#define POLICY_DOMAIN_MAX 244    /* "_mta-sts." + d must fit 255 wire octets */
#define LABEL_MAX         63     /* octets of one DNS label (RFC 1035 2.3.4) */
#define TXT_ID_MAX        32     /* RFC 8461 sts-id: 1*32(ALPHA / DIGIT) */
#define TXT_EXT_NAME_MAX  32     /* RFC 8461 3.1 sts-ext-name: 1*32 characters */
#define MX_PATTERN_MAX    (DOMAIN_MAX + 2)   /* "*." + domain */
/* No cap on the mx count (PFX-8, POL-11): a policy is valid while its
 * longest answer fits NS_REPLY_MAX.  Each pattern of n bytes costs that
 * answer at least 3 (n + 1) bytes, so the packed patterns "a\0*.b\0" of a
 * valid policy never need more than this: */
#define MX_DATA_MAX       (NS_REPLY_MAX / 3 + 1)
#define MAX_AGE_MAX       31557600u          /* RFC 8461 3.2 cap, seconds */
#define MAX_AGE_DIGITS    10     /* RFC 8461 3.2 max_age: 1*10DIGIT */
#define POLICY_NAME_MAX   32     /* policy field name: ALNUM then 31 more */

#define NS_PAYLOAD_MAX    1024   /* netstring payload buffered per request */
#define NS_DISCARD_MAX    10100  /* longer declared lengths are framing errors */
#define NS_LEN_DIGITS_MAX 5      /* digits of a length (NS_DISCARD_MAX has 5) */
#define NS_REPLY_MAX      100000 /* Postfix refuses longer reply payloads
                                  * (dict_sockmap.c) */
#define REPLY_MAX         16384  /* client output buffer: ordinary replies */

#define REDIS_SENTINELS_MAX 3    /* redis_sentinel lines */

#define DNS_PORT          53
#define DNS_UDP_SIZE      1232   /* advertised EDNS payload size */
#define DNS_TCP_MAX       65535
#define DNS_QUERY_MAX     512    /* a query we build (one question, OPT) */
#define DNS_NAME_WIRE_MAX 255    /* octets of a name in wire form */
#define DNS_JUMPS_MAX     32     /* compression pointers followed per name */
#define DNS_MAX_RR        64     /* RRs examined per message */
#define DNS_CNAME_MAX     8      /* CNAME hops, within and across queries */
#define DNS_NS_MAX        3      /* nameservers used */
#define DNS_ADDR_MAX      8      /* A/AAAA addresses kept per answer */
#define DNS_TXT_MAX       DNS_MAX_RR  /* TXT RRs kept per answer */
#define TXT_RECORD_MAX    4096   /* joined TXT record; longer is invalid */
#define DNS_TXT_PREFIX    64     /* bytes kept of a longer one, for the log */
#define DNS_TXT_BUF       16384  /* storage for all kept TXT records */
#define DNS_UDP_READS     16     /* datagrams read per wakeup */
#define DNS_TIMEOUT_DEF_MS 5000  /* per attempt, unless resolv.conf says */
#define DNS_TIMEOUT_CAP_MS 30000 /* most resolv.conf "timeout:" may ask */
#define DNS_ATTEMPTS_DEF  2      /* rounds over the servers, unless resolv.conf says */
#define DNS_ATTEMPTS_CAP  5      /* most resolv.conf "attempts:" may ask */
#define RESOLV_CONF_MAX   65536  /* a longer resolv.conf is not read */

#define HTTP_HEADER_MAX   8192   /* whole header section */
#define HTTP_FIELDS_MAX   64
#define HTTP_BODY_MAX     65536  /* RFC 8461 3.3 suggested limit */
#define HTTP_INTERIM_MAX  8      /* 1xx responses skipped before the final one */
#define HTTP_CHUNK_DIGITS_MAX 8  /* hex digits of a chunk size (HTTP-7) */

#define ANCHORS_FILE_MAX  (16 * 1024 * 1024)  /* a larger CA file is refused */

#define CONF_FILE_MAX     65535  /* a larger mta-sts.conf is refused */
#define CONF_LINE_MAX     511    /* characters of a line of it */
#define LISTEN_MAX        8      /* listen lines */
#define LISTEN_SPEC_MAX   127    /* characters of one listen value */
#define LISTEN_PATH_MAX   107    /* unix:PATH (sockaddr_un.sun_path less NUL) */
#define LISTEN_DEFAULT    "127.0.0.1:8461"   /* when no listen line is given */
#define ZONE_MAX          16     /* the default zone + 15 named */
#define ZONE_NAME_MAX     63

#define SNAP_FILE_MAX     (64 * 1024 * 1024)  /* a larger cache_file is ignored */
#define SNAP_LINE_MAX     (MX_DATA_MAX + 512)  /* a record line: the largest policy fits */
#define SNAP_CLOCK_SKEW   60     /* seconds a fetch time may lie in the future */
#define SNAP_TIME_MAX     ((uint64_t)1 << 40)  /* later fetch times are corrupt */

#define CACHE_BLOCK       64     /* bytes per cache store block */
#define CACHE_BLOCKS_PER_ENTRY 4 /* store: 256 bytes per entry on average */
#define CACHE_DATA_MAX    65535  /* bytes of one entry's domain and patterns */
#define CACHE_BUCKETS_MIN 16     /* hash buckets: a power of 2 >= entries */
#define TLS_REASON_MAX    64     /* a fetch's failure reason, e.g. "http-status-404" */
#define HTTPS_PORT        443    /* policy fetches (tls_fetch_port) */
#define LOG_LINE_MAX      1024   /* longer log lines are cut */
#define LOG_SAFE_MAX      200    /* remote bytes quoted in one log line */
#define CONTROL_LINE_MAX  512    /* a control command line, newline excluded */
#define CONTROL_ROW_MAX   (MX_DATA_MAX * 3 / 2 + 1024)  /* one dump line, JSON or
                                  * text: the largest policy fits */
#define UTC_TIME_MAX      24     /* "2026-12-02T16:00:00Z" and its NUL */
#define CONTROL_CLIENT_TIMEOUT_MS 10000   /* mtasts -d/-p/-r/-S: per send/recv */
/* the daemon's limits (clients, listeners, jobs, backoff): top of daemon.h */

typedef int64_t msec_t;          /* CLOCK_MONOTONIC milliseconds */

/* ---- util.c: shared helpers (no module prefix: each is named for what
 * it does, so that there is one of each) ------------------------------ */
msec_t mono_now(void);                     /* CLOCK_MONOTONIC milliseconds */
int64_t mono_usec(void);                   /* CLOCK_MONOTONIC microseconds */
int64_t wall_now(void);                    /* UNIX seconds */
int rand_fill(void *buf, size_t len);      /* getrandom(2); 0 ok, -1 error */
/* Copy src into dst[cap], always NUL-terminated when cap > 0; returns
 * strlen(src), so a result >= cap means it was cut. */
size_t strlcpy_m(char *dst, const char *src, size_t cap);
/* ASCII character classes, the same in every locale: 1 or 0.
 * ascii_isblank is space and tab (the RFCs' WSP); ascii_isspace adds
 * \n \r \f \v; ascii_hexval is 0-15, or -1 for a non-hex digit. */
int ascii_isdigit(int c);
int ascii_isalnum(int c);
int ascii_isblank(int c);
int ascii_isspace(int c);
int ascii_hexval(int c);
int ascii_tolower(int c);                  /* A-Z only; other bytes as they are */
/* s[0..len) as a decimal number: 1 to maxdigits digits and nothing else
 * (no sign, no space; leading zeros are fine), at most max.  0 with *out,
 * or -1 (and *out untouched).  Pure; maxdigits SIZE_MAX for no cap. */
int dec_parse(const char *s, size_t len, size_t maxdigits, uint64_t max, uint64_t *out);
/* "host", "host:port", "[v6]", "[v6]:port" in s[0..len).  The port is
 * 1-65535 in decimal; default_port 0 means it is required.  Without
 * brackets, the last colon starts the port where one is required, and
 * where it may be left out two colons make the whole text an IPv6
 * address ("::1:53" is that address on the default port).  Checks the
 * syntax only: *hp points into s.  0, or -1.  Pure. */
struct hostport {
	const char *host;          /* brackets removed; never empty */
	size_t hostlen;
	int port;
	int bracketed;
};
int hostport_split(const char *s, size_t len, int default_port, struct hostport *hp);
/* The same, and the host must be an IPv4 or IPv6 literal (brackets: IPv6
 * only): the socket address with its port.  0, or -1. */
int hostport_addr(const char *s, size_t len, int default_port, struct sockaddr_storage *ss,
                  socklen_t *sl);
/* A non-blocking TCP listener on spec (IP literal and port, as above):
 * SO_REUSEADDR, SO_REUSEPORT when reuse_port, IPv6 only for an IPv6
 * address.  The fd, or -1 after logging why; *loopback = 1 when the
 * address is a loopback one (127/8, ::1). */
int tcp_listen(const char *spec, int reuse_port, int backlog, int *loopback);
/* A listening unix socket at path (a stale one there is removed), created
 * with permissions mode from the start.  The fd, or -1 after logging why. */
int unix_listen(const char *path, int mode, int backlog);
/* The whole file at path in a malloc'd buffer, NUL-terminated after *len
 * bytes; the caller frees it.  NULL when it cannot be opened or read, or
 * holds more than max bytes, with "path: reason" in err and errno kept
 * (EFBIG for too large), so a caller may treat ENOENT as "no file". */
char *read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);
/* UNIX seconds t as RFC 3339 UTC, "2026-12-02T16:00:00Z", into out; the
 * length (20), or 0 (out = "") when t cannot be shown.  Pure. */
size_t utc_time(int64_t t, char out[UTC_TIME_MAX]);

/* ---- resp.c: Redis RESP2 (pure) ---------------------------------------- */
#define RESP_LINE_MAX     1024   /* a status, error or length line */
#define RESP_ARRAY_MAX    64     /* elements in one array (ROLE lists replicas) */
#define RESP_DEPTH_MAX    3      /* arrays in arrays (ROLE: replica triples) */
#define RESP_ELEMS_MAX    4      /* top-level array elements resp_parse notes */
#define SHARED_RECORD_MAX (HTTP_BODY_MAX + 64)   /* header + policy body */
#define RESP_BULK_MAX     (SHARED_RECORD_MAX + 1) /* GETRANGE 0..MAX gives 1 more */
enum { RESP_OK = 0, RESP_MORE = -1, RESP_BAD = -2 };
enum resp_type { RESP_NIL = 0, RESP_STRING = '+', RESP_ERROR = '-', RESP_INT = ':',
	RESP_BULK = '$', RESP_ARRAY = '*' };
struct resp_item {
	int type;                  /* enum resp_type; a nil bulk or array is RESP_NIL */
	const uint8_t *s;          /* string, error, bulk: into the caller's buffer */
	size_t len;
	int64_t n;                 /* integer; array: element count */
};
struct resp_reply {
	struct resp_item top;
	int nelem;                 /* of an array: the first RESP_ELEMS_MAX elements */
	struct resp_item elem[RESP_ELEMS_MAX];
};
/* One whole reply at the start of buf[0..len): RESP_OK with *used bytes,
 * RESP_MORE (incomplete), or RESP_BAD (not RESP2, or beyond our bounds:
 * close the connection).  Pure. */
int resp_parse(const uint8_t *buf, size_t len, struct resp_reply *r, size_t *used);
/* A command as an array of argc bulk strings (argl NULL: NUL-terminated);
 * its length, or 0 when it does not fit cap. */
size_t resp_command(uint8_t *out, size_t cap, int argc, const char *const *argv,
                    const size_t *argl);
/* it is a string, bulk or error whose text is exactly s */
int resp_is(const struct resp_item *it, const char *s);

/* ---- shared.c: a policy's record in Redis (pure) ------------------------
 * "mtasts1 FETCHED ID\n" then the policy body as the policy host served
 * it: FETCHED is the UNIX time of the fetch, ID the TXT id it was fetched
 * under.  The reader runs the body through policy_parse like any fetch. */
#define SHARED_MAGIC      "mtasts1 "
#define SHARED_SKEW_SEC   300    /* fleet clocks may differ this much */
struct shared_record {
	int64_t fetched_wall;
	char id[TXT_ID_MAX + 1];
	const uint8_t *body;       /* into the value */
	size_t bodylen;
};
/* The header for a record: its length (< cap), or 0. */
size_t shared_header(char *out, size_t cap, int64_t fetched_wall, const char *id);
/* A value read from Redis, checked: 0 with *rec, or -1 with a static
 * reason in *why.  The body is not parsed here. */
int shared_record_parse(const uint8_t *v, size_t len, int64_t now_wall,
                        struct shared_record *rec, const char **why);

/* ---- json.c: JSON text into a caller's buffer (pure) ------------------ */
struct json {
	char *buf;                 /* caller-owned, cap bytes, NUL-terminated */
	size_t cap, len;
	int over;                  /* something did not fit: the text is cut */
};
void json_init(struct json *w, char *buf, size_t cap);
/* Append text as it is: the structure, "{", ",", "[", ... */
void json_raw(struct json *w, const char *s);
/* Append s[0..len) as a quoted string; quotes, backslashes, control and
 * non-ASCII bytes are escaped (\u00XX per byte), so any bytes give valid JSON */
void json_str(struct json *w, const char *s, size_t len);
void json_int(struct json *w, int64_t v);
/* "key": (the key is the caller's constant, escaped all the same) */
void json_key(struct json *w, const char *key);

/* ---- log.c ------------------------------------------------------------ */
enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
/* Log lines of level and above to stderr, or to file (appended, created
 * 0640; NULL: stderr), or to syslog (facility mail).  file is copied. */
void log_open(int level, const char *file, int use_syslog);
int log_reopen(void);                      /* SIGHUP: reopen the log file; 0 or -1 */
int log_enabled(int level);                /* 1 if lines of level are written */
/* One line at level, if enabled; errno is preserved.  Callers use the
 * macros below. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the same, with ": strerror(errno)" appended (errno as on entry) */
void log_msg_errno(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As in OpenBSD's daemons: log_err/log_warn append errno's text,
 * the x forms log the message alone. */
#define log_err(...)    log_msg_errno(LOG_LVL_ERR, __VA_ARGS__)
#define log_errx(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg_errno(LOG_LVL_WARN, __VA_ARGS__)
#define log_warnx(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)
/* Copy remote bytes for a log line into out[cap]: non-printables escaped
 * as \xNN, cut at LOG_SAFE_MAX; returns out (always NUL-terminated). */
const char *log_safe(const void *buf, size_t len, char *out, size_t cap);

/* ---- netstring.c: incremental reader (pure) -------------------------- */
enum ns_status {
	NS_NEED_MORE = 0,  /* consumed everything offered, no complete string */
	NS_DONE,           /* one netstring complete: payload in reader */
	NS_OVERSIZE,       /* complete, but payload was > NS_PAYLOAD_MAX: discarded */
	NS_ERROR           /* framing error: close the connection */
};
struct ns_reader {
	int state;                 /* private */
	size_t want;               /* declared payload length */
	size_t got;                /* payload bytes seen so far */
	int digits;
	size_t len;                /* payload length when NS_DONE */
	char payload[NS_PAYLOAD_MAX + 1];  /* NUL-terminated for convenience */
};
/* Ready r (caller-owned) for the first string of a connection. */
void ns_reader_init(struct ns_reader *r);
/* Feed bytes; *used is set to how many were consumed.  Stops right after
 * a complete string so the caller can act on it before feeding the rest;
 * the payload stays in r until the next call.  After NS_ERROR the stream
 * is lost: every later call returns NS_ERROR. */
enum ns_status ns_read(struct ns_reader *r, const uint8_t *buf, size_t len, size_t *used);
/* Write "<len>:<payload>," into out (no NUL); returns bytes written, or 0
 * if it does not fit in cap or len exceeds NS_REPLY_MAX. */
size_t ns_write(char *out, size_t cap, const char *payload, size_t len);

/* ---- key.c: socketmap key -> policy domain (pure) -------------------- */
enum key_status {
	KEY_OK = 0,        /* out holds the A-label, lowercase, no trailing dot */
	KEY_PARENT,        /* ".example.com": parent lookup, never inherited */
	KEY_IP_LITERAL,
	KEY_BAD,           /* empty, bad syntax, whitespace, too long */
	KEY_BAD_UTF8,      /* not valid UTF-8 (KEY-9) */
	KEY_BAD_IDN        /* a U-label or xn-- label IDNA2008 refuses (IDN-1) */
};
/* Postfix's key (a next-hop, maybe "[host]:port") -> the policy domain in
 * out (NUL-terminated, only written for KEY_OK).  Pure. */
enum key_status key_normalize(const char *key, size_t len, char out[DOMAIN_MAX + 1]);
/* A static name for logs: "ok", "parent", "ip-literal", "bad-key",
 * "bad-utf8", "bad-idn". */
const char *key_status_str(enum key_status s);

/* ---- idn.c: international names -> A-labels (IDNA2008 lookup, pure) ---- */
#define IDN_LABEL_CPS     63     /* code points of a label; more never fit 63 octets */
#define IDN_ERR_SYNTAX    (-1)   /* an empty or non-LDH ASCII label, too long */
#define IDN_ERR_UTF8      (-2)   /* invalid UTF-8: overlong, surrogate, cut, > U+10FFFF */
#define IDN_ERR_LABEL     (-3)   /* a U-label or xn-- label IDNA2008 refuses */
/* One UTF-8 sequence at s[0..n), n >= 1: its length with the code point
 * in *cp, or 0 when it is not valid UTF-8. */
size_t idn_utf8(const uint8_t *s, size_t n, uint32_t *cp);
/* in[0..len), a name without a trailing dot in any mix of LDH labels,
 * A-labels and U-labels (UTF-8) -> its A-label form, lowercase (IDN-1,
 * IDN-2), NUL-terminated in out[cap]: the length, or an IDN_ERR_. */
int idn_to_ascii(const uint8_t *in, size_t len, char *out, size_t cap);
/* The reverse for display: each xn-- label of in[0..len) (as
 * idn_to_ascii gives) decoded to UTF-8, other labels copied, into
 * out[cap], NUL-terminated: the length, or -1 when it does not fit. */
int idn_to_unicode(const char *in, size_t len, char *out, size_t cap);
/* Punycode (RFC 3492) alone, no IDNA rules: code points cp[0..n)
 * (n <= IDN_LABEL_CPS) -> out[cap] without "xn--" and without a NUL;
 * the length, or -1 when it does not fit. */
int idn_encode_label(const uint32_t *cp, size_t n, char *out, size_t cap);
/* Punycode s[0..len) (the part after "xn--") -> code points in cp[cap];
 * their number, or -1 when it is no Punycode or more than cap. */
int idn_decode_label(const char *s, size_t len, uint32_t *cp, size_t cap);

/* ---- dns.c ------------------------------------------------------------ */
#define DNS_T_A     1
#define DNS_T_CNAME 5
#define DNS_T_MX    15
#define DNS_T_TXT   16
#define DNS_T_AAAA  28
#define DNS_T_OPT   41
#define DNS_T_TLSA  52

struct dns_servers {
	int n;
	struct sockaddr_storage addr[DNS_NS_MAX];
	socklen_t addrlen[DNS_NS_MAX];
	int timeout_ms;            /* per attempt (resolv.conf "options timeout:") */
	int attempts;              /* rounds over all servers ("options attempts:") */
};
/* Parse resolv.conf text into *out (reset first): nameserver lines
 * (v4/v6, the first DNS_NS_MAX), options timeout:N attempts:N (capped).
 * search/domain/ndots ignored.  Returns the number of servers (0 if
 * none).  Pure. */
int dns_servers_parse(const char *buf, size_t len, struct dns_servers *out);
/* Add one "1.2.3.4" / "::1" / "[::1]:5353" / "127.0.0.1:5353" server
 * (hostport_addr, port 53 by default); 0, or -1 if invalid or full. */
int dns_servers_add(struct dns_servers *s, const char *addr);

enum dns_status {
	DNS_PENDING = 0,
	DNS_DATA,          /* records of the asked type at the end of the CNAME chain */
	DNS_NONE,          /* NXDOMAIN or NODATA */
	DNS_FAIL,          /* every server failed / timed out, loop, too many hops */
	/* parse-only outcomes (never the final status of a query) */
	DNS_CNAME,         /* answer holds only a CNAME chain: ask again for result.cname */
	DNS_TRUNCATED,     /* TC=1: repeat over TCP */
	DNS_SERVER_ERR,    /* SERVFAIL/REFUSED/NOTIMP/FORMERR: next server */
	DNS_MISMATCH,      /* not a reply to our question (id, qname...): ignore */
	DNS_MALFORMED      /* a reply to us, but broken: next server */
};
struct dns_txt_rr {
	uint16_t off, len;         /* into dns_result.txtbuf */
	uint8_t too_long;          /* joined record exceeded TXT_RECORD_MAX: invalid */
};
struct dns_addr {
	int family;                /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};
/* Records kept in txt[]/txtbuf by type: TXT the joined strings; MX the
 * preference (2 bytes, network order) then the exchange as text ("" for
 * the null MX "."); TLSA the RDATA as it is. */
struct dns_result {
	enum dns_status status;
	uint8_t rcode;
	uint8_t ad;                /* AD bit of the answer (RFC 4035 3.2.3) */
	uint32_t ttl;              /* smallest TTL of the answer RRs used, or
	                            * UINT32_MAX when there is none */
	int edns_rejected;         /* FORMERR/NOTIMP to an EDNS query: retry without OPT */
	int naddr;
	struct dns_addr addr[DNS_ADDR_MAX];
	int ntxt;
	struct dns_txt_rr txt[DNS_TXT_MAX];
	char cname[DOMAIN_MAX + 2];/* target when status == DNS_CNAME */
	uint8_t txtbuf[DNS_TXT_BUF];   /* last: untouched by address queries */
};
/* Build a query for name (presentation form, no trailing dot) into buf;
 * returns its length, or 0 if it does not fit in cap or the name is bad.
 * edns: 0 none, 1 an OPT record, 2 the same with DO=1 and AD=1.  Pure. */
size_t dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name,
                       uint16_t qtype, int edns);
/* Parse a reply to (id, qname, qtype, IN) into *out and return the same
 * status as out->status.  Records are only left in out with DNS_DATA.
 * Pure: never reads past len. */
enum dns_status dns_parse_reply(const uint8_t *msg, size_t len, uint16_t id,
                                const char *qname, uint16_t qtype, struct dns_result *out);

/* Why a query ended in DNS_FAIL (the last server's fault) */
enum dns_fail {
	DNS_FAIL_NONE = 0,
	DNS_FAIL_TIMEOUT,          /* no answer in time */
	DNS_FAIL_SERVER,           /* SERVFAIL, REFUSED, ... (fail_rcode) */
	DNS_FAIL_MALFORMED,        /* a broken or truncated answer */
	DNS_FAIL_NETWORK,          /* could not send or connect */
	DNS_FAIL_CNAME,            /* more than DNS_CNAME_MAX hops */
	DNS_FAIL_NO_SERVER         /* no nameserver configured */
};

/* The resolver engine: one caller-owned query, driven by the poll loop. */
struct dns_query {
	/* public: counted for metrics since dns_query_start */
	uint16_t nsent;            /* messages sent, UDP and TCP */
	uint16_t ntimeout;         /* attempts (or the whole query) timed out */
	uint16_t ntcp;             /* truncated answers asked again over TCP */
	/* private */
	int fd;
	int state;
	int server;                /* index into servers */
	int round;
	int tcp;
	int edns;
	int hops;                  /* CNAME hops followed so far */
	uint8_t hop_ad;            /* every CNAME step so far had AD=1 */
	uint32_t hop_ttl;          /* and their smallest TTL */
	uint16_t id;
	uint16_t qtype;
	msec_t deadline;           /* overall */
	msec_t attempt_deadline;
	const struct dns_servers *servers;
	char qname[DOMAIN_MAX + 2];
	size_t qlen;               /* query message length in qbuf */
	size_t io;                 /* TCP bytes written / read so far */
	size_t tcp_want;
	uint8_t qbuf[2 + DNS_QUERY_MAX]; /* TCP length prefix + query */
	/* public when dns_query_step() returned done */
	enum dns_fail fail;        /* with DNS_FAIL: why */
	int fail_server;           /* index into servers of the server at fault */
	uint8_t fail_rcode;        /* DNS_FAIL_SERVER: its rcode */
	msec_t started;
	struct dns_result result;
	uint8_t rbuf[DNS_TCP_MAX]; /* reply (UDP uses the first DNS_UDP_SIZE) */
};
/* Start resolving name in q (caller-owned; servers must outlive it).  It
 * may finish at once (no servers, past deadline, name too long): then
 * dns_query_poll reports no fd and result.status is DNS_FAIL. */
void dns_query_start(struct dns_query *q, const struct dns_servers *servers,
                     const char *name, uint16_t qtype, msec_t now, msec_t deadline);
/* The same with DO=1 and AD=1 (DANE-2): result.ad is then the validator's
 * word on the answer, and on every CNAME query that led to it. */
void dns_query_start_dnssec(struct dns_query *q, const struct dns_servers *servers,
                            const char *name, uint16_t qtype, msec_t now, msec_t deadline);
/* fd to poll (-1 if none right now), events, and the deadline to wake at */
int dns_query_poll(const struct dns_query *q, short *events, msec_t *deadline);
/* Returns 1 when done (result.status is DNS_DATA/DNS_NONE/DNS_FAIL), else 0 */
int dns_query_step(struct dns_query *q, short revents, msec_t now);
/* Close q's socket, if any; q may be started again afterwards. */
void dns_query_abort(struct dns_query *q);
/* A failed query's reason in one line: "DNS timeout at 127.0.0.1 after
 * 4 s", "DNS server 127.0.0.1 answered SERVFAIL", ...  now is the time of
 * failure.  Returns the length snprintf gives.  Pure. */
size_t dns_query_explain(const struct dns_query *q, msec_t now, char *out, size_t cap);

/* ---- dane.c: DANE precedence, the pure parts (DANE-1..6) -------------- */
#define DANE_HOSTS_MAX    16     /* MX hosts examined; more: at most "dane" */
#define DANE_TTL_MIN      5      /* seconds a DANE decision is kept, at least */
#define DANE_TTL_MAX      3600   /* and at most */
#define DANE_NEG_TTL      300    /* a denial (no MX, no TLSA) counts as this */
#define DANE_FAIL_TTL     30     /* a failed DNSSEC lookup is remembered so long */
enum dane_state {              /* a domain's DANE decision (cache_entry.dane) */
	DANE_UNKNOWN = 0,          /* never looked up */
	DANE_NONE,                 /* no secure TLSA anywhere: MTA-STS decides */
	DANE_SOME,                 /* some hosts secure TLSA: "OK dane" */
	DANE_ALL,                  /* every host usable TLSA: "OK dane-only" */
	DANE_FAILED                /* a DNSSEC lookup failed: dane_failure decides */
};
enum dane_host {               /* what one MX host turned out to be */
	DH_ADDR_INSECURE = 0,      /* A/AAAA not authenticated: no TLSA lookup */
	DH_NO_ADDR,                /* no address at all */
	DH_TLSA_INSECURE,          /* TLSA RRset not authenticated */
	DH_NO_TLSA,                /* authenticated denial of TLSA */
	DH_UNUSABLE,               /* secure TLSA, none usable */
	DH_USABLE                  /* secure TLSA, at least one usable */
};
/* A TLSA RDATA rd[0..len): 1 when usable for SMTP (RFC 7672 3.1): usage
 * 2 or 3, selector 0 or 1, matching type 0 (some data), 1 (32 bytes) or
 * 2 (64 bytes); else 0.  Pure. */
int dane_tlsa_usable(const uint8_t *rd, size_t len);
/* The MX hosts of an MX answer (dns_result, DNS_DATA) into host[], in
 * answer order (every host counts the same: preference does not matter to
 * the decision), duplicates and the null MX left out, at most max (<=
 * DANE_HOSTS_MAX); *more = 1 when hosts were left out for the cap.
 * Returns the count.  Pure. */
int dane_mx_hosts(const struct dns_result *r, char host[][DOMAIN_MAX + 1], int max, int *more);
/* The decision over n host results (DANE-4); more: hosts beyond the cap,
 * which count as hosts without DANE.  Pure. */
enum dane_state dane_decide(const uint8_t *hosts, int n, int more);
/* 1 when every server is on loopback (127/8, ::1), where the AD bit of
 * a validating resolver may be trusted (DANE-2); else 0.  Pure. */
int dane_servers_trusted(const struct dns_servers *s);
/* Static names for logs and -q: "none", "dane", ...; "insecure address", ... */
const char *dane_state_str(enum dane_state s);
const char *dane_host_str(enum dane_host h);

/* ---- http.c: HTTP/1.1 response parser (pure, incremental) ------------ */
enum http_status { HTTP_NEED_MORE = 0, HTTP_DONE, HTTP_ERROR };
enum fetch_class {            /* RFC 8460 4.3.2.2 result types */
	FETCH_OK = 0,
	FETCH_ERR_FETCH,           /* sts-policy-fetch-error */
	FETCH_ERR_WEBPKI,          /* sts-webpki-invalid */
	FETCH_ERR_POLICY           /* sts-policy-invalid */
};
/* A static name: the RFC 8460 result type, or "ok". */
const char *http_class_str(enum fetch_class c);
struct http_parser {
	/* public */
	int status_code;
	enum fetch_class err_class;/* when HTTP_ERROR */
	char reason[64];           /* short reason code, e.g. "http-status-404" */
	char why[96];              /* the same for a person: "HTTP 404 (not 200)" */
	uint8_t *body;             /* caller-owned, body_cap bytes */
	size_t body_cap;
	size_t body_len;
	/* private */
	int state;
	int framing;               /* length, chunked, close */
	uint64_t remaining;        /* body bytes / chunk bytes still expected */
	size_t hdrlen;
	int nfields;
	size_t linestart;          /* header section: start of the current line */
	size_t linelen;            /* chunk-size line / trailer section bytes */
	int ndigits;               /* chunk-size hex digits */
	int interim;               /* 1xx responses skipped */
	int seen;                  /* any byte fed at all */
	uint8_t hdr[HTTP_HEADER_MAX];  /* last: only the pages used get touched */
};
/* Ready p (caller-owned) for one response; the body goes to the caller's
 * body[body_cap], which must outlive p. */
void http_init(struct http_parser *p, uint8_t *body, size_t body_cap);
/* Feed response bytes; *used = bytes consumed.  HTTP_DONE when the body is
 * complete (length or chunked framing); HTTP_ERROR with err_class/reason. */
enum http_status http_feed(struct http_parser *p, const uint8_t *buf, size_t len, size_t *used);
/* The peer closed.  clean = TLS close_notify was received.  Completes a
 * close-delimited body only when clean; anything else incomplete -> error. */
enum http_status http_eof(struct http_parser *p, int clean);

/* ---- policy.c: TXT rules, policy parser, answer (pure) ---------------- */
enum sts_mode { STS_NONE = 0, STS_TESTING, STS_ENFORCE };
struct policy {
	enum sts_mode mode;
	uint32_t max_age;          /* already capped at MAX_AGE_MAX */
	int nmx;
	size_t mxlen;              /* bytes of mx in use */
	/* nmx patterns, each NUL-terminated, one after the other: lowercase,
	 * deduplicated, in policy order ("*.example.net" keeps its "*.") */
	char mx[MX_DATA_MAX];
};
enum txt_status { TXT_FOUND = 0, TXT_NONE };
/* Why TXT records give no id; n is the detail named below. */
enum txt_why {
	TXT_WHY_OK = 0,
	TXT_WHY_NO_STS,            /* no record passes the STSv1 filter */
	TXT_WHY_MANY,              /* n STSv1 records (TXT-3) */
	TXT_WHY_ID_LONG,           /* id of n characters */
	TXT_WHY_ID_EMPTY,
	TXT_WHY_ID_CHAR,           /* a non-ALNUM byte in the id at byte n (1-based) */
	TXT_WHY_NO_ID,
	TXT_WHY_TOO_LONG,          /* joined record over n (TXT_RECORD_MAX) bytes */
	TXT_WHY_SYNTAX             /* breaks the ABNF at byte n (1-based) */
};
struct txt_error {
	enum txt_why why;
	size_t n;
};
/* One joined TXT record: 1 = an STSv1 record and valid (id copied,
 * NUL-terminated), 0 = not an STSv1 record (ignored), -1 = an STSv1
 * record but invalid, with *err saying why. */
int policy_txt_check(const uint8_t *buf, size_t len, char id[TXT_ID_MAX + 1],
                     struct txt_error *err);
/* The same without the reason. */
int policy_txt_record(const uint8_t *buf, size_t len, char id[TXT_ID_MAX + 1]);
/* All TXT records of _mta-sts.<d>: exactly one STSv1 record must remain,
 * and it must be valid -> TXT_FOUND with id; else TXT_NONE, and *err (if
 * not NULL) says why: the first STSv1 record's fault, or how many there
 * were. */
enum txt_status policy_txt_select(const struct dns_result *r, char id[TXT_ID_MAX + 1],
                                  struct txt_error *err);
/* One line for a person, e.g. "TXT id has 40 characters (at most 32)";
 * qname is the name that was asked.  Returns the length snprintf gives. */
size_t policy_txt_explain(const struct txt_error *err, const char *qname, char *out,
                          size_t cap);
struct policy_error {
	int line;                  /* 1-based, 0 if not line-specific */
	const char *reason;        /* static string, e.g. "missing max_age" */
	const char *text;          /* static, for a person: "max_age not a number" */
	const uint8_t *value;      /* the mx value at fault (into the body), or NULL */
	size_t valuelen;
};
/* 0 = valid policy in *out; -1 = invalid with *err filled */
int policy_parse(const uint8_t *buf, size_t len, struct policy *out, struct policy_error *err);
/* One line for a person: "policy line 3: max_age not a number", "mx line
 * 2: '10.0.0.1' is an IP address" (the value quoted with non-printables
 * as \xNN), "policy: no mx line ...".  Returns the length snprintf gives;
 * err->value must still point into the body. */
size_t policy_error_explain(const struct policy_error *err, char *out, size_t cap);
/* What an answer is made of.  mx[0..mxlen) holds NUL-terminated patterns
 * as struct policy keeps them. */
struct policy_reply {
	enum sts_mode mode;
	uint32_t max_age;
	const char *mx;
	size_t mxlen;
	const char *domain;        /* policy_domain= (tlsrpt only) */
	int strict_testing;        /* answer testing like enforce */
	int sni;                   /* servername=hostname */
	int tlsrpt;                /* Postfix 3.10 TLSRPT attributes (PFX-4) */
};
/* The Postfix answer for a policy: "OK secure match=a:.b servername=hostname"
 * for enforce (or testing when strict_testing), then with tlsrpt
 * "policy_type=sts policy_domain=D", an mx_host_pattern per pattern and a
 * "{ policy_string = ... }" per policy line.  Returns its length, or 0 when
 * the answer is NOTFOUND (none, non-strict testing) or does not fit cap.
 * Never "OK " with empty data; in match=, "*.x" becomes ".x".  out NULL:
 * only count the length (whatever cap). */
size_t policy_answer(const struct policy_reply *r, char *out, size_t cap);
/* With nothing cached after a failed fetch of class cls, fetch_failure=fail
 * (RPT-4): "OK secure policy_type=sts policy_domain=D policy_failure=TYPE";
 * its length, or 0 (cls FETCH_OK, a bad domain, no room). */
size_t policy_failure_answer(const char *domain, enum fetch_class cls, char *out, size_t cap);
/* A static name: "none", "testing", "enforce". */
const char *policy_mode_str(enum sts_mode m);

/* ---- anchors.c: PEM CA bundle -> trust anchors ---------------------- */
struct anchors {
	br_x509_trust_anchor *ta;
	size_t n;
	unsigned gen;                   /* a new one at each load, never 0 */
	uint64_t *dnkey;                /* anchors_dn_key of each ta[i].dn */
	int all_ca;                     /* no end-entity (direct trust) anchor */
	/* private: storage owned by the loader */
	void *mem;
};
/* Load every certificate of a PEM bundle as trust anchors into *a, which
 * then owns one allocation (until anchors_free) that BearSSL contexts
 * point into.  0 ok (skipped objects logged), -1 with err. */
int anchors_load(struct anchors *a, const char *path, char *err, size_t errlen);
/* Free what anchors_load allocated and zero *a; a zeroed *a is fine. */
void anchors_free(struct anchors *a);

/* What an anchor takes from a certificate; pointers into the DER. */
struct cert_anchor {
	const unsigned char *dn;        /* subject Name, the whole TLV */
	size_t dnlen;
	int key_type;                   /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	const unsigned char *n, *e;     /* RSA, unsigned, no leading zeros */
	size_t nlen, elen;
	int curve;                      /* EC: BR_EC_secp256r1/384r1/521r1 */
	const unsigned char *q;
	size_t qlen;
	int is_ca;                      /* basicConstraints cA */
	const unsigned char *validity;  /* contents of the Validity SEQUENCE */
	size_t validitylen;
};
/* PEM certificates -> concatenated DER, in place; returns the DER length.
 * Broken certificate objects are dropped and counted in *skipped (which
 * the caller initialises).  Pure. */
size_t anchors_pem_to_der(unsigned char *buf, size_t len, int *skipped);
/* One DER certificate at der[0..len): 0, or -1 if it cannot be an anchor;
 * *used = its length (0: not even an outer SEQUENCE).  *a points into
 * der, with the CA flag as br_x509_decoder reads it.  Pure. */
int anchors_cert_parse(const unsigned char *der, size_t len, size_t *used,
                       struct cert_anchor *a);
/* The issuer Name TLV of the certificate at der[0..len): 0, or -1.  Pure. */
int anchors_cert_issuer(const unsigned char *der, size_t len,
                        const unsigned char **dn, size_t *dnlen);
/* The hashes its two signature algorithm fields name, as bits 1 << BearSSL
 * hash id; 0 if either is unknown or the certificate cut.  Pure. */
unsigned anchors_cert_sig_hashes(const unsigned char *der, size_t len);
/* First 8 bytes of the SHA-256 of a DN, as anchors->dnkey holds them. */
uint64_t anchors_dn_key(const unsigned char *dn, size_t len);

/* ---- x509cache.c: intermediates verified once ------------------------- */
#define XCHAIN_BUF 8192            /* leaf + intermediate held back, at most */
/* A br_x509_class in front of an x509_minimal context: it holds back the
 * first two certificates, then checks the leaf against the intermediate
 * remembered under the second one's SHA-256 (if any, still valid), else
 * the chain in full; a fully verified intermediate directly under an
 * anchor is remembered.  Embedded in its user, never moved once started. */
struct xchain {
	const br_x509_class *vtable;
	br_x509_minimal_context *xc;
	const struct anchors *ta;
	int pass;                  /* bytes go straight to xc now */
	int ncert, open;           /* held back so far; the last one unfinished */
	size_t off[2], clen[2], got[2], used;
	int via_cache;             /* the leaf was checked against a remembered one */
	int candidate;             /* certificate 2 checked under an anchor */
	unsigned char id[32];      /* SHA-256 of certificate 2 */
	br_x509_trust_anchor sel[4];    /* the anchors a certificate's issuer can be */
	unsigned char *buf;        /* the user's, free while certificates come */
	size_t cap;
};
struct xcache_stats {
	unsigned long hits, misses, added;
};
extern struct xcache_stats xcache_stats;
/* x509_minimal with the hashes and public-key code a TLS client needs */
void xchain_minimal_init(br_x509_minimal_context *xc, const struct anchors *ta);
/* Set up x in front of xc (which x's user starts and times); ta must
 * outlive it, and buf[0..cap) (up to XCHAIN_BUF used) must be free for x
 * until the chain ends.  A new ta->gen empties the cache at the next chain. */
void xchain_init(struct xchain *x, br_x509_minimal_context *xc, const struct anchors *ta,
                 unsigned char *buf, size_t cap);
/* Check the chain der[0..n) for name at (days, secs) as a handshake would,
 * through the cache: 0 or a BR_ERR_X509_* code; *via_cache 1 when the leaf
 * was checked against a remembered intermediate.  For tests. */
unsigned xchain_check(const struct anchors *ta, const char *name,
                      const unsigned char *const *der, const size_t *len, int n,
                      uint32_t days, uint32_t secs, int *via_cache);
void xcache_clear(void);
int xcache_count(void);            /* intermediates remembered */
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t days_from_civil(int64_t y, int m, int d);

/* ---- tls.c: non-blocking HTTPS GET ------------------------------------ */

struct tls_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};
struct tls_fetch {
	/* Small and hot fields first, big buffers last, so a fetch touches
	 * few pages (each touched page stays in RSS until the slot is freed). */
	/* public when done */
	enum fetch_class result;
	char reason[TLS_REASON_MAX];
	char why[160];             /* the same for a person (explanations) */
	char peer[64];             /* address connected to (or last tried), for logs */
	msec_t started, t_connect, t_handshake;  /* 0: not reached */
	/* private; contexts never move once started */
	int fd;
	int state;
	int cur;                   /* address being tried */
	int naddr;
	msec_t deadline;
	msec_t conn_deadline;      /* this address's share of the deadline */
	int conn_err;              /* errno of the last failed connect */
	int hs_done;               /* handshake over: application data flows */
	int heard;                 /* the server has sent something */
	int chain_on;              /* its certificates began: xc and xch are set up */
	size_t reqlen, reqsent;
	size_t outlen, outsent;    /* records gathered at body[0], sent of them */
	size_t inlen, inused;      /* bytes read ahead into in[], given of them */
	const struct anchors *ta;  /* the CA bundle the chain is checked under */
	const br_x509_class *xwrap_vtable;   /* SAN-only wrapper around xc */
	int san_seen;
	br_name_element san;       /* first SAN dNSName of the EE certificate */
	char san_name[DOMAIN_MAX + 2];
	char host[DOMAIN_MAX + 1];
	char req[512];
	struct tls_addr addr[2 * DNS_ADDR_MAX];
	br_ssl_client_context sc;
	br_x509_minimal_context xc;
	struct xchain xch;         /* between the SAN wrapper and xc */
	struct http_parser http;
	unsigned char iobuf[BR_SSL_BUFSIZE_MONO];
	uint8_t body[HTTP_BODY_MAX];
	/* a flight comes in with one recv where BearSSL asks for a header,
	 * then a record: last, so that a fetch the server never answers (the
	 * most a burst can hold at once) touches none of its pages */
	unsigned char in[1024];
};
/* Start GET https://host/.well-known/mta-sts.txt on the caller-owned f,
 * trying addrs in order (tls_fetch_port is set into each; the array is
 * copied) until deadline.  ta must outlive the fetch; f must not move. */
void tls_fetch_start(struct tls_fetch *f, const struct anchors *ta, const char *host,
                 const struct tls_addr *addrs, int naddr, msec_t now, msec_t deadline);
/* fd to poll (-1 if none right now), its events and the deadline to wake at */
int tls_fetch_poll(const struct tls_fetch *f, short *events, msec_t *deadline);
/* Returns 1 when done, else 0.  Done: result FETCH_OK with the body in
 * f->http.body/body_len, or a failure class with f->reason. */
int tls_fetch_step(struct tls_fetch *f, short revents, msec_t now);
/* Close the socket, if any; safe to call on a done or never-started fetch
 * whose fd is -1. */
void tls_fetch_abort(struct tls_fetch *f);
/* Move x25519 to the front of the supported_groups of the ClientHello
 * record r[0..len): 1 if it moved, 0 if not there, first, or r is not a
 * ClientHello record as BearSSL writes it.  Pure. */
int tls_hello_x25519_first(unsigned char *r, size_t len);
extern int tls_fetch_port;         /* HTTPS_PORT; tests may change it */

/* ---- conf.c ----------------------------------------------------------- */
struct zone {
	char name[ZONE_NAME_MAX + 1]; /* "" for the default zone */
	int strict_testing;          /* answer testing policies like enforce */
	int timeout;                 /* seconds, bounds DNS and HTTPS of a lookup */
	int require_sni;             /* append servername=hostname */
	int dane;                    /* DANE-1: decide DANE before MTA-STS */
	int dane_failure;            /* a DNSSEC lookup failed: 0 temp, 1 sts */
	int tlsrpt;                  /* TLSRPT attributes for Postfix >= 3.10 (PFX-4) */
	int fetch_failure;           /* 1: "fail", answer policy_failure (RPT-4) */
};
struct config {
	int nlisten;
	char listen[LISTEN_MAX][LISTEN_SPEC_MAX + 1];
	int socket_mode;
	int cache_size;              /* entries */
	int cache_grace;             /* seconds between TXT rechecks */
	char resolv_conf[256];
	int nnameserver;
	char nameserver[DNS_NS_MAX][64];
	char ca_file[256];
	int max_clients;
	int max_lookups;             /* domain lookups running at once */
	int idle_timeout;            /* seconds before an idle client is closed */
	char cache_file[256];        /* snapshot path, "" = none */
	int snapshot_interval;       /* seconds between snapshots (when changed) */
	int proactive_fetch;         /* refresh cached policies in the background */
	int proactive_interval;      /* seconds */
	int proactive_concurrency;   /* refreshes at once */
	int proactive_grace_ratio;   /* refresh policies older than interval/ratio */
	int refresh_unused_after;    /* seconds: no refresh of a policy not asked
	                              * for so long; 0 = refresh all, -1 (the
	                              * default) = proactive_interval */
	int backoff_max;             /* seconds: cap of the failure backoff */
	int shutdown_timeout;        /* seconds to finish requests on SIGTERM */
	int reuse_port;              /* SO_REUSEPORT on TCP listeners */
	char user[64];               /* drop root to this user, "" = stay */
	char control[LISTEN_SPEC_MAX + 1];   /* control socket "unix:/path", "" = none */
	char metrics_listen[LISTEN_SPEC_MAX + 1];  /* ADDR:PORT, "" = off */
	/* the shared cache: redis, or sentinels and a master name */
	char redis[LISTEN_SPEC_MAX + 1];     /* ADDR:PORT, [ADDR6]:PORT, unix:/path */
	char redis_prefix[64];               /* of every key written */
	int redis_db;
	char redis_password_file[256];       /* "password" or "user password" */
	int redis_timeout;                   /* seconds per command */
	int redis_nsentinel;
	char redis_sentinel[REDIS_SENTINELS_MAX][LISTEN_SPEC_MAX + 1];
	char redis_master[64];
	int use_syslog;
	int nzones;
	struct zone zone[ZONE_MAX];  /* [0] is the default zone */
};
/* Every setting to its built-in default. */
void conf_defaults(struct config *c);
/* Apply the text over *c (conf_defaults first): 0 ok, -1 with
 * "file:line: why" in err (then *c is partly applied).  Pure. */
int conf_parse(const char *buf, size_t len, const char *fname, struct config *c,
               char *err, size_t errlen);
/* Defaults, then the file; a missing file is fine unless must_exist.
 * 0, or -1 with "file: why" or "file:line: why" in err. */
int conf_load(const char *path, int must_exist, struct config *c, char *err, size_t errlen);
/* The zone named name[0..len), or the default zone; never NULL. */
const struct zone *conf_zone(const struct config *c, const char *name, size_t len);

/* ---- cache.c ---------------------------------------------------------- */
#define CACHE_NIL 0xffffffffu
enum cache_kind { CE_FREE = 0, CE_POLICY, CE_NOPOLICY,
	CE_DANE };                 /* only a DANE decision: MTA-STS not looked up */
struct cache_entry {
	uint32_t hash;
	uint32_t chain;              /* next in bucket / free list */
	uint32_t lru_prev, lru_next;
	uint32_t block;              /* first store block of "domain\0mx\0mx\0" */
	uint16_t datalen, domainlen; /* valid policies need < 34 KB (MX_DATA_MAX) */
	uint8_t kind;                /* enum cache_kind */
	uint8_t mode;                /* enum sts_mode, CE_POLICY only */
	uint8_t fail_class;          /* enum fetch_class of the last failure */
	uint16_t fails;              /* consecutive failed fetches */
	uint16_t job;                /* lookup job running for it + 1, 0 = none */
	uint32_t max_age;
	uint32_t used_wall;          /* UNIX time of the last socketmap request
	                              * for it, 0 never (refresh_unused_after).
	                              * With why_hash narrowed to 16 bits below,
	                              * the struct keeps its 144 bytes. */
	int64_t fetched_wall;        /* UNIX time of the successful fetch */
	msec_t expires;              /* fetched + max_age, monotonic */
	msec_t next_check;           /* revalidate on a lookup after this */
	msec_t retry_after;          /* no fetch for failed_id before this */
	char id[TXT_ID_MAX + 1];     /* TXT id the policy was fetched under */
	char failed_id[TXT_ID_MAX + 1];
	uint16_t why_hash;           /* hash of the last failure logged, 0 = none
	                              * (in the padding after failed_id) */
	uint8_t dane;                /* enum dane_state, for any kind (padding) */
	uint32_t checked_wall;       /* UNIX time of the last TXT check, 0 none
	                              * (in the tail padding: no growth) */
	uint32_t dane_until;         /* the DANE decision is current until this
	                              * monotonic second */
};
struct cache {
	uint32_t nentries, nbuckets, nblocks;
	uint32_t entry_mark, block_mark;   /* high-water marks */
	uint32_t free_entry, free_block, used_blocks, count;
	uint32_t lru_head[2], lru_tail[2]; /* [0] no policy, [1] policy */
	uint64_t evictions, evicted_usable;
	uint32_t *bucket;
	struct cache_entry *e;
	uint32_t *block_next;
	uint8_t (*block)[CACHE_BLOCK];
};
/* Allocate room for entries entries: 0, or -1 out of memory.  Entry
 * pointers returned below belong to the cache and stay valid until that
 * entry is dropped or evicted (by any later cache_store*). */
int cache_init(struct cache *c, uint32_t entries);
/* Free the tables; c is left empty (cache_init it again to reuse it). */
void cache_free(struct cache *c);
/* Find and mark recently used; NULL if absent */
struct cache_entry *cache_find(struct cache *c, const char *domain);
/* Insert or replace the data of domain's entry (metadata kept on replace);
 * evicts as needed: no-policy entries first, then the least recently used
 * policy, never a usable policy for a no-policy entry.  NULL if it cannot
 * be stored (on replace, the old entry is then dropped). */
struct cache_entry *cache_store(struct cache *c, const char *domain, enum cache_kind kind,
                                const char *mx, size_t mxlen, msec_t now);
/* cache_store of policy p fetched under TXT id at fetched_wall (UNIX
 * seconds), usable until expires; clears a failure backoff.  The caller
 * sets next_check.  NULL if it cannot be stored. */
struct cache_entry *cache_store_policy(struct cache *c, const char *domain,
                                       const struct policy *p, const char *id,
                                       int64_t fetched_wall, msec_t expires, msec_t now);
/* Remove e and free its blocks; e must not be used afterwards. */
void cache_drop(struct cache *c, struct cache_entry *e);
/* Copy an entry's data into buf (domain NUL patterns); *mx points to the
 * patterns in buf, *mxlen is their size.  Returns their count, or -1. */
int cache_read(const struct cache *c, const struct cache_entry *e, char *buf, size_t cap,
               const char **mx, size_t *mxlen);
/* Copy an entry's domain into out; returns its length */
size_t cache_domain(const struct cache *c, const struct cache_entry *e,
                    char out[DOMAIN_MAX + 1]);
/* 1 if e holds a policy that has not expired at now, else 0 */
int cache_usable(const struct cache_entry *e, msec_t now);

/* ---- control.c: the control socket's language (pure) and client -------- */
enum control_cmd {
	CTL_BAD = 0,
	CTL_DUMP,                  /* DUMP: one text line per cache entry */
	CTL_DUMP_JSON,             /* DUMP JSON: one JSON array */
	CTL_PURGE,                 /* PURGE <domain> */
	CTL_PURGE_ALL,             /* PURGE ALL */
	CTL_REFRESH,               /* REFRESH <domain>: a forced lookup now */
	CTL_STATS                  /* STATS: the metrics text */
};
struct control_request {
	enum control_cmd cmd;
	char domain[DOMAIN_MAX + 1];   /* PURGE, REFRESH: normalised (key.c) */
	const char *err;           /* CTL_BAD: static text for "ERR <err>" */
};
/* One command line buf[0..len), without its newline (a final \r is
 * ignored): 0 with *r, or -1 with r->err.  Command words are upper case,
 * separated from their argument by one space.  Pure. */
int control_parse(const char *buf, size_t len, struct control_request *r);
/* One dump entry; strings are NUL-terminated, NULL or "" when unknown. */
struct control_row {
	const char *domain;
	int policy;                /* 1: mode, fetched and expires apply */
	enum sts_mode mode;
	const char *id;
	const char *mx;            /* NUL-terminated patterns, mxlen bytes (0: none) */
	size_t mxlen;
	int64_t fetched, expires;  /* UNIX seconds */
	int64_t checked;           /* UNIX seconds of the last TXT check, 0 unknown */
	int fails;                 /* failures in a row, -1 unknown */
	const char *failure;       /* type of the last failure, NULL none */
};
/* The entry as one text line (with its newline) or one JSON object
 * (without) into out[cap], NUL-terminated; its length, or 0 when it does
 * not fit.  Pure. */
size_t control_format_row(const struct control_row *r, int json, char *out, size_t cap);
/* mtasts -d/-p/-r/-S: send command (DUMP, PURGE, REFRESH, STATS) with arg
 * (or NULL) to the control socket ("unix:/path"), print the answer;
 * DUMP with arg reads the snapshot file arg instead.  Exit code: 0 ok,
 * 1 the daemon answered an error, 2 no answer or bad use. */
int control_client(const char *control, const char *command, const char *arg, int json);

/* ---- snapshot.c: the cache on disk ---------------------------------------- */
struct snap_record {
	char domain[DOMAIN_MAX + 1];
	char id[TXT_ID_MAX + 1];
	int64_t fetched;             /* UNIX time of the fetch */
	struct policy pol;
	/* a "D" record (DANE decision) has dane != DANE_UNKNOWN, and only
	 * domain, dane and dane_until are set */
	uint8_t dane;
	int64_t dane_until;          /* UNIX time the decision expires */
};
struct snap_stats {
	int loaded, expired, bad;
	int bad_line;                /* last bad line, for the log */
	int complete;                /* the end marker was found */
	const char *why;             /* last problem, static string */
};
/* r is only valid during the call */
typedef void (*snap_cb)(void *arg, const struct snap_record *r);
/* CRC-32 (IEEE 802.3, as zlib) of buf[0..len) */
uint32_t snapshot_crc32(const void *buf, size_t len);
/* Pure: every valid, unexpired record goes to cb; 0 with counts in *st,
 * or -1 if the whole file is unusable (foreign, future version), with
 * st->why (a static string). */
int snapshot_parse(const char *buf, size_t len, int64_t now_wall, snap_cb cb, void *arg,
                   struct snap_stats *st);
/* The cache's usable policies to path: temp file + fsync + rename, so
 * the file is the old one or the new one, never a mix.  Returns the
 * records written, or -1 with err. */
int snapshot_write(const struct cache *c, const char *path, msec_t now,
                   char *err, size_t errlen);

#endif
