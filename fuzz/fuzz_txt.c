/* fuzz_txt.c - policy_txt_record on the whole input, and policy_txt_select on the
 * input cut into records at each '\n' (the last byte of each record picks
 * the too_long flag when it is '!').  The selection must agree with the
 * per-record results. */
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

static int
check_record(const uint8_t *data, size_t size, char id[TXT_ID_MAX + 1])
{
	size_t i, n;
	int rc;

	memset(id, 'X', TXT_ID_MAX + 1);
	rc = policy_txt_record(data, size, id);
	n = strnlen(id, TXT_ID_MAX + 1);
	if (n > TXT_ID_MAX)
		abort();
	if (rc == 1) {
		if (n == 0)
			abort();
		for (i = 0; i < n; i++)
			if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
			    (id[i] >= '0' && id[i] <= '9')))
				abort();
		/* a valid record is printable ASCII (TXT-2) */
		for (i = 0; i < size; i++)
			if ((data[i] < 0x20 && data[i] != '\t') || data[i] > 0x7e)
				abort();
	} else if (rc == 0 || rc == -1) {
		if (n != 0)
			abort();
	} else {
		abort();
	}
	if (rc != 0 && (size < 8 || memcmp(data, "v=STSv1", 7) != 0))
		abort();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_result r;
	char id[TXT_ID_MAX + 1], sel[TXT_ID_MAX + 1], first[TXT_ID_MAX + 1] = "";
	char why[200];
	struct txt_error te;
	size_t off = 0, used = 0;
	int sts = 0, valid = 0, rc;

	check_record(data, size, id);

	memset(&r, 0, sizeof r);
	while (off < size && r.ntxt < DNS_TXT_MAX) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl != NULL ? (size_t)(nl - data) - off : size - off;
		struct dns_txt_rr *t = &r.txt[r.ntxt++];
		int too_long = len > 0 && data[off + len - 1] == '!';

		if (len > TXT_RECORD_MAX || len > sizeof r.txtbuf - used)
			break;
		t->off = (uint16_t)used;
		t->len = (uint16_t)len;
		t->too_long = (uint8_t)too_long;
		memcpy(r.txtbuf + used, data + off, len);
		used += len;
		if (too_long) {
			/* competes unless its start shows it is not STSv1 */
			size_t k = len < 7 ? len : 7, w = k;
			if (memcmp(data + off, "v=STSv1", k) == 0) {
				while (w < len && (data[off + w] == ' ' || data[off + w] == '\t'))
					w++;
				if (w == len || data[off + w] == ';')
					sts++;
			}
		} else {
			rc = check_record(data + off, len, id);
			if (rc != 0)
				sts++;
			if (rc == 1 && valid++ == 0)
				memcpy(first, id, sizeof id);
		}
		off += len + 1;
	}
	if (policy_txt_select(&r, sel, &te) == TXT_FOUND) {
		if (sts != 1 || valid != 1 || strcmp(sel, first) != 0 || te.why != TXT_WHY_OK)
			abort();
	} else if ((sts == 1 && valid == 1) || sel[0] != '\0' ||
	    (sts > 1) != (te.why == TXT_WHY_MANY) || (sts == 0 && te.why != TXT_WHY_NO_STS)) {
		abort();
	}
	if (policy_txt_explain(&te, "_mta-sts.example.com", why, sizeof why) == 0)
		abort();
	return 0;
}
