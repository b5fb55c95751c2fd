/*
 * fuzz_engine.c - libFuzzer harness for everything an authenticated peer
 * can make the engine parse and act on: the payload decoders of net/msg.c
 * and the handlers behind them (delta apply, anti-entropy, membership).
 *
 * The first byte picks the message type; the rest is the payload, sealed
 * under a real session by a second wire object, another certified peer, so the
 * input reaches the decoders that a fuzzer could never reach by forging a
 * datagram.  The same input is also given to the context-token decoder of
 * the HTTP API.  The receiving store must stay valid throughout.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/peer/token.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "net/engine.h"
#include "net/keyring.h"
#include "net/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ring_text[] =
	"cluster-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
static wire_keyring *rings[2];
static wire *tx;
static crdt_store *store;
static wire *rx;
static engine *eng;
static uint64_t now = 1;

static void on_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len)
{
	(void)arg;
	(void)d;
	if (to == NULL || to->len > ENGINE_ADDR_MAX || len > 1200)
		abort();
}

/* What the engine persists: an id the decoder checked and hashed, a valid
 * delta, and the bytes it came in, which decode to that very delta. */
static void on_persist(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
                       size_t enc_len)
{
	(void)arg;
	if (crdt_check_id(id->s, id->len) != 0 || id->hash != crdt_name_hash(id->s, id->len) ||
	    !crdt_cart_valid(delta))
		abort();
	crdt_cart back;
	crdt_cart_init(&back);
	if (crdt_cart_from_bytes(enc, enc_len, &back) != 0 || !crdt_cart_equal(&back, delta))
		abort();
	crdt_cart_destroy(&back);
}

static wire *make_wire(uint64_t replica)
{
	wire_config cfg;
	wire *w;
	wire_keyring **r = &rings[replica - 1];
	if (wire_keyring_parse(ring_text, sizeof ring_text - 1, r, NULL, 0) != 0 ||
	    wire_keyring_derive_identity(*r, replica) != 0)
		abort();
	wire_config_init(&cfg);
	cfg.boot_epoch = 1;
	cfg.boot_nonce[0] = (uint8_t)replica;
	cfg.cluster_tag = wire_cluster_tag("fuzz");
	if (wire_new(&cfg, *r, &w) != 0)
		abort();
	return w;
}

/* A HELLO from a, opened by b. */
static void hello(wire *a, wire *b)
{
	uint8_t d[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = {0};
	size_t n;
	wire_msg m;
	if (wire_hello(a, wire_self_id(b), 0, chal, NULL, d, sizeof d, &n) != 0 ||
	    wire_open(b, d, n, &m) != 0)
		abort();
}

static void setup(void)
{
	if (crdt_store_new(16, &store) != 0)
		abort();
	tx = make_wire(2);
	rx = make_wire(1);
	hello(tx, rx);
	hello(rx, tx);
	engine_config ec;
	engine_config_init(&ec);
	ec.self_id = wire_self_id(rx);
	ec.replica_id = 1;
	ec.boot_epoch = 1;
	ec.seed = 1;
	engine_callbacks cb = { on_send, on_persist, NULL, NULL };
	if (engine_new(&ec, store, rx, &cb, &eng) != 0)
		abort();
}

/* Tokens: the input as token text must be refused or open canonically;
 * the input as a context, when it decodes, seals and opens to itself. */
static void fuzz_token(const uint8_t *data, size_t size)
{
	crdt_ctx c, d;
	crdt_ctx_init(&c);
	crdt_ctx_init(&d);
	char *again = NULL;
	crdt_id x, y;
	if (crdt_id_make(&x, "x", 1) != 0 || crdt_id_make(&y, "y", 1) != 0)
		abort();
	if (token_open(rings[0], &x, (const char *)data, size, &c) == 0 && !crdt_ctx_valid(&c))
		abort();
	crdt_ctx_destroy(&c);
	if (crdt_ctx_from_bytes(data, size, &c) == 0) {
		if (token_seal(rings[0], &x, &c, &again) != 0 ||
		    token_open(rings[0], &x, again, strlen(again), &d) != 0 || !crdt_ctx_equal(&c, &d) ||
		    token_open(rings[0], &y, again, strlen(again), &d) != CARTD_ETOKENCART)
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
	uint8_t type = (uint8_t)(1 + data[0] % (WIRE_TYPE_HELLO - 1));
	size_t n;
	if (wire_seal(tx, wire_self_id(rx), type, data + 1, size - 1, dgram, sizeof dgram, &n) != 0)
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
