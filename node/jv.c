/* node/jv.c — reading request members with AWS-shaped errors, and Coral-style constraint messages.
 *
 * AWS's JSON front end answers a member of the wrong JSON type with SerializationException, and
 * collects model-constraint violations (length, pattern, range, enum, required) into one
 * ValidationException: "N validation error(s) detected: Value '<v>' at '<path>' failed to satisfy
 * constraint: Member must ...; ..." (reference §2.1). Paths are lower-camel member names.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"

static int wrong_type(api_call *c, const char *key, const char *want)
{
	return api_error(c, 400, "SerializationException", "Unexpected value type for member %s: expected %s", key,
			 want);
}

int jv_str(api_call *c, json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return wrong_type(c, key, "string");
	*out = json_string_value(v);
	return 0;
}

int jv_int(api_call *c, json_t *obj, const char *key, bool *present, long long *out)
{
	json_t *v = json_object_get(obj, key);
	*present = false;
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != (double)(long long)d)
			return wrong_type(c, key, "integer");
		*out = (long long)d;
	} else {
		return wrong_type(c, key, "integer");
	}
	*present = true;
	return 0;
}

int jv_bool(api_call *c, json_t *obj, const char *key, bool *present, bool *out)
{
	json_t *v = json_object_get(obj, key);
	*present = false;
	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return wrong_type(c, key, "boolean");
	*present = true;
	*out = json_is_true(v);
	return 0;
}

int jv_arr(api_call *c, json_t *obj, const char *key, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return wrong_type(c, key, "list");
	*out = v;
	return 0;
}

int jv_obj(api_call *c, json_t *obj, const char *key, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return wrong_type(c, key, "structure");
	*out = v;
	return 0;
}

/* ---- constraint collection ------------------------------------------------------------------ */

void v_init(vcheck *v)
{
	v->count = 0;
	v->redact = false;
	v->len = 0;
	v->msg[0] = '\0';
}

void v_add(vcheck *v, const char *value, const char *path, const char *fmt, ...)
{
	char constraint[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(constraint, sizeof constraint, fmt, ap);
	va_end(ap);
	size_t room = sizeof v->msg - v->len;
	int w;
	if (v->redact) /* a sensitive member: AWS names it but never shows its value */
		w = snprintf(v->msg + v->len, room, "%sValue at '%s' failed to satisfy constraint: %s", v->count ? "; " : "",
			     path, constraint);
	else if (value)
		w = snprintf(v->msg + v->len, room, "%sValue '%s' at '%s' failed to satisfy constraint: %s",
			     v->count ? "; " : "", value, path, constraint);
	else
		w = snprintf(v->msg + v->len, room, "%sValue null at '%s' failed to satisfy constraint: %s",
			     v->count ? "; " : "", path, constraint);
	if (w > 0)
		v->len += (size_t)w < room ? (size_t)w : room - 1;
	v->count++;
}

bool v_string(vcheck *v, const char *path, const char *s, bool required, size_t min, size_t max, const char *regex,
	      bool (*ok)(const char *s))
{
	if (!s) {
		if (required)
			v_add(v, NULL, path, "Member must not be null");
		return !required;
	}
	bool good = true;
	size_t len = strlen(s);
	if (ok && regex && !ok(s)) {
		v_add(v, s, path, "Member must satisfy regular expression pattern: %s", regex);
		good = false;
	}
	if (len > max) {
		v_add(v, s, path, "Member must have length less than or equal to %zu", max);
		good = false;
	}
	if (len < min) {
		v_add(v, s, path, "Member must have length greater than or equal to %zu", min);
		good = false;
	}
	return good;
}

bool v_secret(vcheck *v, const char *path, const char *s, bool required, size_t min, size_t max)
{
	v->redact = true;
	bool good = v_string(v, path, s, required, min, max, NULL, NULL);
	v->redact = false;
	return good;
}

void v_int_range(vcheck *v, const char *path, bool present, long long val, long long min, long long max)
{
	if (!present)
		return;
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", val);
	if (val < min)
		v_add(v, buf, path, "Member must have value greater than or equal to %lld", min);
	else if (val > max)
		v_add(v, buf, path, "Member must have value less than or equal to %lld", max);
}

void v_list_len(vcheck *v, const char *path, json_t *arr, bool required, size_t min, size_t max)
{
	if (!arr) {
		if (required)
			v_add(v, NULL, path, "Member must not be null");
		return;
	}
	size_t n = json_array_size(arr);
	if (n < min || n > max) {
		char *dump = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
		if (n < min)
			v_add(v, dump ? dump : "[]", path, "Member must have length greater than or equal to %zu", min);
		else
			v_add(v, dump ? dump : "[]", path, "Member must have length less than or equal to %zu", max);
		free(dump);
	}
}

void v_enum(vcheck *v, const char *path, const char *s, const char *const *values, const char *shown)
{
	if (!s)
		return;
	for (size_t i = 0; values[i]; i++)
		if (strcmp(s, values[i]) == 0)
			return;
	v_add(v, s, path, "Member must satisfy enum value set: %s", shown);
}

int v_finish(api_call *c, vcheck *v)
{
	if (!v->count)
		return 0;
	return api_error(c, 400, "ValidationException", "%d validation error%s detected: %s", v->count,
			 v->count == 1 ? "" : "s", v->msg);
}

/* ---- AWS name classes --------------------------------------------------------------------- */

static bool all_chars(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (!(isascii(ch) && isalnum(ch)) && !strchr(extra, ch))
			return false;
	}
	return true;
}

bool name_ok(const char *s) { return all_chars(s, ".-_"); }
bool bus_name_ok(const char *s) { return all_chars(s, "/.-_"); }

/* (arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+ */
static bool word_dash(char ch) { return isascii((unsigned char)ch) && (isalnum((unsigned char)ch) || ch == '_' || ch == '-'); }

bool bus_name_or_arn_ok(const char *s)
{
	if (strncmp(s, "arn:aws", 7) != 0)
		return bus_name_ok(s);
	const char *p = s + 7;
	while (word_dash(*p) && *p != ':')
		p++;
	if (strncmp(p, ":events:", 8) != 0)
		return bus_name_ok(s);
	p += 8;
	/* region: [a-z]+-[a-z]+-[\w-]+ */
	const char *r = p;
	int dashes = 0;
	while (*p && *p != ':') {
		if (*p == '-')
			dashes++;
		else if (!word_dash(*p))
			return bus_name_ok(s);
		p++;
	}
	if (p == r || dashes < 2 || !islower((unsigned char)r[0]) || *p != ':')
		return bus_name_ok(s);
	p++;
	for (int i = 0; i < 12; i++, p++)
		if (!isdigit((unsigned char)*p))
			return bus_name_ok(s);
	if (strncmp(p, ":event-bus/", 11) != 0)
		return bus_name_ok(s);
	return bus_name_ok(p + 11);
}

/* ^[a-zA-Z0-9_\-/:]*$ */
bool kms_key_ok(const char *s)
{
	for (; *s; s++)
		if (!(isascii((unsigned char)*s) && isalnum((unsigned char)*s)) && !strchr("_-/:", *s))
			return false;
	return true;
}

/* aws\.partner(/[\.\-_A-Za-z0-9]+){2,} */
bool event_source_name_ok(const char *s)
{
	if (strncmp(s, "aws.partner", 11) != 0)
		return false;
	s += 11;
	int segments = 0;
	while (*s == '/') {
		const char *seg = ++s;
		while (*s && *s != '/' && ((isascii((unsigned char)*s) && isalnum((unsigned char)*s)) || strchr(".-_", *s)))
			s++;
		if (s == seg)
			return false;
		segments++;
	}
	return *s == '\0' && segments >= 2;
}
