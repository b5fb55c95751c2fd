/*
 * api_faults.c - GET/POST/DELETE /admin/faults: show, change and clear the
 * peer's fault injection (app/peer/fault.h).  Routed only when cartd runs with
 * fault injection enabled.
 *
 * A change is applied to a copy of the fault state and handed to the node
 * (node_faults_set) only if every part of it succeeded, so a refused
 * request changes nothing.
 */
#include "app/http/api_internal.h"
#include "app/peer/node.h"
#include "crdt/error.h"

static json_t *state_json(const fault_state *f)
{
	json_t *blocked = json_array();
	char buf[HOSTPORT_IP_STRLEN + 8];
	for (size_t i = 0; blocked && i < f->nblocked_ids; i++) {
		api_hex64(f->blocked_ids[i], buf);
		json_array_append_new(blocked, json_string(buf));
	}
	for (size_t i = 0; blocked && i < f->nblocked_addrs; i++) {
		node_format_addr(&f->blocked_addrs[i], buf, sizeof buf);
		json_array_append_new(blocked, json_string(buf));
	}
	return json_pack("{s:f,s:f,s:I,s:o,s:I,s:{s:I,s:I,s:I,s:I}}",
	                 "drop", f->drop, "duplicate", f->duplicate,
	                 "delay_ms", (json_int_t)f->delay_ms, "blocked", blocked,
	                 "answer_delay_ms", (json_int_t)f->answer_delay_ms,
	                 "counters", "dropped", (json_int_t)f->dropped,
	                 "duplicated", (json_int_t)f->duplicated,
	                 "delayed", (json_int_t)f->delayed, "blocked", (json_int_t)f->blocked);
}

/* The engine address of a member whose address equals a; the engine's
 * encoding is the UDP adapter's business, so compare the parsed text form. */
static int find_member_addr(node *n, const hostport_ip *a, engine_addr *out)
{
	node_members ms;
	int rc = node_members_get(n, &ms) == 0 ? CARTD_ENOTFOUND : CARTD_ENOMEM;
	for (size_t i = 0; i < ms.n && rc == CARTD_ENOTFOUND; i++) {
		hostport_ip parsed;
		if (hostport_parse_ip(ms.v[i].addr_text, &parsed) == 0 &&
		    hostport_ip_equal(&parsed, a)) {
			*out = ms.v[i].addr;
			rc = 0;
		}
	}
	node_members_destroy(&ms);
	return rc;
}

static int apply_peer(node *n, fault_state *f, const api_fault_peer *p, bool block,
                      api_response *res)
{
	engine_addr ea;
	int rc;
	if (p->by_id) {
		rc = block ? fault_block_id(f, p->id) : fault_unblock_id(f, p->id);
	} else {
		rc = find_member_addr(n, &p->addr, &ea);
		if (rc == 0)
			rc = block ? fault_block_addr(f, &ea) : fault_unblock_addr(f, &ea);
	}
	if (rc == CARTD_ENOTFOUND && !p->by_id) {
		char text[HOSTPORT_IP_STRLEN];
		hostport_ip_format(&p->addr, text, sizeof text);
		api_error(res, 422, "unknown_peer", "no member has the address %s", text);
	} else if (rc == CARTD_ENOSPC) {
		api_error(res, 422, "too_many_blocked", "at most %u peers can be blocked",
		          (unsigned)FAULT_MAX_BLOCKED);
	} else if (rc != 0 && rc != CARTD_ENOTFOUND) {
		api_error_rc(res, rc, "fault");
	} else {
		return 0;   /* unblocking what was not blocked is not an error */
	}
	return -1;
}

static int apply_change(node *n, fault_state *f, const api_fault_change *ch, api_response *res)
{
	double drop = ch->has_drop ? ch->drop : f->drop;
	double dup = ch->has_duplicate ? ch->duplicate : f->duplicate;
	uint32_t delay = ch->has_delay ? ch->delay_ms : f->delay_ms;
	int rc = fault_set_rates(f, drop, dup, delay);
	if (rc == 0 && ch->has_answer_delay)
		rc = fault_set_answer_delay(f, ch->answer_delay_ms);
	if (rc != 0) {
		api_error(res, 422, "bad_value", "fault rates out of range");
		return -1;
	}
	for (size_t i = 0; i < ch->nunblock; i++)
		if (apply_peer(n, f, &ch->unblock[i], false, res) != 0)
			return -1;
	for (size_t i = 0; i < ch->nblock; i++)
		if (apply_peer(n, f, &ch->block[i], true, res) != 0)
			return -1;
	return 0;
}

void api_faults_respond(node *n, const api_call *call, api_response *res)
{
	const fault_state *now = node_faults_view(n);
	if (!now) {
		api_error(res, 404, "not_found", "fault injection is not enabled on this peer");
		return;
	}
	if (call->action != API_A_FAULTS_GET) {
		fault_state next = *now;
		int rc = 0;
		if (call->action == API_A_FAULTS_CLEAR)
			fault_clear(&next);
		else if (apply_change(n, &next, &call->faults, res) != 0)
			return;
		if ((rc = node_faults_set(n, &next)) != 0) {
			api_error_rc(res, rc, "fault");
			return;
		}
	}
	json_t *v = state_json(now);
	if (!v)
		api_error_rc(res, CARTD_ENOMEM, NULL);
	else
		api_respond_json(res, 200, v);
}
