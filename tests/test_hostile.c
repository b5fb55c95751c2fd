/*
 * test_hostile.c - an engine and a member with a session to it, for the
 * hostile-message suites (see test_hostile.h).
 */
#include "tests/test_hostile.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"

fuzz_peer th;
static size_t nsent;
static uint64_t bytes_sent;

static void on_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len)
{
	(void)arg;
	(void)to;
	(void)d;
	nsent++;
	bytes_sent += len;
}

/* What the engine persists carries the id the decoder checked and hashed. */
static void on_persist(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
                       size_t enc_len)
{
	(void)enc;
	(void)enc_len;
	(void)arg;
	ck_assert_int_eq(crdt_check_id(id->s, id->len), 0);
	ck_assert(id->hash == crdt_name_hash(id->s, id->len));
	ck_assert(crdt_cart_valid(delta));
}

void th_setup_rate(uint32_t ae_rate)
{
	engine_callbacks cb = { on_send, on_persist, NULL, NULL };
	engine_config ec;
	engine_config_init(&ec);
	if (ae_rate)
		ec.ae_bytes_per_sec = ae_rate;
	fuzz_peer_init(&th, TH_NBUCKETS, &ec, WIRE_DEFLATE_LEVEL_DEFAULT, &cb);
	nsent = 0;
	bytes_sent = 0;
}

void th_setup(void)
{
	th_setup_rate(0);
}

void th_teardown(void)
{
	fuzz_peer_destroy(&th);
}

uint64_t th_now(void)
{
	return th.now;
}

int th_inject(uint8_t type, const uint8_t *p, size_t len)
{
	int rc = fuzz_peer_send(&th, type, p, len, th.now + 1);
	ck_assert_msg(rc != FUZZ_UNSEALED, "type %u, %zu bytes: does not seal", type, len);
	return rc;
}

int th_inject_w(uint8_t type, const buf_writer *w)
{
	ck_assert(!w->err);
	return th_inject(type, w->data, w->len);
}

size_t th_nsent(void)
{
	return nsent;
}

uint64_t th_bytes_sent(void)
{
	return bytes_sent;
}

uint8_t th_open_last(const uint8_t **p, size_t *len)
{
	wire_msg m;
	ck_assert_uint_gt(th.last_len, 0);
	ck_assert_int_eq(wire_open(th.tx, th.last, th.last_len, &m), 0);
	*p = m.payload;
	*len = m.payload_len;
	return m.type;
}

void th_snap(th_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->carts = crdt_store_count(th.store);
	memcpy(s->buckets, crdt_store_bucket_digests(th.store), sizeof s->buckets);
	s->nmembers = engine_members(th.eng, s->members, TH_MEMBERS_MAX);
	s->nsent = nsent;
	const engine_stats *st = engine_get_stats(th.eng);
	s->rej_decode = st->rej_decode;
	memcpy(s->rej_reason, st->rej_reason, sizeof s->rej_reason);
}

static const char *members_differ(const th_snapshot *a, const th_snapshot *b)
{
	if (a->nmembers != b->nmembers)
		return "member count";
	for (size_t i = 0; i < a->nmembers && i < TH_MEMBERS_MAX; i++) {
		const engine_member_info *x = &a->members[i], *y = &b->members[i];
		if (x->id != y->id || x->state != y->state || x->incarnation != y->incarnation)
			return "a member's id, state or incarnation";
		if (x->verified != y->verified || x->addr.len != y->addr.len ||
		    memcmp(x->addr.b, y->addr.b, x->addr.len) != 0)
			return "a member's address";
		if (x->last_sync_ms != y->last_sync_ms || x->differing_buckets != y->differing_buckets)
			return "a member's sync record";
	}
	return NULL;
}

void th_assert_unchanged(const th_snapshot *before, const char *what)
{
	th_snapshot *after = malloc(sizeof *after);
	ck_assert_ptr_nonnull(after);
	th_snap(after);
	ck_assert_msg(after->nsent == before->nsent, "%s: sent %zu datagrams", what,
	              after->nsent - before->nsent);
	ck_assert_msg(after->carts == before->carts &&
	              memcmp(after->buckets, before->buckets, sizeof after->buckets) == 0,
	              "%s: store changed (%zu carts, were %zu)", what, after->carts, before->carts);
	const char *d = members_differ(after, before);
	ck_assert_msg(d == NULL, "%s: member table changed: %s", what, d);
	free(after);
}

void th_assert_refused(int rc, const th_snapshot *before, unsigned row,
                       enum reject_field field, const char *what)
{
	char want[48], got[48];
	unsigned r, f;
	ck_assert_msg(rc == CARTD_EDECODE, "%s: rc %s, want decode/%s", what, cartd_errname(rc),
	              reject_name(row, field, want, sizeof want));
	engine_last_reject(th.eng, &r, &f);
	ck_assert_msg(r == row && f == field, "%s: reason %s, want %s", what,
	              reject_name(r, f, got, sizeof got), reject_name(row, field, want, sizeof want));
	const engine_stats *st = engine_get_stats(th.eng);
	ck_assert_msg(st->rej_decode == before->rej_decode + 1, "%s: rej_decode %llu -> %llu", what,
	              (unsigned long long)before->rej_decode, (unsigned long long)st->rej_decode);
	for (unsigned i = 0; i < REJECT_ROWS; i++)
		for (unsigned k = 0; k < REJECT_NFIELDS; k++) {
			uint64_t want_n = before->rej_reason[i][k] + (i == row && k == field);
			ck_assert_msg(st->rej_reason[i][k] == want_n, "%s: %s counted %llu, want %llu",
			              what, reject_name(i, k, got, sizeof got),
			              (unsigned long long)st->rej_reason[i][k],
			              (unsigned long long)want_n);
		}
	th_assert_unchanged(before, what);
}

void th_put_u16(buf_writer *w, uint64_t v)
{
	buf_put_u8(w, (uint8_t)v);
	buf_put_u8(w, (uint8_t)(v >> 8));
}
