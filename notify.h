/*
 * notify.h - glue to service managers, kept apart from the loop.
 *   notify_  notify.c   sd_notify-style datagrams to $NOTIFY_SOCKET
 *   health_  health.c   -H: a one-shot socketmap probe for health checks
 */
#ifndef NOTIFY_H
#define NOTIFY_H

/* ---- notify.c ---------------------------------------------------------- */
/* Each call sends one datagram to the AF_UNIX socket named by the
 * environment variable NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace), as systemd's Type=notify expects.  Without the variable they
 * do nothing.  They never block and never fail the daemon: a send that
 * does not go through is logged once as a warning and forgotten.
 * Returns 1 sent, 0 no NOTIFY_SOCKET, -1 not sent. */
int notify_send(const char *state);
int notify_ready(void);         /* "READY=1": listening, snapshot loaded */
int notify_reloading(void);     /* "RELOADING=1" + "MONOTONIC_USEC=now" */
int notify_stopping(void);      /* "STOPPING=1" */

/* ---- health.c ---------------------------------------------------------- */
/* Connect to ADDR:PORT, [ADDR6]:PORT or unix:/path, ask the socketmap
 * question "postfix [127.0.0.1]" (an IP literal, which mtasts answers
 * NOTFOUND at once with no lookup) and expect exactly that answer within
 * HEALTH_TIMEOUT_MS.  Returns the exit code: 0 healthy, 1 not (the reason
 * on stderr), 2 bad address. */
#define HEALTH_TIMEOUT_MS 3000
int health_check(const char *addr);

#endif
