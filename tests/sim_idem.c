/*
 * sim_idem.c - a keyed write's idempotency record, derived as
 * docs/semantics.md §10 says cartd derives it: the key's hash, and a dot
 * that is a function of (cart, key, request) alone, so that every attempt
 * of one request, at any peer, is the same write.
 *
 *   hash = BLAKE2b-128, keyed with a label, of the key
 *   h    = BLAKE2b-128, keyed with another label, of the cart id, the key
 *          (each length-prefixed), the op kind, the sku (length-prefixed),
 *          the quantity and the canonical encoding of the token's context
 *   dot  = { le64(h[0..8]) (0 becomes 1), 1 + le64(h[8..16]) % CRDT_MAX_COUNTER }
 *
 * The simulator only needs the properties (same request, same dot; another
 * request, another dot; the key's hash shared), not cartd's exact bytes.
 */
#include <sodium.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/sim_internal.h"

#define KEY_LABEL "sim-idem-key-hash"
#define DOT_LABEL "sim-idem-dot-hash"

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int sim_idem_record(const char *cart, size_t cart_len, const char *key, size_t key_len,
                    const crdt_op *op, uint64_t now_ms, uint64_t window_ms, crdt_keyrec *out)
{
	memset(out, 0, sizeof *out);
	bool sku = op->kind == CRDT_OP_ADD || op->kind == CRDT_OP_SET || op->kind == CRDT_OP_REMOVE;
	bool qty = op->kind == CRDT_OP_ADD || op->kind == CRDT_OP_SET;
	buf_writer w;
	buf_writer_init(&w);
	buf_put_u32le(&w, (uint32_t)cart_len);
	buf_put_bytes(&w, cart, cart_len);
	buf_put_u32le(&w, (uint32_t)key_len);
	buf_put_bytes(&w, key, key_len);
	buf_put_u8(&w, (uint8_t)op->kind);
	buf_put_u32le(&w, sku ? (uint32_t)op->sku_len : 0);
	if (sku)
		buf_put_bytes(&w, op->sku, op->sku_len);
	buf_put_u32le(&w, qty ? op->qty : 0);
	if (op->observed)
		crdt_encode_ctx(&w, op->observed);
	int rc = w.err ? CARTD_ENOMEM : 0;
	uint8_t h[16];
	if (rc == 0) {
		crypto_generichash(out->hash, sizeof out->hash, (const uint8_t *)key, key_len,
		                   (const uint8_t *)KEY_LABEL, strlen(KEY_LABEL));
		crypto_generichash(h, sizeof h, w.data, w.len, (const uint8_t *)DOT_LABEL,
		                   strlen(DOT_LABEL));
		uint64_t replica = le64(h);
		out->dot.replica = replica ? replica : 1;
		out->dot.counter = 1 + le64(h + 8) % CRDT_MAX_COUNTER;
		out->at_ms = now_ms;
		out->until_ms = now_ms + window_ms;
	}
	buf_writer_destroy(&w);
	return rc;
}
