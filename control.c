/*
 * control.c - the control socket's language, and its client (mtasts -d,
 * -p, -r, -S).
 *
 * A client sends one command per line; the daemon answers with zero or
 * more lines of data and then one status line, "OK <text>" or
 * "ERR <text>", and waits for the next command.  The parser and the dump
 * formatter are pure (the daemon side is controld.c); the client runs as
 * its own short process, so it may block, bounded by socket timeouts.
 *
 * One dump line per cache entry, fields separated by one space:
 *   domain mode=M id=I mx=A,B fetched=T expires=T checked=T fails=N failure=F
 * where T is UTC ISO 8601 ("2026-12-02T16:00:00Z") and "-" is unknown or
 * not applicable.  With JSON, the whole dump is one array of objects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "mtasts.h"

/* ---- the command parser (pure) ---------------------------------------- */

static const struct {
	const char *word;
	enum control_cmd cmd;
	int arg;                /* 1: takes a domain (or ALL for PURGE) */
} commands[] = {
	{ "DUMP", CTL_DUMP, 0 },
	{ "PURGE", CTL_PURGE, 1 },
	{ "REFRESH", CTL_REFRESH, 1 },
	{ "STATS", CTL_STATS, 0 },
};

static int
word_is(const char *buf, size_t len, const char *w)
{
	return strlen(w) == len && memcmp(buf, w, len) == 0;
}

int
control_parse(const char *buf, size_t len, struct control_request *r)
{
	size_t i, wlen, alen;
	const char *arg;

	r->cmd = CTL_BAD;
	r->domain[0] = '\0';
	r->err = "unknown command";
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	for (wlen = 0; wlen < len && buf[wlen] != ' '; wlen++)
		;
	arg = buf + wlen;
	alen = len - wlen;
	if (alen > 0) {                 /* exactly one space before an argument */
		arg++;
		alen--;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (word_is(buf, wlen, commands[i].word))
			break;
	if (i == sizeof commands / sizeof commands[0])
		return -1;
	if (commands[i].cmd == CTL_DUMP && wlen < len) {
		if (!word_is(arg, alen, "JSON"))
			return r->err = "expected DUMP or DUMP JSON", -1;
		r->cmd = CTL_DUMP_JSON;
		return 0;
	}
	if (!commands[i].arg) {
		if (wlen < len)
			return r->err = "no argument expected", -1;
		r->cmd = commands[i].cmd;
		return 0;
	}
	if (wlen == len || alen == 0)
		return r->err = "missing domain", -1;
	if (commands[i].cmd == CTL_PURGE && word_is(arg, alen, "ALL")) {
		r->cmd = CTL_PURGE_ALL;
		return 0;
	}
	if (key_normalize(arg, alen, r->domain) != KEY_OK) {
		r->domain[0] = '\0';
		return r->err = "not a policy domain", -1;
	}
	r->cmd = commands[i].cmd;
	return 0;
}

/* ---- the dump formatter (pure) ---------------------------------------- */

/* UNIX seconds as "2026-12-02T16:00:00Z" into out[21], or "-" for 0. */
static void
utc_text(int64_t t, char out[UTC_TIME_MAX])
{
	if (t <= 0 || utc_time(t, out) == 0)
		strlcpy_m(out, "-", UTC_TIME_MAX);
}

/* Append s to out[cap] at *n; 0, or -1 when it does not fit (*n then
 * runs past cap, so every later append fails too). */
static int
put(char *out, size_t cap, size_t *n, const char *s)
{
	size_t l = strlen(s);

	if (*n + l >= cap) {
		*n = cap;
		return -1;
	}
	memcpy(out + *n, s, l);
	*n += l;
	return 0;
}

static size_t
row_text(const struct control_row *r, char *out, size_t cap)
{
	char t[3][UTC_TIME_MAX], num[24];
	size_t n = 0, i;

	utc_text(r->policy ? r->fetched : 0, t[0]);
	utc_text(r->policy ? r->expires : 0, t[1]);
	utc_text(r->checked, t[2]);
	put(out, cap, &n, r->domain);
	put(out, cap, &n, " mode=");
	put(out, cap, &n, r->policy ? policy_mode_str(r->mode) : "-");
	put(out, cap, &n, " id=");
	put(out, cap, &n, r->id != NULL && r->id[0] != '\0' ? r->id : "-");
	put(out, cap, &n, " mx=");
	for (i = 0; i < r->mxlen; i += strlen(r->mx + i) + 1) {
		if (i > 0)
			put(out, cap, &n, ",");
		put(out, cap, &n, r->mx + i);
	}
	if (r->mxlen == 0)
		put(out, cap, &n, "-");
	put(out, cap, &n, " fetched=");
	put(out, cap, &n, t[0]);
	put(out, cap, &n, " expires=");
	put(out, cap, &n, t[1]);
	put(out, cap, &n, " checked=");
	put(out, cap, &n, t[2]);
	put(out, cap, &n, " fails=");
	if (r->fails < 0)
		put(out, cap, &n, "-");
	else {
		snprintf(num, sizeof num, "%d", r->fails);
		put(out, cap, &n, num);
	}
	put(out, cap, &n, " failure=");
	put(out, cap, &n, r->failure != NULL ? r->failure : "-");
	if (put(out, cap, &n, "\n") < 0)
		return 0;
	out[n] = '\0';
	return n;
}

static void
json_time(struct json *w, const char *key, int64_t t)
{
	json_raw(w, ",");
	json_key(w, key);
	if (t > 0)
		json_int(w, t);
	else
		json_raw(w, "null");
}

static void
json_text(struct json *w, const char *key, const char *s)
{
	json_raw(w, ",");
	json_key(w, key);
	if (s != NULL && s[0] != '\0')
		json_str(w, s, strlen(s));
	else
		json_raw(w, "null");
}

static size_t
row_json(const struct control_row *r, char *out, size_t cap)
{
	struct json w;
	size_t i;

	json_init(&w, out, cap);
	json_raw(&w, "{");
	json_key(&w, "domain");
	json_str(&w, r->domain, strlen(r->domain));
	json_text(&w, "mode", r->policy ? policy_mode_str(r->mode) : NULL);
	json_text(&w, "id", r->id);
	json_raw(&w, ",");
	json_key(&w, "mx");
	json_raw(&w, "[");
	for (i = 0; i < r->mxlen; i += strlen(r->mx + i) + 1) {
		if (i > 0)
			json_raw(&w, ",");
		json_str(&w, r->mx + i, strlen(r->mx + i));
	}
	json_raw(&w, "]");
	json_time(&w, "fetched", r->policy ? r->fetched : 0);
	json_time(&w, "expires", r->policy ? r->expires : 0);
	json_time(&w, "checked", r->checked);
	json_raw(&w, ",");
	json_key(&w, "fails");
	if (r->fails < 0)
		json_raw(&w, "null");
	else
		json_int(&w, r->fails);
	json_text(&w, "failure", r->failure);
	json_raw(&w, "}");
	return w.over ? 0 : w.len;
}

size_t
control_format_row(const struct control_row *r, int json, char *out, size_t cap)
{
	return json ? row_json(r, out, cap) : row_text(r, out, cap);
}

/* ---- mtasts -d FILE: a snapshot instead of a daemon ------------------- */

struct snap_dump {
	int json, n;
};

static void
snap_row(void *arg, const struct snap_record *s)
{
	struct snap_dump *sd = arg;
	char line[CONTROL_ROW_MAX];
	struct control_row r;

	if (s->dane != DANE_UNKNOWN)
		return;                 /* a DANE decision: not a policy row */
	memset(&r, 0, sizeof r);
	r.domain = s->domain;
	r.policy = 1;
	r.mode = s->pol.mode;
	r.id = s->id;
	r.mx = s->pol.mx;
	r.mxlen = s->pol.mxlen;
	r.fetched = s->fetched;
	r.expires = s->fetched + (int64_t)s->pol.max_age;
	r.fails = -1;                   /* a snapshot keeps no check history */
	if (control_format_row(&r, sd->json, line, sizeof line) == 0)
		return;
	if (sd->json)
		fputs(sd->n == 0 ? "[\n" : ",\n", stdout);
	fputs(line, stdout);
	sd->n++;
}

static int
dump_file(const char *path, int json)
{
	struct snap_dump sd = { json, 0 };
	struct snap_stats st;
	char err[300], *buf;
	size_t len;

	if ((buf = read_file(path, SNAP_FILE_MAX, &len, err, sizeof err)) == NULL) {
		fprintf(stderr, "mtasts: %s\n", err);
		return 2;
	}
	if (snapshot_parse(buf, len, wall_now(), snap_row, &sd, &st) < 0) {
		fprintf(stderr, "mtasts: %s: %s\n", path, st.why);
		free(buf);
		return 2;               /* not a snapshot this version reads */
	}
	free(buf);
	if (json)
		fputs(sd.n == 0 ? "[]\n" : "\n]\n", stdout);
	if (st.bad > 0 || !st.complete)
		fprintf(stderr, "mtasts: %s: damaged (%s, line %d); its valid records shown\n",
		    path, st.why ? st.why : "cut short", st.bad_line);
	return 0;
}

/* ---- the client ------------------------------------------------------- */

/* Print the reply from fd: data lines to stdout, the final status line
 * to stdout (OK, when show_ok) or stderr (ERR).  0 OK, 1 ERR, 2 cut. */
static int
read_reply(int fd, const char *path, int show_ok)
{
	char buf[CONTROL_ROW_MAX + 64];
	size_t len = 0, i, start;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf + len, sizeof buf - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		for (start = 0, i = 0; i < len; i++) {
			if (buf[i] != '\n')
				continue;
			if (!strncmp(buf + start, "OK", 2) && (buf[start + 2] == ' ' ||
			    buf[start + 2] == '\n')) {
				if (show_ok)
					fwrite(buf + start, 1, i + 1 - start, stdout);
				return 0;
			}
			if (!strncmp(buf + start, "ERR ", 4)) {
				fprintf(stderr, "mtasts: %.*s\n", (int)(i - start), buf + start);
				return 1;
			}
			fwrite(buf + start, 1, i + 1 - start, stdout);
			start = i + 1;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		if (len == sizeof buf)  /* a line longer than any the daemon sends */
			break;
	}
	fprintf(stderr, "mtasts: %s: %s\n", path, n < 0 ? strerror(errno) :
	    "connection closed before the end of the answer");
	return 2;
}

int
control_client(const char *control, const char *command, const char *arg, int json)
{
	struct timeval tv = { CONTROL_CLIENT_TIMEOUT_MS / 1000, 0 };
	struct sockaddr_un sun;
	char line[CONTROL_LINE_MAX + 2];
	int fd, rc, n;

	if (!strcmp(command, "DUMP") && arg != NULL)
		return dump_file(arg, json);
	if (control[0] == '\0') {
		fprintf(stderr, "mtasts: no control socket configured (control = unix:/path)\n");
		return 2;
	}
	if (strncmp(control, "unix:", 5) != 0 || strlen(control + 5) >= sizeof sun.sun_path) {
		fprintf(stderr, "mtasts: control %s: expected unix:/path\n", control);
		return 2;
	}
	if (arg != NULL && !strcmp(command, "PURGE") && !strcmp(arg, "all"))
		arg = "ALL";
	n = snprintf(line, sizeof line, "%s%s%s%s\n", command, json ? " JSON" : "",
	    arg != NULL ? " " : "", arg != NULL ? arg : "");
	if (n < 0 || (size_t)n >= sizeof line) {
		fprintf(stderr, "mtasts: %s: too long\n", arg != NULL ? arg : command);
		return 2;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strlcpy_m(sun.sun_path, control + 5, sizeof sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "mtasts: socket: %s\n", strerror(errno));
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "mtasts: %s: %s\n", sun.sun_path, strerror(errno));
		close(fd);
		return 2;
	}
	shutdown(fd, SHUT_WR);
	rc = read_reply(fd, sun.sun_path, strcmp(command, "PURGE") == 0 ||
	    strcmp(command, "REFRESH") == 0);
	close(fd);
	return rc;
}
