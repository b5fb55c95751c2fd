/*
 * fuzz_peer.h - what the engine harnesses share: a fixed test keyring, wire
 * objects posing as replicas of one cluster, and an engine over a fresh
 * store.  Everything aborts on failure: a harness has no other way to say
 * its set-up broke.  Header-only, since each harness is built on its own
 * with the library sources (Makefile, fuzz target).
 */
#ifndef TESTS_FUZZ_PEER_H
#define TESTS_FUZZ_PEER_H

#include <stdint.h>
#include <stdlib.h>

#include "crdt/store.h"
#include "net/engine.h"
#include "net/keyring.h"
#include "net/wire.h"

/* A fixed key: the harnesses must be deterministic. */
static const char fuzz_ring_text[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

typedef struct fuzz_peer {
	wire_keyring *ring;
	crdt_store *store;
	wire *rx;                 /* the engine's own */
	engine *eng;
} fuzz_peer;

/* A wire object for replica id (boot epoch 1) of the test cluster
 * ("fuzz"), deflating at level (0: never). */
static inline wire *fuzz_wire_new(const wire_keyring *ring, uint64_t id, int level)
{
	wire_config cfg;
	wire *w;
	wire_config_init(&cfg);
	cfg.deflate_level = level;
	cfg.sender_id = id;
	cfg.boot_epoch = 1;
	cfg.cluster_tag = wire_cluster_tag("fuzz");
	if (wire_new(&cfg, ring, &w) != 0)
		abort();
	return w;
}

/* The test ring, a store of nbuckets and an engine of replica self whose
 * member table holds at most max_members (0: the default).  A small table
 * keeps the fuzzer fast: every rumour scans it. */
static inline void fuzz_peer_init(fuzz_peer *p, uint32_t nbuckets, uint64_t self,
                                  uint32_t max_members, const engine_callbacks *cb)
{
	if (wire_keyring_parse(fuzz_ring_text, sizeof fuzz_ring_text - 1, &p->ring) != 0 ||
	    crdt_store_new(nbuckets, &p->store) != 0)
		abort();
	p->rx = fuzz_wire_new(p->ring, self, WIRE_DEFLATE_LEVEL_DEFAULT);
	engine_config ec;
	engine_config_init(&ec);
	ec.self_id = self;
	ec.boot_epoch = 1;
	ec.seed = 1;
	if (max_members)
		ec.max_members = max_members;
	if (engine_new(&ec, p->store, p->rx, cb, &p->eng) != 0)
		abort();
}

#endif
