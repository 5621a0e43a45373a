/* tests/fuzz/fuzz_node_putevents.c — libFuzzer target: node/pe_parse.c, the one-pass PutEvents body
 * reader that runs on every PutEvents request.
 *
 * The input is a request body. Must never crash, leak, hang or hit UB. Oracle (pe_parse.c's contract):
 * whenever the fast reader accepts a body (PE_PARSED), jansson (json_loadb with JSON_ALLOW_NUL, as the
 * general reader does) accepts it too and reads exactly the same thing — an object whose only member
 * is "Entries", an array of as many objects, each with only the known members, and for each member
 * the same string bytes (Source, DetailType, Detail with its length, EventBusName, TraceHeader), the
 * same Time value and the same Resources in order. Bodies it declines (PE_GENERAL) are not checked:
 * the general reader answers those.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_int.h"

static void same_str(json_t *e, const char *key, const char *got)
{
	json_t *v = json_object_get(e, key);
	if (!v && !got)
		return;
	if (!v || !got || !json_is_string(v) || strcmp(json_string_value(v), got) != 0 ||
	    json_string_length(v) != strlen(got))
		abort();
}

static void check(const uint8_t *data, size_t size, const pe_parsed *p)
{
	json_t *root = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	if (!json_is_object(root) || json_object_size(root) != 1)
		abort();
	json_t *entries = json_object_get(root, "Entries");
	if (!json_is_array(entries) || json_array_size(entries) != p->n || p->n < 1 || p->n > PE_MAX_ENTRIES)
		abort();
	static const char *const known[] = {"Source", "DetailType", "Detail", "EventBusName",
					    "TraceHeader", "Time", "Resources"};
	for (size_t i = 0; i < p->n; i++) {
		json_t *e = json_array_get(entries, i);
		const pe_fields *f = &p->f[i];
		if (!json_is_object(e))
			abort();
		size_t members = 0;
		for (size_t k = 0; k < sizeof known / sizeof *known; k++)
			members += json_object_get(e, known[k]) != NULL;
		if (members != json_object_size(e))
			abort(); /* an unknown member was accepted */
		same_str(e, "Source", f->source);
		same_str(e, "DetailType", f->detail_type);
		same_str(e, "Detail", f->detail);
		same_str(e, "EventBusName", f->bus_in);
		same_str(e, "TraceHeader", f->trace);
		if (f->detail && f->detail_len != strlen(f->detail))
			abort();
		json_t *t = json_object_get(e, "Time");
		if ((t != NULL) != f->has_time || (t && (!json_is_number(t) || json_number_value(t) != f->time_s)))
			abort();
		json_t *res = json_object_get(e, "Resources");
		size_t nres = res ? json_array_size(res) : 0;
		if ((res && !json_is_array(res)) || nres != f->n_resources)
			abort();
		for (size_t k = 0; k < nres; k++) {
			json_t *r = json_array_get(res, k);
			if (!json_is_string(r) || strcmp(json_string_value(r), f->resources[k]) != 0)
				abort();
		}
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pe_parsed p;
	memset(&p, 0, sizeof p);
	if (pe_parse_fast((const char *)data, size, &p) != PE_PARSED)
		return 0;
	check(data, size, &p);
	pe_parsed_free(&p);
	return 0;
}
