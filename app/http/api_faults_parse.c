/*
 * api_faults_parse.c - the body of POST /admin/faults:
 *
 *   {"drop":0..1, "duplicate":0..1, "delay_ms":0..60000,
 *    "block":["<replica id hex>" | "host:port", ...], "unblock":[...],
 *    "answer_delay_ms":0..60000}
 *
 * Every field is optional; absent rates keep their current value.  Parsed
 * completely before anything is applied, so a bad entry changes nothing.
 */
#include <string.h>

#include "app/http/api_internal.h"

#define FAULT_MAX_DELAY_MS 60000u

/* One list entry: an address if it has a ':' (host:port), else an id. */
static int parse_peer(json_t *v, const char *field, api_fault_peer *p, api_response *res)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	size_t len = s ? json_string_length(v) : 0;
	memset(p, 0, sizeof *p);
	if (s && memchr(s, ':', len)) {
		if (strlen(s) == len && hostport_parse_ip(s, &p->addr) == 0)
			return 0;
	} else if (s && api_parse_hex64(s, len, &p->id) == 0 && p->id != 0) {
		p->by_id = true;
		return 0;
	}
	api_error(res, 422, "bad_peer", "entries of \"%s\" must be replica ids in hex "
	          "or host:port addresses", field);
	return -1;
}

static int parse_list(json_t *obj, const char *field, api_fault_peer *out, size_t *n,
                      api_response *res)
{
	json_t *arr = json_object_get(obj, field), *v;
	size_t i;
	*n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > FAULT_MAX_BLOCKED) {
		api_error(res, 422, "bad_value", "field \"%s\" must be an array of at most %u peers",
		          field, (unsigned)FAULT_MAX_BLOCKED);
		return -1;
	}
	json_array_foreach(arr, i, v) {
		if (parse_peer(v, field, &out[i], res) != 0)
			return -1;
	}
	*n = json_array_size(arr);
	return 0;
}

int api_parse_faults(json_t *obj, api_fault_change *ch, api_response *res)
{
	static const char *const fields[] = { "drop", "duplicate", "delay_ms", "block",
	                                      "unblock", "answer_delay_ms", NULL };
	uint32_t delay = 0, answer_delay = 0;
	memset(ch, 0, sizeof *ch);
	if (api_body_fields(obj, fields, res) != 0 ||
	    api_field_num(obj, "drop", 0, 1, &ch->has_drop, &ch->drop, res) != 0 ||
	    api_field_num(obj, "duplicate", 0, 1, &ch->has_duplicate, &ch->duplicate, res) != 0 ||
	    api_field_uint(obj, "delay_ms", "bad_value", 0, FAULT_MAX_DELAY_MS, false,
	                   &ch->has_delay, &delay, res) != 0 ||
	    parse_list(obj, "block", ch->block, &ch->nblock, res) != 0 ||
	    parse_list(obj, "unblock", ch->unblock, &ch->nunblock, res) != 0 ||
	    api_field_uint(obj, "answer_delay_ms", "bad_value", 0, FAULT_MAX_DELAY_MS, false,
	                   &ch->has_answer_delay, &answer_delay, res) != 0)
		return -1;
	ch->delay_ms = delay;
	ch->answer_delay_ms = answer_delay;
	return 0;
}
