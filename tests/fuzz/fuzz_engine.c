/*
 * fuzz_engine.c - libFuzzer harness for everything an authenticated peer
 * can make the engine parse and act on: the payload decoders of net/msg.c
 * and the handlers behind them (delta apply, anti-entropy, membership).
 *
 * The first byte picks the message type; the rest is the payload, sealed
 * with a valid key by a second wire object posing as another peer, so the
 * input reaches the decoders that a fuzzer could never reach by forging a
 * datagram.  The same input is also given to the context-token decoder of
 * the HTTP API.  The receiving store must stay valid throughout.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/token.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "net/engine.h"
#include "net/keyring.h"
#include "net/wire.h"
#include "tests/fuzz/fuzz_peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wire_keyring *ring;     /* also seals and opens tokens */
static wire *tx;
static crdt_store *store;
static engine *eng;
static uint64_t now = 1;

static void on_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len)
{
	(void)arg;
	(void)d;
	if (to == NULL || to->len > ENGINE_ADDR_MAX || len > 1200)
		abort();
}

static void on_persist(void *arg, const char *id, size_t len)
{
	(void)arg;
	if (crdt_check_id(id, len) != 0 || id[len] != '\0')
		abort();
}

static void setup(void)
{
	static fuzz_peer peer;
	engine_callbacks cb = { on_send, on_persist, NULL, NULL };
	fuzz_peer_init(&peer, 16, 1, 0, &cb);
	ring = peer.ring;
	store = peer.store;
	eng = peer.eng;
	tx = fuzz_wire_new(ring, 2, WIRE_DEFLATE_LEVEL_DEFAULT);
}

/* Tokens: the input as token text must be refused or open canonically;
 * the input as a context, when it decodes, seals and opens to itself. */
static void fuzz_token(const uint8_t *data, size_t size)
{
	crdt_ctx c, d;
	crdt_ctx_init(&c);
	crdt_ctx_init(&d);
	char *again = NULL;
	if (token_open(ring, "x", 1, (const char *)data, size, &c) == 0 && !crdt_ctx_valid(&c))
		abort();
	crdt_ctx_destroy(&c);
	if (crdt_ctx_from_bytes(data, size, &c) == 0) {
		if (token_seal(ring, "x", 1, &c, &again) != 0 ||
		    token_open(ring, "x", 1, again, strlen(again), &d) != 0 || !crdt_ctx_equal(&c, &d) ||
		    token_open(ring, "y", 1, again, strlen(again), &d) != CARTD_ETOKENCART)
			abort();
		free(again);
	}
	crdt_ctx_destroy(&c);
	crdt_ctx_destroy(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t dgram[1200];
	if (eng == NULL)
		setup();
	fuzz_token(data, size);
	if (size < 1)
		return 0;
	uint8_t type = (uint8_t)(1 + data[0] % WIRE_TYPE_MAX);
	size_t n;
	if (wire_seal(tx, type, data + 1, size - 1, dgram, sizeof dgram, &n) != 0)
		return 0;
	engine_addr from = { 7, { 4, 0x1f, 0x90, 127, 0, 0, 2 } };
	(void)engine_receive(eng, &from, dgram, n, now);
	now += 10;
	engine_tick(eng, now);
	crdt_item it;
	if (crdt_store_get(store, "x", 1, &it) == 0 && !crdt_cart_valid(it.cart))
		abort();
	return 0;
}
