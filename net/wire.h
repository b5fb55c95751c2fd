/*
 * wire.h - the datagram layer: per-peer sessions, the HELLO handshake,
 * sealing and opening.
 *
 * Every peer has its own certified key pair (keyring.h, cert.h).  Two peers
 * that have exchanged HELLOs share a session: keys derived from their
 * static X25519 keys (crypto_kx) mixed with both boot epochs and both boot
 * nonces, one key per direction.  A sealed datagram names its sender and
 * receiver and both boot epochs in its header, which is the associated data
 * of XChaCha20-Poly1305 under the direction's key: it opens at that
 * receiver, in that pair of boots, and nowhere else.  Each session has its
 * own replay window.  docs/protocol.md, "Datagram framing" and
 * "Handshake", is the byte-level specification.
 *
 * A HELLO is not sealed but signed: it carries the sender's certificate,
 * boot epoch and nonce, a challenge and the echo of one, and an Ed25519
 * signature by the sender over all of it.  Opening a HELLO verifies the
 * certificate and the signature and starts or renews the session; whether
 * to answer, and what the echo proves about an address, is the engine's
 * business (net/engine.h).
 *
 * Opening checks, in order and counting each rejection by cause: length,
 * header fields and version, cluster, sender and receiver ids, epochs,
 * session, sequence bound, authentication, replay window, inflate within
 * the payload cap.  Nothing past the header is looked at before
 * authentication, and no allocation depends on received lengths.
 *
 * A wire object is a pure state machine: no sockets, clock, randomness or
 * globals (the boot nonce comes in the config).  Not thread-safe; one
 * object per peer, used by one thread.
 */
#ifndef NET_WIRE_H
#define NET_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/cert.h"
#include "net/keyring.h"

#if defined(__GNUC__) || defined(__clang__)
#define WIRE_MUST_CHECK __attribute__((warn_unused_result))
#else
#define WIRE_MUST_CHECK
#endif

#define WIRE_VERSION 4u
#define WIRE_TYPE_MAX 15u          /* types are 1..15; meanings: net/msg.h */
#define WIRE_TYPE_HELLO 15u        /* the handshake, signed, never sealed */
#define WIRE_F_DEFLATE 0x01u       /* sealed: payload is raw deflate (RFC 1951) */
#define WIRE_F_WANT_REPLY 0x02u    /* HELLO: answer with a HELLO */
#define WIRE_HEADER_LEN 41u
#define WIRE_TAG_LEN 16u           /* crypto_aead_xchacha20poly1305_ietf_ABYTES */
#define WIRE_OVERHEAD (WIRE_HEADER_LEN + WIRE_TAG_LEN)
#define WIRE_NONCE_LEN 16u         /* boot nonce */
#define WIRE_CHALLENGE_LEN 16u
#define WIRE_SIG_LEN 64u
#define WIRE_HELLO_LEN (WIRE_HEADER_LEN + WIRE_CERT_LEN + WIRE_NONCE_LEN + \
			2 * WIRE_CHALLENGE_LEN + WIRE_SIG_LEN)   /* 281 */

/* Bounds on what a peer's next boot or datagram may claim.  A HELLO whose
 * epoch is more than WIRE_EPOCH_JUMP_MAX past the session's is refused
 * (EEPOCH), and a sealed sequence more than WIRE_SEQ_JUMP_MAX past the
 * newest accepted in its session (EJUMP): a boot epoch grows by one per
 * restart and a sequence by one per datagram, so neither is reached by an
 * honest peer between two contacts. */
#define WIRE_EPOCH_JUMP_MAX 65536u
#define WIRE_SEQ_JUMP_MAX (1ull << 32)

#define WIRE_MAX_DATAGRAM_DEFAULT 1200u  /* fits any path MTU >= 1280 (IPv6 min) */
#define WIRE_MAX_DATAGRAM_LIMIT 65507u   /* largest UDP payload over IPv4 */
#define WIRE_MAX_PAYLOAD_DEFAULT 65536u  /* inflated payload cap */
#define WIRE_MAX_PAYLOAD_LIMIT (16u << 20)
#define WIRE_DEFLATE_LEVEL_DEFAULT 1     /* libdeflate's fastest; see wire.c */
/* zlib's window and memLevel that cartd deflated with before libdeflate
 * (bench/bench_wire.c compares against them).  How a sender deflates is
 * its choice: receivers inflate any raw deflate stream, so it may change
 * without a new protocol version. */
#define WIRE_DEFLATE_WBITS 12
#define WIRE_DEFLATE_MEMLEVEL 5
#define WIRE_PEERS_DEFAULT 1024u         /* sessions kept */
#define WIRE_PEERS_MAX (1u << 16)

typedef struct wire wire;

typedef struct wire_config {
	uint32_t boot_epoch;   /* this peer's current boot, >= 1; never reused */
	uint8_t boot_nonce[WIRE_NONCE_LEN];  /* random, new on every boot */
	uint32_t cluster_tag;  /* wire_cluster_tag(cluster name) */
	size_t max_datagram;   /* WIRE_HELLO_LEN .. WIRE_MAX_DATAGRAM_LIMIT */
	size_t max_payload;    /* >= max_datagram - WIRE_OVERHEAD, <= ..._LIMIT */
	int deflate_level;     /* 0: never compress; 1..9: libdeflate level */
	size_t max_peers;      /* sessions kept; 1..WIRE_PEERS_MAX */
} wire_config;

typedef struct wire_stats {
	uint64_t sealed, sealed_deflated, opened;
	uint64_t bytes_raw_out, bytes_wire_out;   /* payload / datagram bytes */
	uint64_t bytes_raw_in, bytes_wire_in;     /* counted for opened only */
	uint64_t hellos_out, hellos_in;           /* HELLOs made / accepted */
	uint64_t sessions_new, sessions_evicted;  /* started or renewed / pushed out */
	/* rejections by cause; rej_decode is the engine's to count */
	uint64_t rej_header, rej_version, rej_cluster, rej_self, rej_receiver;
	uint64_t rej_cert, rej_revoked, rej_session, rej_epoch, rej_jump;
	uint64_t rej_auth, rej_replay, rej_oversize, rej_inflate;
} wire_stats;

typedef struct wire_msg {
	uint8_t type;
	uint8_t flags;           /* HELLO: WIRE_F_WANT_REPLY */
	uint64_t sender_id;
	uint32_t boot_epoch;
	uint64_t seq;
	const uint8_t *payload;  /* sealed: owned by the wire; valid until next wire_open */
	size_t payload_len;
	/* HELLO only */
	bool knows_us;           /* it named our id and current epoch */
	const uint8_t *challenge;  /* WIRE_CHALLENGE_LEN bytes, into the datagram */
	const uint8_t *echo;       /* WIRE_CHALLENGE_LEN bytes, all zero = none */
} wire_msg;

/* Fills cfg with the defaults above, epoch 1 and a zero nonce and tag. */
void wire_config_init(wire_config *cfg);

/* First 4 bytes (LE) of BLAKE2b-256 of the NUL-terminated cluster name:
 * peers of different clusters drop each other's datagrams cheaply. */
uint32_t wire_cluster_tag(const char *name);

/* Bytes a sealed datagram adds to its (possibly deflated) payload: 57. */
size_t wire_overhead(void);

/* Size of the datagram carrying a body_len-byte (possibly deflated)
 * payload: body_len + wire_overhead(). */
size_t wire_sealed_size(size_t body_len);

/* Largest payload that always seals: max_datagram - wire_overhead(). */
size_t wire_max_body(const wire *w);

/*
 * Creates a wire object for the identity in ring (which must have one):
 * copies cfg, allocates every buffer, the session table, the compressor
 * and the decompressor once.  ring is borrowed: it must stay alive until wire_free or
 * until replaced by wire_set_keyring.
 * Returns 0, CARTD_EINVAL (cfg out of range, NULL argument), CARTD_EKEYRING
 * (ring without identity), CARTD_ENOMEM or CARTD_ECRYPTO.  On failure
 * *out = NULL.
 */
int wire_new(const wire_config *cfg, const wire_keyring *ring, wire **out);

/*
 * Switches to another keyring (SIGHUP reload), between calls only.  The
 * identity must stay the same (CARTD_EKEYRING otherwise, and nothing
 * changes).  Sessions of peers the new ring revokes, or whose certificate
 * it no longer trusts, are dropped.  Returns 0 once the previous ring may
 * be freed.
 */
int wire_set_keyring(wire *w, const wire_keyring *ring);

/* Frees the object and its buffers, wiping the session keys.  NULL-safe. */
void wire_free(wire *w);

/* This peer's id (from its certificate). */
uint64_t wire_self_id(const wire *w);

/* The boot epoch of peer in our session with it, or 0 when there is none. */
uint32_t wire_session_epoch(const wire *w, uint64_t peer);

/* Is peer on the current keyring's revocation list? */
bool wire_peer_revoked(const wire *w, uint64_t peer);

/* Drops the session with peer, if any. */
void wire_forget(wire *w, uint64_t peer);

/*
 * Writes a HELLO to peer `to` (0 when only its address is known) into
 * out[0..cap): our certificate, epoch and nonce, the epoch we know of
 * `to`, challenge, echo (NULL: none) and flags (WIRE_F_WANT_REPLY or 0),
 * signed.  Returns 0 and *out_len = WIRE_HELLO_LEN, CARTD_ENOSPC or
 * CARTD_EINVAL.
 */
int wire_hello(wire *w, uint64_t to, uint8_t flags, const uint8_t *challenge,
	       const uint8_t *echo, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Seals a payload of type (1..WIRE_TYPE_MAX-1) for peer `to` under our
 * session with it and the next sequence, into out[0..cap).  The payload is
 * sent deflated only when that is strictly smaller.  payload may be NULL
 * when len is 0; payload and out must not overlap.  Never allocates.
 * Returns 0 and *out_len = datagram size, or:
 *   CARTD_ESESSION   no session with `to`: send it a HELLO first;
 *   CARTD_EOVERSIZE  len > max_payload, or the datagram would exceed
 *                    max_datagram; *out_len = the size it would have needed,
 *                    so the caller can split the payload (no sequence used);
 *   CARTD_ENOSPC     cap too small for the datagram (*out_len = its size);
 *   CARTD_EINVAL     bad type or NULL argument, or sequences exhausted.
 * out is unspecified on failure.
 */
int wire_seal(wire *w, uint64_t to, uint8_t type, const uint8_t *payload, size_t len,
	      uint8_t *out, size_t cap, size_t *out_len);

/*
 * wire_seal in two steps, for one payload sent to several peers: deflate
 * it once (wire_pack), then seal it for each (wire_seal_packed), each pair
 * under its own key and sequence.  The packed body may point into w's
 * buffer: it is valid until the next wire_pack or wire_seal on w.
 * wire_pack: 0, or CARTD_EINVAL (NULL argument), CARTD_EOVERSIZE (len >
 * max_payload).  wire_seal_packed: as wire_seal.
 */
typedef struct wire_packed {
	const uint8_t *body;    /* what is sealed: the payload, or its deflated form */
	size_t len;             /* bytes of body */
	size_t raw_len;         /* bytes of the payload */
	bool deflated;
} wire_packed;
int wire_pack(wire *w, const uint8_t *payload, size_t len, wire_packed *out);
int wire_seal_packed(wire *w, uint64_t to, uint8_t type, const wire_packed *p, uint8_t *out,
		     size_t cap, size_t *out_len);

/*
 * Opens one received datagram, sealed or HELLO.  On success fills *out;
 * out->payload (and a HELLO's challenge and echo) point into w's buffer or
 * into dgram, valid until the next wire_open or wire_free, or as long as
 * dgram.  Returns 0 or the first failing check, each counted in the stats:
 *   CARTD_EOVERSIZE  len > max_datagram
 *   CARTD_EHEADER    too short, bad magic, type or flags, sequence 0, or a
 *                    HELLO of the wrong length
 *   CARTD_EVERSION   another protocol version
 *   CARTD_ECLUSTER   another cluster's tag
 *   CARTD_ESELF      our own sender id (a loop or a reflection)
 *   CARTD_ERECEIVER  addressed to another peer
 *   CARTD_EREVOKED   the sender is revoked
 *   CARTD_ECERT      HELLO: certificate not trusted, or not the sender's
 *   CARTD_ESESSION   sealed: no session with the sender
 *   CARTD_EEPOCH     sealed: not for our current boot, or not from the
 *                    sender's boot in our session; HELLO: an epoch older
 *                    than the session's, the session's epoch with another
 *                    nonce, or a jump past WIRE_EPOCH_JUMP_MAX
 *   CARTD_EJUMP      sealed: sequence past WIRE_SEQ_JUMP_MAX ahead
 *   CARTD_EAUTH      authentication or signature failed
 *   CARTD_EREPLAY    sequence already seen or too old
 *   CARTD_EINFLATE   deflated payload invalid, not ending exactly at the end
 *                    of its stream, or inflating past max_payload
 * CARTD_EINVAL for NULL arguments (not counted).  Sessions and windows
 * change only for authentic datagrams.  Never allocates.
 */
WIRE_MUST_CHECK int wire_open(wire *w, const uint8_t *dgram, size_t len, wire_msg *out);

/* The version byte of a datagram that carries our magic, for logs about
 * CARTD_EVERSION; 0 when it is too short or the magic differs. */
unsigned wire_dgram_version(const uint8_t *dgram, size_t len);

/* Counters since wire_new; owned by w. */
const wire_stats *wire_get_stats(const wire *w);

#endif
