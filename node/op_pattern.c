/* node/op_pattern.c — TestEventPattern, answered by the pattern engine (node/pattern/pat.h).
 * The event must be a JSON object carrying id, account, source, time, region and detail-type, or AWS
 * answers `Parameter Event is not valid.` (reference §2.1).
 */
#include <string.h>

#include "node_int.h"

int op_test_event_pattern(api_call *c)
{
	const char *pattern, *event;
	vcheck v;
	v_init(&v);
	if (jv_str(c, c->in, "EventPattern", &pattern) || jv_str(c, c->in, "Event", &event))
		return -1;
	v_string(&v, "eventPattern", pattern, true, 0, c->n->cfg.max_pattern_bytes, NULL, NULL);
	v_string(&v, "event", event, true, 0, (size_t)-1, NULL, NULL);
	if (v_finish(c, &v))
		return -1;

	json_error_t err;
	json_t *ev = json_loads(event, JSON_DECODE_ANY, &err);
	static const char *required[] = {"id", "account", "source", "time", "region", "detail-type"};
	bool ok = ev && json_is_object(ev);
	for (size_t i = 0; ok && i < BB_ARRAY_LEN(required); i++)
		ok = json_object_get(ev, required[i]) != NULL;
	json_decref(ev);

	pat_rule *r = NULL;
	if (pattern_compile(c, pattern, &r))
		return -1;
	if (!ok) {
		pat_rule_free(r);
		return api_error(c, 400, "ValidationException", "Parameter Event is not valid.");
	}
	bool matched = false;
	bb_err e = pat_match_rule(r, event, strlen(event), &matched);
	pat_rule_free(r);
	if (e != BB_OK)
		return api_error(c, 400, "ValidationException", "Parameter Event is not valid.");
	c->out = json_pack("{s:b}", "Result", matched);
	return 0;
}

int pattern_compile(api_call *c, const char *pattern, pat_rule **out)
{
	char reason[PAT_REASON_MAX];
	pat_limits lim = {0};
	bb_err e = pat_compile(pattern, strlen(pattern), &lim, out, reason, sizeof reason);
	if (e == BB_OK)
		return 0;
	if (e == BB_EPATTERN)
		return api_error(c, 400, "InvalidEventPatternException", "Event pattern is not valid. Reason: %s",
				 reason);
	return api_error(c, 500, "InternalException", "Could not compile the event pattern.");
}
