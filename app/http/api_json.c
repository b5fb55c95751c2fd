/*
 * api_json.c - request bodies: content type, JSON parsing and typed field
 * access, each failure turned into the documented 4xx (docs/api.md).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app/http/api_internal.h"

bool api_is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, sizeof want - 1) != 0)
		return false;
	ct += sizeof want - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

int api_body_json(const api_request *req, bool required, json_t **out, api_response *res)
{
	json_error_t err;
	*out = NULL;
	if (req->body_len == 0) {
		if (!required)
			return 0;
		api_error(res, 422, "missing_body", "this request needs a JSON object body");
		return -1;
	}
	if (!api_is_json_type(req->content_type)) {
		api_error(res, 415, "unsupported_media_type",
		          "request bodies must have Content-Type: application/json");
		return -1;
	}
	json_t *v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
	if (!v) {
		/* An integer too large for jansson is a value out of range, not a
		 * syntax error. */
		if (json_error_code(&err) == json_error_numeric_overflow)
			api_error(res, 422, "bad_value", "number out of range at line %d column %d",
			          err.line, err.column);
		else
			api_error(res, 400, "bad_json", "malformed JSON at line %d column %d: %s",
			          err.line, err.column, err.text);
		return -1;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		api_error(res, 422, "bad_body", "the body must be a JSON object");
		return -1;
	}
	*out = v;
	return 0;
}

int api_body_fields(json_t *obj, const char *const *allowed, api_response *res)
{
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i]) {
			api_error(res, 422, "unknown_field", "unknown field \"%.64s\"", key);
			return -1;
		}
	}
	return 0;
}

int api_field_uint(json_t *obj, const char *field, const char *code, uint32_t min,
                   uint32_t max, bool required, bool *present, uint32_t *out, api_response *res)
{
	json_t *v = json_object_get(obj, field);
	if (present)
		*present = v != NULL;
	if (!v) {
		if (!required)
			return 0;
		api_error(res, 422, code, "missing field \"%s\"", field);
		return -1;
	}
	json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
	if (!json_is_integer(v) || n < (json_int_t)min || n > (json_int_t)max) {
		api_error(res, 422, code, "field \"%s\" must be an integer in %u..%u",
		          field, (unsigned)min, (unsigned)max);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

int api_field_num(json_t *obj, const char *field, double min, double max, bool *present,
                  double *out, api_response *res)
{
	json_t *v = json_object_get(obj, field);
	*present = v != NULL;
	if (!v)
		return 0;
	double d = json_is_number(v) ? json_number_value(v) : NAN;
	if (!(d >= min && d <= max)) {
		api_error(res, 422, "bad_value", "field \"%s\" must be a number in %g..%g",
		          field, min, max);
		return -1;
	}
	*out = d;
	return 0;
}

void api_hex64(uint64_t v, char *buf)
{
	snprintf(buf, 17, "%016llx", (unsigned long long)v);
}

int api_parse_hex64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 16)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0'
		      : c >= 'a' && c <= 'f' ? c - 'a' + 10
		      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}
