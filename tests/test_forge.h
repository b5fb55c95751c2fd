/*
 * test_forge.h - a member of a running peer's cluster, made by the test:
 * an identity minted from the peer's development keyring file (what
 * anyone who can read that file can do), a UDP socket of its own on
 * 127.0.0.1, the handshake over that socket, and then datagrams sealed
 * through the session.  For the tests that feed a running peer what a
 * member could send: a cartd process (check_drops.c) or a node in this
 * process (test_node_drops.c).  Everything asserts.
 */
#ifndef TEST_FORGE_H
#define TEST_FORGE_H

#include <stddef.h>
#include <stdint.h>

#include "net/engine.h"
#include "net/keyring.h"
#include "net/wire.h"
#include "tests/test_wire.h"

typedef struct tf_peer {
	wire_keyring *ring;
	wire *w;
	int sock;               /* non-blocking, bound to 127.0.0.1 */
	uint64_t peer;          /* the id of the peer it shook hands with */
	uint8_t chal[WIRE_CHALLENGE_LEN];   /* the peer's last challenge */
} tf_peer;

/* A member for replica of the cluster "cartd" whose development keyring
 * is key_file, at boot epoch 1. */
void tf_open(tf_peer *f, const char *key_file, uint64_t replica);
void tf_close(tf_peer *f);

/* The socket's address, as the peer sees it. */
engine_addr tf_addr(const tf_peer *f);
/* Sends d to 127.0.0.1:port. */
void tf_send(tf_peer *f, unsigned port, const uint8_t *d, size_t n);

/* A HELLO asking whoever receives it for an answer, into out
 * (WIRE_HELLO_LEN bytes); returns its length. */
size_t tf_hello(tf_peer *f, uint8_t *out);
/* Waits up to ms for a HELLO on the socket that opens: the session with
 * its sender, whose id and challenge are kept.  Other datagrams are
 * skipped.  Fails the test when none comes. */
void tf_take_hello(tf_peer *f, int ms);
/* The HELLO that answers the last one taken, echoing its challenge: it
 * proves our address to the peer. */
size_t tf_echo(tf_peer *f, uint8_t *out);
/* The whole handshake with a process listening at port. */
void tf_shake(tf_peer *f, unsigned port);

/* A datagram shaped like a sealed one (type AE_STATUS, no flags) with the
 * header fields of h and cluster tag, and body + 16 bytes of noise where
 * the ciphertext and tag go: what anyone can send without a key.  Into d;
 * returns its length. */
size_t tf_forge(uint8_t *d, const wire_hdr_spec *h, uint32_t tag, size_t body);

/* payload sealed as type for the peer, through the session; returns the
 * datagram's length. */
size_t tf_seal(tf_peer *f, uint8_t type, const uint8_t *p, size_t len, uint8_t *out, size_t cap);
/* The AE_GROUPS that used to crash a peer (first 2^32 - 1, count 1, a
 * nonzero digest, 1024 buckets: the default --buckets), sealed. */
size_t tf_wrapping_groups(tf_peer *f, uint8_t *out, size_t cap);

#endif
