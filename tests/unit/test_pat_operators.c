/* tests/unit/test_pat_operators.c — edge cases of every operator from reference §3.2–3.4: value
 * semantics (one pattern, one event, expected result) and invalid patterns with exact reason texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/pattern/pat.h"

static int check(const char *pat, const char *ev)
{
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	bb_err e = pat_compile(pat, strlen(pat), NULL, &r, reason, sizeof(reason));
	if (e) {
		print_error("compile failed: %s: %s\n", pat, reason);
		return -1;
	}
	bool m = false;
	e = pat_match_rule(r, ev, strlen(ev), &m);
	pat_rule_free(r);
	if (e)
		return -2;
	return m ? 1 : 0;
}

#define T(p, e) assert_int_equal(check(p, e), 1)
#define F(p, e) assert_int_equal(check(p, e), 0)

/* The reason's message must be want; the Jackson locations Java appends after it (test_pat_conformance
 * checks them against event-ruler's) are not compared here. */
static void err(const char *pat, const char *want)
{
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	bb_err e = pat_compile(pat, strlen(pat), NULL, &r, reason, sizeof(reason));
	char *loc = strstr(reason, "\n at [Source: (String)\"");
	if (e == BB_EPATTERN && loc)
		*loc = 0;
	if (e != BB_EPATTERN || strcmp(reason, want)) {
		print_error("pattern %s\n want: %s\n got:  %s\n", pat, want, e ? reason : "(ok)");
		fail();
	}
}

static void exact_and_types(void **st)
{
	(void)st;
	T("{\"a\":[\"x\"]}", "{\"a\":\"x\"}");
	F("{\"a\":[\"x\"]}", "{\"a\":\"X\"}");
	F("{\"a\":[\"5\"]}", "{\"a\":5}");
	T("{\"a\":[300]}", "{\"a\":300.0}");
	T("{\"a\":[300]}", "{\"a\":3.0e2}");
	F("{\"a\":[27.807807921694092]}", "{\"a\":27.80780792169409}");
	T("{\"a\":[null]}", "{\"a\":null}");
	F("{\"a\":[null]}", "{\"b\":1}");
	F("{\"a\":[null]}", "{\"a\":\"\"}");
	T("{\"a\":[\"\"]}", "{\"a\":\"\"}");
	T("{\"a\":[true]}", "{\"a\":true}");
	F("{\"a\":[true]}", "{\"a\":\"true\"}");
	T("{\"a\":[\"x\"]}", "{\"a\":[\"y\",\"x\"]}");
	T("{\"a\":[\"x\"]}", "{\"a\":[[\"x\"]]}");
	T("{\"a\":{\"b\":[1]}}", "{\"a.b\":1}");
	T("{\"a.b\":[1]}", "{\"a\":{\"b\":1}}");
	F("{\"a\":{\"b\":[1]}}", "{\"a\":1}");
	T("{\"a\":[\"x\"],\"a\":[\"y\"]}", "{\"a\":\"y\"}");
	F("{\"a\":[\"x\"],\"a\":[\"y\"]}", "{\"a\":\"x\"}");
	T("{\"a\":[\"10.0.0.1\"]}", "{\"a\":\"10.0.0.1\"}");
}

static void string_operators(void **st)
{
	(void)st;
	T("{\"a\":[{\"prefix\":\"ab\"}]}", "{\"a\":\"abc\"}");
	F("{\"a\":[{\"prefix\":\"ab\"}]}", "{\"a\":\"xab\"}");
	T("{\"a\":[{\"prefix\":\"\"}]}", "{\"a\":\"\"}");
	F("{\"a\":[{\"prefix\":\"1\"}]}", "{\"a\":12}");
	T("{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"AB\"}}]}", "{\"a\":\"abX\"}");
	T("{\"a\":[{\"suffix\":\".png\"}]}", "{\"a\":\"x.png\"}");
	F("{\"a\":[{\"suffix\":\".png\"}]}", "{\"a\":\"x.PNG\"}");
	T("{\"a\":[{\"suffix\":{\"equals-ignore-case\":\".png\"}}]}", "{\"a\":\"x.PNG\"}");
	T("{\"a\":[{\"equals-ignore-case\":\"abc\"}]}", "{\"a\":\"AbC\"}");
	T("{\"a\":[{\"equals-ignore-case\":\"straße\"}]}", "{\"a\":\"STRASSE\"}");
	T("{\"a\":[{\"equals-ignore-case\":\"ΣΊΣΥΦΟΣ\"}]}", "{\"a\":\"σίσυφοσ\"}");
	/* the bytes next to the letters ('@' before 'A', '[' after 'Z', and their lowercase neighbours '`'
	 * and '{') are not letters, in short values (folded in their words, which needs 16 readable bytes
	 * after the value: hence the padding member) and long ones (folded by copy) */
	T("{\"a\":[{\"equals-ignore-case\":\"x@[y\"}]}", "{\"a\":\"X@[Y\",\"pad\":\"0123456789abcdef\"}");
	F("{\"a\":[{\"equals-ignore-case\":\"x`{y\"}]}", "{\"a\":\"X@[Y\",\"pad\":\"0123456789abcdef\"}");
	F("{\"a\":[{\"equals-ignore-case\":\"x@[y\"}]}", "{\"a\":\"x`{y\",\"pad\":\"0123456789abcdef\"}");
	T("{\"a\":[{\"equals-ignore-case\":\"abcdefghijklmnop\"}]}", "{\"a\":\"ABCDEFGHIJKLMNOP\",\"pad\":\"0123456789abcdef\"}");
	T("{\"a\":[{\"equals-ignore-case\":\"abcdefghijklmnopq\"}]}", "{\"a\":\"ABCDEFGHIJKLMNOPQ\",\"pad\":\"0123456789abcdef\"}");
	F("{\"a\":[{\"equals-ignore-case\":\"abcdefghijklmnop\"}]}", "{\"a\":\"ABCDEFGHIJKLMNO@\",\"pad\":\"0123456789abcdef\"}");
	T("{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"z@\"}}]}", "{\"a\":\"Z@[\",\"pad\":\"0123456789abcdef\"}");
	F("{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"z`\"}}]}", "{\"a\":\"Z@[\",\"pad\":\"0123456789abcdef\"}");
	T("{\"a\":[{\"suffix\":{\"equals-ignore-case\":\"@[\"}}]}", "{\"a\":\"Z@[\",\"pad\":\"0123456789abcdef\"}");
	F("{\"a\":[{\"suffix\":{\"equals-ignore-case\":\"`{\"}}]}", "{\"a\":\"Z@[\",\"pad\":\"0123456789abcdef\"}");
	/* short values compared by their first word: a prefix holding a NUL byte, or longer than the
	 * value, must not meet the value's zero padding */
	F("{\"a\":[{\"prefix\":\"ab\\u0000\"}]}", "{\"a\":\"ab\",\"pad\":\"0123456789abcdef\"}");
	T("{\"a\":[{\"prefix\":\"ab\\u0000\"}]}", "{\"a\":\"ab\\u0000c\",\"pad\":\"0123456789abcdef\"}");
	F("{\"a\":[{\"prefix\":\"abcd\"}]}", "{\"a\":\"abc\",\"pad\":\"0123456789abcdef\"}");
	T("{\"a\":[{\"prefix\":\"abcd\"}]}", "{\"a\":\"abcd\",\"pad\":\"0123456789abcdef\"}");
	/* an ASCII value whose lowered words find a non-ASCII pattern's fold key is still confirmed
	 * (Kelvin sign: its lowercase is 'k', its uppercase itself, so 'K' is not among them) */
	T("{\"a\":[{\"equals-ignore-case\":\"\u212a\"}]}", "{\"a\":\"k\",\"pad\":\"0123456789abcdef\"}");
	F("{\"a\":[{\"equals-ignore-case\":\"\u212a\"}]}", "{\"a\":\"K\",\"pad\":\"0123456789abcdef\"}");
	T("{\"a\":[{\"equals-ignore-case\":\"k\"}]}", "{\"a\":\"K\",\"pad\":\"0123456789abcdef\"}");
	F("{\"a\":[{\"equals-ignore-case\":\"k\"}]}", "{\"a\":\"\u212a\",\"pad\":\"0123456789abcdef\"}");
	T("{\"a\":[{\"equals-ignore-case\":\"привет\"}]}", "{\"a\":\"ПРИВЕТ\"}");
	F("{\"a\":[{\"equals-ignore-case\":\"abc\"}]}", "{\"a\":\"abd\"}");
	T("{\"a\":[{\"wildcard\":\"*/lib/*.png\"}]}", "{\"a\":\"x/lib/y.png\"}");
	T("{\"a\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"a\":\"a*b\"}");
	F("{\"a\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"a\":\"axb\"}");
	T("{\"a\":[{\"wildcard\":\"a\\\\\\\\b\"}]}", "{\"a\":\"a\\\\b\"}");
	T("{\"a\":[{\"wildcard\":\"*\"}]}", "{\"a\":\"\"}");
	F("{\"a\":[{\"wildcard\":\"*\"}]}", "{\"a\":1}");
}

static void numeric_cidr_exists(void **st)
{
	(void)st;
	T("{\"a\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"a\":5}");
	F("{\"a\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"a\":0}");
	F("{\"a\":[{\"numeric\":[\">\",0]}]}", "{\"a\":\"5\"}");
	T("{\"a\":[{\"numeric\":[\"=\",301.8]}]}", "{\"a\":3.018e2}");
	T("{\"a\":[{\"numeric\":[\"<\",-122.41600944012424]}]}", "{\"a\":-122.42916360922355}");
	T("{\"a\":[{\"cidr\":\"10.0.0.0/24\"}]}", "{\"a\":\"10.0.0.255\"}");
	F("{\"a\":[{\"cidr\":\"10.0.0.0/24\"}]}", "{\"a\":\"10.0.1.0\"}");
	T("{\"a\":[{\"cidr\":\"2001:db8:1234:1a00::/64\"}]}", "{\"a\":\"2001:0db8:1234:1a00:0000:0000:0000:0001\"}");
	T("{\"a\":[{\"exists\":true}]}", "{\"a\":null}");
	F("{\"a\":[{\"exists\":true}]}", "{\"a\":[]}");
	F("{\"a\":[{\"exists\":true}]}", "{\"a\":{\"b\":1}}");
	T("{\"a\":[{\"exists\":false}]}", "{\"a\":{\"b\":1}}");
	T("{\"a\":[{\"exists\":false}]}", "{\"a\":[]}");
	F("{\"a\":[{\"exists\":false}]}", "{\"a\":1}");
	T("{\"S\":[{\"anything-but\":[\"roses\"]},{\"exists\":false}]}", "{\"x\":1}");
}

static void anything_but(void **st)
{
	(void)st;
	F("{\"a\":[{\"anything-but\":\"x\"}]}", "{\"b\":1}");
	T("{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":null}");
	T("{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":[\"x\",\"y\"]}");
	F("{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":[\"x\"]}");
	F("{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":[]}");
	T("{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":5}");
	T("{\"a\":[{\"anything-but\":5}]}", "{\"a\":\"5\"}");
	F("{\"a\":[{\"anything-but\":[5,6]}]}", "{\"a\":5.0}");
	T("{\"a\":[{\"anything-but\":{\"prefix\":\"x\"}}]}", "{\"a\":5}");
	F("{\"a\":[{\"anything-but\":{\"prefix\":[\"a\",\"b\"]}}]}", "{\"a\":\"bc\"}");
	T("{\"a\":[{\"anything-but\":{\"suffix\":\"z\"}}]}", "{\"a\":\"za\"}");
	F("{\"a\":[{\"anything-but\":{\"equals-ignore-case\":[\"X\"]}}]}", "{\"a\":\"x\"}");
	T("{\"a\":[{\"anything-but\":{\"wildcard\":\"\"}}]}", "{\"a\":\"q\"}");
	F("{\"a\":[{\"anything-but\":{\"wildcard\":\"\"}}]}", "{\"a\":\"\"}");
}

static void or_and_arrays(void **st)
{
	(void)st;
	const char *p = "{\"source\":[\"s\"],\"$or\":[{\"a\":[1]},{\"b\":[2]}]}";
	T(p, "{\"source\":\"s\",\"b\":2}");
	F(p, "{\"source\":\"s\",\"c\":2}");
	/* "$or" holding operator objects is a plain field */
	T("{\"$or\":[{\"prefix\":\"a\"},{\"numeric\":[\">\",1]}]}", "{\"$or\":5}");
	/* array consistency */
	const char *ac = "{\"e\":{\"f\":[\"Anna\"],\"l\":[\"Jones\"]}}";
	F(ac, "{\"e\":[{\"f\":\"Anna\",\"l\":\"Smith\"},{\"f\":\"Peter\",\"l\":\"Jones\"}]}");
	T(ac, "{\"e\":[{\"f\":\"Anna\",\"l\":\"Jones\"}]}");
}

/* The whole reason, Jackson's locations included. */
static void err_full(const char *pat, const char *want)
{
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	bb_err e = pat_compile(pat, strlen(pat), NULL, &r, reason, sizeof(reason));
	if (e != BB_EPATTERN || strcmp(reason, want)) {
		print_error("pattern %s\n want: %s\n got:  %s\n", pat, want, e ? reason : "(ok)");
		fail();
	}
}

/* Where Java puts the location (getCurrentLocation: the next character to read, its line counted in
 * the whitespace between tokens, its column in UTF-16 units), which errors carry none (event-ruler's
 * IllegalArgumentExceptions) and which carry it twice (anything-but's list loops re-raise). */
static void error_locations(void **st)
{
	(void)st;
	err_full("this", "Unrecognized token 'this': was expecting (JSON String, Number, Array, Object or token 'null', "
			 "'true' or 'false')\n at [Source: (String)\"this\"; line: 1, column: 5]");
	err_full("{\n  \"a\": 5\n}", "\"a\" must be an object or an array\n at [Source: (String)\"{\n  \"a\": 5\n}\"; "
				     "line: 2, column: 9]");
	err_full("{\"\xc3\xa9\":5}", "\"\xc3\xa9\" must be an object or an array\n at [Source: (String)\"{\"\xc3\xa9\":5}\"; "
				   "line: 1, column: 7]");
	err_full("{\"\xf0\x9f\x98\x80\":5}", "\"\xf0\x9f\x98\x80\" must be an object or an array\n at [Source: (String)\"{\""
					   "\xf0\x9f\x98\x80\":5}\"; line: 1, column: 8]");
	err_full("{\"a\":[{\"cidr\":\"10.0.0.0\"}]}", "Malformed CIDR, one '/' required");
	err_full("{\"a\":[{\"anything-but\":1e400}]}", "Cannot compare number : 1e400");
	err_full("{\"a\":[{\"anything-but\":[1e400]}]}",
		 "Cannot compare number : 1e400\n at [Source: (String)\"{\"a\":[{\"anything-but\":[1e400]}]}\"; line: 1, column: 29]");
	err_full("{\"a\":[{\"anything-but\":[true]}]}",
		 "Inside anything but list, start|null|boolean is not supported.\n at [Source: (String)\"{\"a\":[{\"anything-but\":"
		 "[true]}]}\"; line: 1, column: 28]\n at [Source: (String)\"{\"a\":[{\"anything-but\":[true]}]}\"; line: 1, column: 28]");
	err_full("{\"a\":[{\"numeric\":[\">\",2,\"<\",1]}]}",
		 "Bottom must be less than top\n at [Source: (String)\"{\"a\":[{\"numeric\":[\">\",2,\"<\",1]}]}\"; line: 1, column: 31]");
	/* Jackson quotes at most 500 characters of the source */
	char big[700];
	int n = snprintf(big, sizeof big, "{\"a\":[{\"prefix\":1}], \"b\":\"%0600d\"}", 0);
	assert_true(n > 0 && (size_t)n < sizeof big);
	char want[1200];
	snprintf(want, sizeof want, "prefix match pattern must be a string\n at [Source: (String)\"%.500s\"[truncated %d chars]; "
		 "line: 1, column: 18]", big, n - 500);
	err_full(big, want);
}

static void errors(void **st)
{
	(void)st;
	err("[1]", "Filter is not an object");
	err("{\"int\":42}", "\"int\" must be an object or an array");
	err("{\"a\":[]}", "Empty arrays are not allowed");
	err("{}", "Empty objects are not allowed");
	err("{\"a\":[{\"EXISTS\":true}]}", "Unrecognized match type EXISTS");
	err("{\"a\":[{\"numeric\":10}]}", "Value of numeric must be an array.");
	err("{\"a\":[{\"numeric\":[\">\",0,\">\",0]}]}", "Bad numeric range operator: >");
	err("{\"a\":[{\"numeric\":[\"<\"]}]}", "Value of < must be numeric");
	err("{\"a\":[{\"wildcard\":\"foo**bar\"}]}", "Consecutive wildcard characters at pos 4");
	err("{\"a\":[{\"wildcard\":\"a\\\\b\"}]}", "Invalid escape character at pos 2");
	err("{\"a\":[{\"wildcard\":\"*:*:*:*:*:event-bus/*\"}]}",
	    "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a "
	    "wildcard character");
	err("{\"a\":[{\"wildcard\":5}]}", "wildcard match pattern must be a string");
	err("{\"a\":[{\"prefix\":5}]}", "prefix match pattern must be a string");
	err("{\"a\":[{\"suffix\":[\"x\"]}]}", "suffix match pattern must be a string");
	err("{\"a\":[{\"anything-but\":{\"prefix\":5}}]}", "prefix/suffix match pattern must be a string");
	err("{\"a\":[{\"anything-but\":{\"suffix\":\"\"}}]}", "Null prefix/suffix not allowed");
	err("{\"a\":[{\"anything-but\":null}]}", "Value of anything-but must be an array or single string/number value.");
	err("{\"a\":[{\"anything-but\":[\"stopped\",null]}]}", "Inside anything but list, start|null|boolean is not supported.");
	err("{\"a\":[{\"anything-but\":{\"equals-ignore-case\":123}}]}",
	    "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.");
	err("{\"a\":[{\"anything-but\":{\"wildcard\":123}}]}", "wildcard match pattern must be a string");
	err("{\"a\":[{\"anything-but\":{\"prefix\":{\"equals-ignore-case\":\"x\"}}}]}",
	    "Value of anything-but must be an array or single string/number value.");
	err("{\"a\":[{\"equals-ignore-case\":[\"a\"]}]}", "equals-ignore-case match pattern must be a string");
	err("{\"a\":[{\"cidr\":\"10.0.0.0\"}]}", "Malformed CIDR, one '/' required");
	err("{\"a\":[{\"cidr\":\"10.0.0.0/x\"}]}", "Malformed CIDR, mask bits must be an integer");
	err("{\"a\":[{\"cidr\":\"xx.11.xx/8\"}]}", "Nonstandard IP address: xx.11.xx");
	err("{\"a\":[{\"cidr\":[\"10.0.0.0/8\"]}]}", "prefix match pattern must be a string");
	err("this is not json",
	    "Unrecognized token 'this': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or "
	    "'false')");
	err("{'a':[1]}", "Unexpected character (''' (code 39)): was expecting double-quote to start field name");
	err("{\"x\":[{\"numeric\":[\"=\",1E-325]}]}", "Cannot compare number : 1E-325");
	/* $or combinations: 11 x 11 x 11 > 1000 */
	char big[4096];
	size_t n = 0;
	n += (size_t)snprintf(big + n, sizeof(big) - n, "{");
	for (int k = 0; k < 3; k++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"l%d\":{\"$or\":[", k ? "," : "", k);
		for (int i = 0; i < 11; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "%s{\"f%d\":[%d]}", i ? "," : "", i, i);
		n += (size_t)snprintf(big + n, sizeof(big) - n, "]}");
	}
	snprintf(big + n, sizeof(big) - n, "}");
	pat_rule *r = NULL;
	char reason[PAT_REASON_MAX];
	assert_int_equal(pat_compile(big, strlen(big), NULL, &r, reason, sizeof(reason)), BB_EPATTERN);
	/* deep nesting is bounded */
	char deep[300];
	memset(deep, '[', sizeof(deep));
	deep[0] = '{';
	deep[1] = '"';
	deep[2] = 'a';
	deep[3] = '"';
	deep[4] = ':';
	for (int i = 5; i < 200; i += 5)
		memcpy(deep + i, "{\"a\":", 5);
	assert_int_equal(pat_compile(deep, 200, NULL, &r, reason, sizeof(reason)), BB_EPATTERN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_and_types), cmocka_unit_test(string_operators), cmocka_unit_test(numeric_cidr_exists),
		cmocka_unit_test(anything_but),    cmocka_unit_test(or_and_arrays),    cmocka_unit_test(errors),
		cmocka_unit_test(error_locations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
