/*
 * fuzz_handlers.c - structure-aware libFuzzer harness for the engine's
 * message handlers.
 *
 * fuzz_engine seals raw bytes, so most of its inputs die in the first
 * length check of a decoder.  Here the input is a program: each step picks
 * a message type and then draws every field of a valid-shaped message of
 * that type (counts and the items they announce, addresses, ids, carts in
 * the canonical encoding), seals it through the session of a certified
 * member (tests/fuzz/fuzz_peer.h: HELLO, challenge and echo done through
 * the engine) and hands it to the engine.  Integer draws lean towards
 * boundary values (0, 1, 2^31, 2^32 - 1, 2^63, 2^64 - 1 and neighbours,
 * and the protocol's own limits), so the arithmetic on received integers
 * is where the fuzzer spends its time.
 *
 * Input format (tests/fuzz/corpus/fuzz_handlers holds examples, including
 * the two datagrams that used to crash anti-entropy, AE_GROUPS with first
 * 2^32 - 1 and AE_BUCKETS with first 2^32 - 16, which check_engine.c
 * replays as wrapping_ranges_refused):
 *   step := type byte (value % 12: 0 an unknown type, 1..10 a message type,
 *           11 advance the clock and run the timers), then that message's
 *           fields, each drawn as
 *   draw := selector byte s, then
 *           s < 160: one byte b: boundary[b % N] + (s % 8) - 3 (wrapping;
 *                    the last two boundaries are the engine's peer id and
 *                    the sender's);
 *           s < 200: one byte b: b % 70 (small values);
 *           else:    the field's width in bytes, little-endian (raw).
 *   A missing byte reads as 0.
 *
 * Invariants (abort): nothing but 0, CARTD_EDECODE or CARTD_ENOMEM comes
 * back (the session never breaks); every refusal names a reason of the
 * table (net/reject.h); the reason counters add up to rej_decode; every
 * cart the engine changes is valid; nothing sent exceeds a datagram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "net/engine.h"
#include "net/msg.h"
#include "net/reject.h"
#include "net/wire.h"
#include "tests/fuzz/fuzz_peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NBUCKETS 64u
#define MAX_STEPS 8
#define ITEMS_CAP 40u   /* items built per message, whatever its count says */

static fuzz_peer peer;
static crdt_store *store;
static engine *eng;
static uint64_t now;

/* The last two are the peer ids, known once the identities exist. */
static uint64_t boundary[] = {
	0, 1, 2, 16, 19, 32, 64, 128, 255, 256, 1024, 65535, 65536,
	NBUCKETS, NBUCKETS / 32, 1ull << 31, 1ull << 32, (1ull << 32) - 16,
	1ull << 63, (uint64_t)INT64_MAX, UINT64_MAX, 0, 0,
};
#define NBOUND (sizeof boundary / sizeof boundary[0])

typedef struct src {
	const uint8_t *p;
	size_t n;
} src;

static uint8_t byte(src *s)
{
	if (s->n == 0)
		return 0;
	s->n--;
	return *s->p++;
}

static uint64_t draw(src *s, unsigned width)
{
	uint8_t sel = byte(s);
	uint64_t v = 0;
	if (sel < 160) {
		v = boundary[byte(s) % NBOUND] + (uint64_t)(sel % 8) - 3u;
	} else if (sel < 200) {
		v = byte(s) % 70u;
	} else {
		for (unsigned i = 0; i < width; i++)
			v |= (uint64_t)byte(s) << (8 * i);
	}
	return width >= 8 ? v : v & ((1ull << (8 * width)) - 1);
}

static void put_u16(buf_writer *w, uint64_t v)
{
	buf_put_u8(w, (uint8_t)v);
	buf_put_u8(w, (uint8_t)(v >> 8));
}

/* A name (cart id or sku): usually one of a few valid ones, else a drawn
 * length of valid characters, or bytes outside the allowed set. */
static void put_name(buf_writer *w, src *s)
{
	static const char *const names[] = { "a", "cart-1", "cart-2", "x.y~z", "sku" };
	uint8_t k = byte(s);
	if (k < 200) {
		const char *n = names[k % 5];
		buf_put_str(w, n, strlen(n));
		return;
	}
	uint64_t len = draw(s, 8);
	buf_put_varint(w, len);
	for (uint64_t i = 0; i < len && i < CRDT_MAX_NAME + 1; i++)
		buf_put_u8(w, k == 255 ? (uint8_t)' ' : (uint8_t)('a' + i % 26));
}

static void put_addr(buf_writer *w, src *s)
{
	uint64_t len = draw(s, 1);
	buf_put_u8(w, (uint8_t)len);
	for (uint64_t i = 0; i < len && i <= ENGINE_ADDR_MAX; i++)
		buf_put_u8(w, byte(s));
}

/* ctx := varint nranges, nranges * (u64 replica, varint lo, varint hi-lo) */
static void put_ctx(buf_writer *w, src *s)
{
	uint64_t n = draw(s, 8);
	buf_put_varint(w, n);
	for (uint64_t i = 0; i < n && i < 4; i++) {
		buf_put_u64le(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
	}
}

/* line := str sku, varint nentries,
 *         nentries * (u64 replica, varint counter, u8 kind, varint value) */
static void put_lines(buf_writer *w, src *s)
{
	uint64_t lines = draw(s, 8);
	buf_put_varint(w, lines);
	for (uint64_t l = 0; l < lines && l < 4; l++) {
		put_name(w, s);
		uint64_t e = draw(s, 8);
		buf_put_varint(w, e);
		for (uint64_t k = 0; k < e && k < 4; k++) {
			buf_put_u64le(w, draw(s, 8));
			buf_put_varint(w, draw(s, 8));
			buf_put_u8(w, (uint8_t)draw(s, 1));
			buf_put_varint(w, draw(s, 8));
		}
	}
}

/* cart := ctx, varint nlines, lines, varint ndefer, ndefer * (str sku, ctx),
 *         varint nkeys, nkeys * (16 bytes hash, u64 replica, varint counter,
 *         varint at_ms, varint until_ms - at_ms),
 *         varint ncloses, ncloses * (u64 replica, varint counter,
 *         u64 key replica, varint key counter, varint at_ms, varint total,
 *         lines)   (crdt/codec.h, cart format 3) */
static void put_cart(buf_writer *w, src *s)
{
	put_ctx(w, s);
	put_lines(w, s);
	uint64_t defers = draw(s, 8);
	buf_put_varint(w, defers);
	for (uint64_t d = 0; d < defers && d < 2; d++) {
		put_name(w, s);
		put_ctx(w, s);
	}
	uint64_t keys = draw(s, 8);
	buf_put_varint(w, keys);
	for (uint64_t k = 0; k < keys && k < 2; k++) {
		for (int i = 0; i < 16; i++)
			buf_put_u8(w, byte(s));
		buf_put_u64le(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
	}
	uint64_t closes = draw(s, 8);
	buf_put_varint(w, closes);
	for (uint64_t c = 0; c < closes && c < 1; c++) {
		buf_put_u64le(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
		buf_put_u64le(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
		buf_put_varint(w, draw(s, 8));
		put_lines(w, s);
	}
}

static void put_member(buf_writer *w, src *s)
{
	buf_put_u64le(w, draw(s, 8));
	buf_put_u8(w, (uint8_t)draw(s, 1));
	buf_put_u64le(w, draw(s, 8));
	put_addr(w, s);
}

static void build(buf_writer *w, uint8_t type, src *s)
{
	uint64_t n;
	switch (type) {
	case MSG_DELTA:
		buf_put_u8(w, (uint8_t)draw(s, 1));
		put_u16(w, n = draw(s, 2));
		for (uint64_t i = 0; i < n && i < ITEMS_CAP; i++) {
			put_name(w, s);
			put_cart(w, s);
		}
		break;
	case MSG_PING: case MSG_ACK: case MSG_PING_REQ:
		buf_put_u64le(w, draw(s, 8));
		buf_put_u64le(w, draw(s, 8));
		put_addr(w, s);
		buf_put_u8(w, (uint8_t)(n = draw(s, 1)));
		for (uint64_t i = 0; i < n && i < ITEMS_CAP; i++)
			put_member(w, s);
		break;
	case MSG_MEMBERS:
		buf_put_u8(w, (uint8_t)(n = draw(s, 1)));
		for (uint64_t i = 0; i < n && i < ITEMS_CAP; i++)
			put_member(w, s);
		break;
	case MSG_AE_GROUPS: case MSG_AE_BUCKETS:
		buf_put_u32le(w, (uint32_t)draw(s, 4));
		buf_put_u32le(w, (uint32_t)draw(s, 4));
		buf_put_u32le(w, (uint32_t)draw(s, 4));
		put_u16(w, n = draw(s, 2));
		for (uint64_t i = 0; i < n && i < ITEMS_CAP; i++)
			buf_put_u64le(w, draw(s, 8));
		break;
	case MSG_AE_CARTS:
		buf_put_u32le(w, (uint32_t)draw(s, 4));
		buf_put_u32le(w, (uint32_t)draw(s, 4));
		buf_put_u32le(w, (uint32_t)draw(s, 4));
		buf_put_u8(w, (uint8_t)draw(s, 1));
		put_u16(w, n = draw(s, 2));
		for (uint64_t i = 0; i < n && i < ITEMS_CAP; i++) {
			put_name(w, s);
			buf_put_u64le(w, draw(s, 8));
		}
		break;
	case MSG_AE_WANT:
		put_u16(w, n = draw(s, 2));
		for (uint64_t i = 0; i < n && i < ITEMS_CAP; i++)
			put_name(w, s);
		break;
	case MSG_AE_STATUS:
		buf_put_u32le(w, (uint32_t)draw(s, 4));
		buf_put_u32le(w, (uint32_t)draw(s, 4));
		break;
	default:   /* an unknown type: a few bytes of anything */
		for (unsigned i = byte(s) % 8; i > 0; i--)
			buf_put_u8(w, byte(s));
		break;
	}
}

static void on_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len)
{
	(void)arg;
	(void)d;
	if (to == NULL || to->len > ENGINE_ADDR_MAX || len > WIRE_MAX_DATAGRAM_DEFAULT)
		abort();
}

/* A cart the engine changed must be valid: checked as it is announced,
 * rather than walking the whole store after every input. */
static void on_persist(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
                       size_t enc_len)
{
	crdt_item it;
	(void)arg;
	if (crdt_check_id(id->s, id->len) != 0 || id->hash != crdt_name_hash(id->s, id->len) ||
	    crdt_store_get_id(store, id, &it) != 0 || !crdt_cart_valid(it.cart) ||
	    !crdt_cart_valid(delta) || enc == NULL || enc_len == 0)
		abort();
}

static void setup(void)
{
	engine_callbacks cb = { on_send, on_persist, NULL, NULL };
	/* No deflate: the fuzzer's time goes to the handlers (fuzz_wire covers
	 * inflate), and what does not fit a datagram raw is skipped. */
	/* A small table and repair budget keep the fuzzer fast: every rumour
	 * scans the table, and a WANT naming our carts over and over is
	 * answered only within the budget (the default would encode and seal
	 * every one of them). */
	engine_config ec;
	engine_config_init(&ec);
	ec.max_members = 64;
	ec.ae_bytes_per_sec = 16384;
	fuzz_peer_init(&peer, NBUCKETS, &ec, 0, &cb);
	store = peer.store;
	eng = peer.eng;
	now = peer.now;
	boundary[NBOUND - 2] = wire_self_id(peer.rx);
	boundary[NBOUND - 1] = wire_self_id(peer.tx);
	/* A few carts of our own, so that digests differ and repair runs. */
	for (int i = 0; i < 8; i++) {
		char id[16] = "own-0";
		id[4] = (char)('0' + i);
		crdt_op op = { .kind = CRDT_OP_ADD, .sku = "sku", .sku_len = 3,
		               .qty = (uint32_t)i + 1 };
		if (crdt_store_apply(store, id, strlen(id), FUZZ_SELF_REPLICA, &op, NULL) != 0)
			abort();
	}
}

static void check_invariants(int rc)
{
	if (rc != 0 && rc != CARTD_EDECODE && rc != CARTD_ENOMEM)
		abort();
	if (rc == CARTD_EDECODE) {
		unsigned row, field;
		engine_last_reject(eng, &row, &field);
		if (!reject_valid(row, field))
			abort();
	}
	const engine_stats *st = engine_get_stats(eng);
	uint64_t sum = 0;
	for (unsigned r = 0; r < REJECT_ROWS; r++)
		for (unsigned f = 0; f < REJECT_NFIELDS; f++)
			sum += st->rej_reason[r][f];
	if (sum != st->rej_decode)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static buf_writer w;
	if (eng == NULL) {
		setup();
		buf_writer_init(&w);
	}
	src s = { data, size };
	for (int step = 0; step < MAX_STEPS && s.n > 0; step++) {
		uint8_t t = byte(&s) % 12;
		if (t == 11) {
			now += 1 + draw(&s, 2);
			engine_tick(eng, now);
			continue;
		}
		/* unknown: a sealed type past MSG_MEMBERS (HELLO is never sealed) */
		uint8_t type = t ? t : (uint8_t)(MSG_MEMBERS + 1 +
		                                 byte(&s) % (WIRE_TYPE_HELLO - 1 - MSG_MEMBERS));
		buf_writer_reset(&w);
		build(&w, type, &s);
		if (w.err)
			continue;
		int rc = fuzz_peer_send(&peer, type, w.data, w.len, ++now);
		if (rc != FUZZ_UNSEALED)   /* else too big for a datagram */
			check_invariants(rc);
	}
	return 0;
}
