/* fuzz_control.c - the control socket's command parser on arbitrary lines:
 * never reads past len, and what it accepts is one of the commands with a
 * valid policy domain; the parsed command, formatted back, parses the same. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const words[] = {
	[CTL_DUMP] = "DUMP", [CTL_DUMP_JSON] = "DUMP JSON", [CTL_PURGE] = "PURGE ",
	[CTL_PURGE_ALL] = "PURGE ALL", [CTL_REFRESH] = "REFRESH ", [CTL_STATS] = "STATS",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request r, again;
	char line[CONTROL_LINE_MAX + 16], domain[DOMAIN_MAX + 1];
	struct control_row row;
	int rc;

	if (size > CONTROL_LINE_MAX + 1)
		size = CONTROL_LINE_MAX + 1;    /* the daemon never passes more */
	rc = control_parse((const char *)data, size, &r);
	if (rc < 0) {
		if (r.cmd != CTL_BAD || r.err == NULL || r.domain[0] != '\0')
			abort();
		return 0;
	}
	if (r.cmd <= CTL_BAD || r.cmd > CTL_STATS)
		abort();
	if (r.cmd == CTL_PURGE || r.cmd == CTL_REFRESH) {
		if (key_normalize(r.domain, strlen(r.domain), domain) != KEY_OK ||
		    strcmp(domain, r.domain) != 0)
			abort();
	} else if (r.domain[0] != '\0')
		abort();
	/* the canonical line means the same */
	strcpy(line, words[r.cmd]);
	if (r.cmd == CTL_PURGE || r.cmd == CTL_REFRESH)
		strcat(line, r.domain);
	if (control_parse(line, strlen(line), &again) != 0 || again.cmd != r.cmd ||
	    strcmp(again.domain, r.domain) != 0)
		abort();
	/* and an entry of that domain formats into a row that fits */
	memset(&row, 0, sizeof row);
	row.domain = r.domain[0] ? r.domain : "example.com";
	row.mx = row.domain;
	row.mxlen = strlen(row.domain) + 1;
	row.policy = 1;
	row.fetched = (int64_t)size * 1000003;
	row.expires = row.fetched + MAX_AGE_MAX;
	if (control_format_row(&row, 0, line, sizeof line) == 0 &&
	    strlen(row.domain) < 200)
		abort();
	return 0;
}
