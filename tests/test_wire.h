/*
 * test_wire.h - wire objects with real identities for the tests: a
 * development keyring per cluster (deterministic cluster secret), an
 * identity derived per replica, handshakes, and the session key computed
 * independently from docs/protocol.md.
 */
#ifndef TESTS_TEST_WIRE_H
#define TESTS_TEST_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "net/keyring.h"
#include "net/wire.h"

typedef struct tw_peer {
	wire_keyring *ring;
	wire *w;
	uint64_t replica;
	uint32_t epoch;
	uint8_t nonce[WIRE_NONCE_LEN];
} tw_peer;

/* The header fields a hand-made datagram carries. */
typedef struct wire_hdr_spec {
	uint64_t sender, receiver;
	uint32_t sender_epoch, receiver_epoch;
	uint64_t seq;
} wire_hdr_spec;

/* The cluster tag every test wire uses. */
uint32_t tw_tag(void);

/* Development keyring text of cluster number `cluster` (its secret is a
 * fixed function of the number), plus `extra` lines (may be NULL). */
void tw_ring_text(uint8_t cluster, const char *extra, char *buf, size_t cap);

/* A wire for replica in cluster, at boot epoch; base (may be NULL) gives
 * the other settings.  The boot nonce follows from replica and epoch. */
void tw_make(tw_peer *p, uint8_t cluster, uint64_t replica, uint32_t epoch,
	     const wire_config *base);
/* As tw_make, with the keyring text given. */
void tw_make_text(tw_peer *p, const char *text, uint64_t replica, uint32_t epoch,
		  const wire_config *base);
void tw_free(tw_peer *p);
uint64_t tw_id(const tw_peer *p);

/* A HELLO from `from` to `to` (a zero challenge unless chal), into dg. */
size_t tw_hello(tw_peer *from, const tw_peer *to, uint8_t flags, uint8_t *dg);
/* Both ways, each opened by the other: a session both ways. */
void tw_shake(tw_peer *a, tw_peer *b);
/* The key `from` seals with for `to`, from the specification. */
void tw_spec_key(const tw_peer *from, const tw_peer *to, uint8_t key[32]);

#endif
