/* fuzz_conf.c - the mta-sts.conf parser on arbitrary text: never crashes,
 * and a successful parse leaves every value inside its documented range. */
#include <stdlib.h>
#include <string.h>
#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c;
	char err[256];
	int i;

	conf_defaults(&c);
	if (conf_parse((const char *)data, size, "fuzz.conf", &c, err, sizeof err) < 0) {
		if (strncmp(err, "fuzz.conf:", 10) != 0)
			abort();        /* every error names file and line */
		return 0;
	}
	if (c.nlisten < 1 || c.nlisten > LISTEN_MAX || c.nzones < 1 || c.nzones > ZONE_MAX)
		abort();
	if (c.cache_size < 1 || c.max_clients < 1 || c.max_lookups < 1)
		abort();
	for (i = 0; i < c.nzones; i++)
		if (c.zone[i].timeout < 1 || c.zone[i].timeout > 300)
			abort();
	(void)conf_zone(&c, (const char *)data, size < ZONE_NAME_MAX ? size : ZONE_NAME_MAX);
	return 0;
}
