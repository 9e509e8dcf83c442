/* unit_json.c - the JSON writer: escapes, numbers, structure, and what
 * happens when the buffer is too small */
#include <string.h>

#include "mtasts.h"
#include "unit.h"

static void
test_escapes(void)
{
	char buf[256];
	struct json w;

	json_init(&w, buf, sizeof buf);
	json_str(&w, "a\"b\\c", 5);
	CHECK_STR(buf, "\"a\\\"b\\\\c\"");

	json_init(&w, buf, sizeof buf);
	json_str(&w, "\n\t\x01\x1f\x7f", 5);
	CHECK_STR(buf, "\"\\u000a\\u0009\\u0001\\u001f\\u007f\"");

	/* non-ASCII and a NUL inside the length: escaped, never raw */
	json_init(&w, buf, sizeof buf);
	json_str(&w, "\xc3\xa9x\0y", 5);
	CHECK_STR(buf, "\"\\u00c3\\u00a9x\\u0000y\"");
	CHECK_INT(w.over, 0);

	json_init(&w, buf, sizeof buf);
	json_str(&w, "", 0);
	CHECK_STR(buf, "\"\"");
}

static void
test_object(void)
{
	char buf[256];
	struct json w;

	json_init(&w, buf, sizeof buf);
	json_raw(&w, "{");
	json_key(&w, "domain");
	json_str(&w, "example.com", 11);
	json_raw(&w, ",");
	json_key(&w, "max_age");
	json_int(&w, 604800);
	json_raw(&w, ",");
	json_key(&w, "neg");
	json_int(&w, -9223372036854775807LL - 1);
	json_raw(&w, "}");
	CHECK_STR(buf, "{\"domain\":\"example.com\",\"max_age\":604800,"
	    "\"neg\":-9223372036854775808}");
	CHECK_INT(w.over, 0);
	CHECK_INT(w.len, strlen(buf));
}

static void
test_overflow(void)
{
	char buf[8];
	struct json w;

	/* 7 characters and the NUL fit exactly */
	json_init(&w, buf, sizeof buf);
	json_str(&w, "abcde", 5);
	CHECK_STR(buf, "\"abcde\"");
	CHECK_INT(w.over, 0);
	/* one more does not, and nothing after it is appended */
	json_raw(&w, "x");
	CHECK_INT(w.over, 1);
	CHECK_STR(buf, "\"abcde\"");
	json_raw(&w, "");
	CHECK_INT(w.len, 7);

	/* an escape that would be split is left out whole */
	json_init(&w, buf, sizeof buf);
	json_str(&w, "ab\x01", 3);
	CHECK_INT(w.over, 1);
	CHECK_STR(buf, "\"ab");

	json_init(&w, buf, 0);
	CHECK_INT(w.over, 1);
	json_raw(&w, "x");
	CHECK_INT(w.len, 0);
}

int
main(void)
{
	test_escapes();
	test_object();
	test_overflow();
	UNIT_DONE();
}
