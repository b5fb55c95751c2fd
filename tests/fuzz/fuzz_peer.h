/*
 * fuzz_peer.h - an engine and a certified peer with a session to it, for
 * the harnesses and suites that feed the engine sealed messages
 * (fuzz_handlers.c, check_hostile.c, check_mangle.c).
 *
 * Both identities come from one fixed development keyring (the harnesses
 * must be deterministic).  The peer, "tx", shakes hands through the engine
 * itself, echo included, so the engine holds it as a verified member at
 * its address: what it seals is what a member of the cluster can send, and
 * the engine's answers to it are not held back by anti-amplification.
 *
 * Everything aborts on failure: a harness has no other way to say its
 * set-up broke (under Check, the test fails on the signal).  Header-only,
 * since each harness is built on its own with the library sources
 * (Makefile, fuzz target).
 */
#ifndef TESTS_FUZZ_PEER_H
#define TESTS_FUZZ_PEER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/store.h"
#include "net/engine.h"
#include "net/keyring.h"
#include "net/wire.h"

/* A fixed cluster secret: every identity of the harnesses derives from it. */
static const char fuzz_ring_text[] =
	"cluster-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

#define FUZZ_SELF_REPLICA 1u
#define FUZZ_TX_REPLICA 2u

typedef struct fuzz_peer {
	wire_keyring *rx_ring, *tx_ring;
	wire *rx;                 /* the engine's own */
	wire *tx;                 /* the member that seals for it */
	crdt_store *store;
	engine *eng;
	engine_addr tx_addr;      /* where tx's datagrams come from */
	engine_callbacks user;    /* the caller's callbacks, called after ours */
	uint8_t last[WIRE_MAX_DATAGRAM_DEFAULT];   /* the engine's last datagram */
	size_t last_len;
	uint64_t now;             /* the time of the last delivery */
} fuzz_peer;

/* A wire for replica (boot epoch 1) of the test cluster ("fuzz"),
 * deflating at level (0: never); its ring goes to *ring. */
static inline wire *fuzz_wire_new(uint64_t replica, int level, wire_keyring **ring)
{
	wire_config cfg;
	wire *w;
	if (wire_keyring_parse(fuzz_ring_text, sizeof fuzz_ring_text - 1, ring, NULL, 0) != 0 ||
	    wire_keyring_derive_identity(*ring, replica) != 0)
		abort();
	wire_config_init(&cfg);
	cfg.deflate_level = level;
	cfg.boot_epoch = 1;
	cfg.boot_nonce[0] = (uint8_t)replica;
	cfg.cluster_tag = wire_cluster_tag("fuzz");
	if (wire_new(&cfg, *ring, &w) != 0)
		abort();
	return w;
}

static inline void fuzz_peer_on_send(void *arg, const engine_addr *to, const uint8_t *d,
                                     size_t len)
{
	fuzz_peer *p = (fuzz_peer *)arg;
	if (len > sizeof p->last)
		abort();
	memcpy(p->last, d, len);
	p->last_len = len;
	if (p->user.send)
		p->user.send(p->user.arg, to, d, len);
}

static inline void fuzz_peer_on_persist(void *arg, const crdt_id *id, const crdt_cart *delta,
                                        const uint8_t *enc, size_t enc_len)
{
	fuzz_peer *p = (fuzz_peer *)arg;
	if (p->user.persist)
		p->user.persist(p->user.arg, id, delta, enc, enc_len);
}

/* Hands datagram d from tx's address to the engine at time now. */
static inline int fuzz_peer_deliver(fuzz_peer *p, const uint8_t *d, size_t len, uint64_t now)
{
	p->now = now;
	return engine_receive(p->eng, &p->tx_addr, d, len, now);
}

/* tx says HELLO, the engine answers with its challenge, tx echoes it. */
static inline void fuzz_peer_join(fuzz_peer *p)
{
	uint8_t h[WIRE_HELLO_LEN], chal[WIRE_CHALLENGE_LEN] = { 0x7e };
	size_t n;
	wire_msg m;
	uint64_t self = wire_self_id(p->rx);
	p->last_len = 0;
	if (wire_hello(p->tx, 0, WIRE_F_WANT_REPLY, chal, NULL, h, sizeof h, &n) != 0 ||
	    fuzz_peer_deliver(p, h, n, p->now + 1) != 0 || p->last_len != WIRE_HELLO_LEN ||
	    wire_open(p->tx, p->last, p->last_len, &m) != 0 || m.type != WIRE_TYPE_HELLO ||
	    wire_hello(p->tx, self, 0, chal, m.challenge, h, sizeof h, &n) != 0 ||
	    fuzz_peer_deliver(p, h, n, p->now + 1) != 0)
		abort();
	engine_member_info mi[4];
	size_t k = engine_members(p->eng, mi, 4);
	if (k != 1 || mi[0].id != wire_self_id(p->tx) || !mi[0].verified)
		abort();
}

/*
 * A store of nbuckets, an engine over it, and tx joined to it at
 * 127.0.0.2:8080.  base (may be NULL: the defaults) gives the engine's
 * settings but its ids, epoch and seed (a small max_members keeps a fuzzer
 * fast: every rumour scans the table).  cb (may be NULL) is called for
 * every send and persist after fuzz_peer's own bookkeeping.  tx deflates
 * at tx_level (0: never).
 */
static inline void fuzz_peer_init(fuzz_peer *p, uint32_t nbuckets, const engine_config *base,
                                  int tx_level, const engine_callbacks *cb)
{
	static const engine_addr at = { 7, { 4, 0x1f, 0x90, 127, 0, 0, 2 } };
	memset(p, 0, sizeof *p);
	if (cb)
		p->user = *cb;
	p->tx_addr = at;
	p->now = 1000;
	if (crdt_store_new(nbuckets, &p->store) != 0)
		abort();
	p->rx = fuzz_wire_new(FUZZ_SELF_REPLICA, WIRE_DEFLATE_LEVEL_DEFAULT, &p->rx_ring);
	p->tx = fuzz_wire_new(FUZZ_TX_REPLICA, tx_level, &p->tx_ring);
	engine_config ec;
	if (base)
		ec = *base;
	else
		engine_config_init(&ec);
	ec.self_id = wire_self_id(p->rx);
	ec.replica_id = FUZZ_SELF_REPLICA;
	ec.boot_epoch = 1;
	ec.seed = 1;
	engine_callbacks ours = { fuzz_peer_on_send, fuzz_peer_on_persist, NULL, p };
	if (engine_new(&ec, p->store, p->rx, &ours, &p->eng) != 0)
		abort();
	fuzz_peer_join(p);
}

static inline void fuzz_peer_destroy(fuzz_peer *p)
{
	engine_free(p->eng);
	wire_free(p->rx);
	wire_free(p->tx);
	crdt_store_free(p->store);
	wire_keyring_free(p->rx_ring);
	wire_keyring_free(p->tx_ring);
	memset(p, 0, sizeof *p);
}

/*
 * Seals payload as type from tx (through its session) into dg (cap bytes)
 * and hands it to the engine at time now.  Returns engine_receive's code,
 * or FUZZ_UNSEALED when the payload does not seal (too big even deflated).
 */
#define FUZZ_UNSEALED 1
static inline int fuzz_peer_send(fuzz_peer *p, uint8_t type, const uint8_t *payload,
                                 size_t len, uint64_t now)
{
	uint8_t d[WIRE_MAX_DATAGRAM_DEFAULT];
	size_t n;
	if (wire_seal(p->tx, wire_self_id(p->rx), type, payload, len, d, sizeof d, &n) != 0)
		return FUZZ_UNSEALED;
	return fuzz_peer_deliver(p, d, n, now);
}

#endif
