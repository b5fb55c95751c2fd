/*
 * wire.h - sealing and opening cartd datagrams.
 *
 * A datagram is a 33-byte header, authenticated as associated data, then
 * the payload (raw-deflated when that makes it smaller) encrypted with
 * XChaCha20-Poly1305 and its 16-byte tag.  The nonce is built from the
 * header's sender id, boot epoch and sequence, so the header must never
 * repeat under one key: sender ids are unique in a cluster, a boot epoch is
 * never reused by a sender, and a wire object numbers what it seals from 1.
 * docs/protocol.md, "Datagram framing", is the byte-level specification.
 *
 * Opening checks, in order and counting each rejection by cause: length,
 * header fields, cluster tag, own sender id, key id, authentication, replay
 * window, inflate within the payload cap.  Nothing past the header is looked
 * at before authentication, and no allocation depends on received lengths.
 *
 * A wire object is a pure state machine: no sockets, clock, randomness or
 * globals.  Not thread-safe; one object per peer, used by one thread.
 */
#ifndef NET_WIRE_H
#define NET_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "net/keyring.h"

#if defined(__GNUC__) || defined(__clang__)
#define WIRE_MUST_CHECK __attribute__((warn_unused_result))
#else
#define WIRE_MUST_CHECK
#endif

#define WIRE_VERSION 2u
#define WIRE_TYPE_MAX 15u          /* types are 1..15; meanings: net/msg.h */
#define WIRE_F_DEFLATE 0x01u       /* payload is raw deflate (RFC 1951) */
#define WIRE_HEADER_LEN 33u
#define WIRE_TAG_LEN 16u           /* crypto_aead_xchacha20poly1305_ietf_ABYTES */
#define WIRE_OVERHEAD (WIRE_HEADER_LEN + WIRE_TAG_LEN)

#define WIRE_MAX_DATAGRAM_DEFAULT 1200u  /* fits any path MTU >= 1280 (IPv6 min) */
#define WIRE_MAX_DATAGRAM_LIMIT 65507u   /* largest UDP payload over IPv4 */
#define WIRE_MAX_PAYLOAD_DEFAULT 65536u  /* inflated payload cap */
#define WIRE_MAX_PAYLOAD_LIMIT (16u << 20)
#define WIRE_DEFLATE_LEVEL_DEFAULT 1     /* see wire.c: level 1 is deflate_fast */
/* How senders deflate (raw, window 2^12, memLevel 5; see wire.c).  Receivers
 * inflate with the full 2^15 window, so these may change without a new
 * protocol version. */
#define WIRE_DEFLATE_WBITS 12
#define WIRE_DEFLATE_MEMLEVEL 5

typedef struct wire wire;

typedef struct wire_config {
	uint64_t sender_id;    /* this peer; datagrams claiming it are refused */
	uint32_t boot_epoch;   /* this peer's current boot; never reused */
	uint32_t cluster_tag;  /* wire_cluster_tag(cluster name) */
	size_t max_datagram;   /* WIRE_OVERHEAD+1 .. WIRE_MAX_DATAGRAM_LIMIT */
	size_t max_payload;    /* >= max_datagram - WIRE_OVERHEAD, <= ..._LIMIT */
	int deflate_level;     /* 0: never compress; 1..9: zlib level */
	size_t max_senders;    /* replay windows kept; 1..WIRE_REPLAY_SENDERS_MAX */
} wire_config;

typedef struct wire_stats {
	uint64_t sealed, sealed_deflated, opened;
	uint64_t bytes_raw_out, bytes_wire_out;   /* payload / datagram bytes */
	uint64_t bytes_raw_in, bytes_wire_in;     /* counted for opened only */
	/* rejections by cause; rej_decode is the engine's to count */
	uint64_t rej_header, rej_cluster, rej_self, rej_key, rej_auth;
	uint64_t rej_replay, rej_oversize, rej_inflate;
	uint64_t rej_version;   /* our magic, another WIRE_VERSION */
} wire_stats;

typedef struct wire_msg {
	uint8_t type;
	uint64_t sender_id;
	uint32_t boot_epoch;
	uint64_t seq;
	const uint8_t *payload;  /* owned by the wire; valid until next wire_open */
	size_t payload_len;
} wire_msg;

/* Fills cfg with the defaults above and zero ids/tag/epoch. */
void wire_config_init(wire_config *cfg);

/* First 4 bytes (LE) of BLAKE2b-256 of the NUL-terminated cluster name:
 * peers of different clusters drop each other's datagrams cheaply. */
uint32_t wire_cluster_tag(const char *name);

/* Bytes a sealed datagram adds to its (possibly deflated) payload: 49. */
size_t wire_overhead(void);

/* Size of the datagram carrying a body_len-byte (possibly deflated)
 * payload: body_len + wire_overhead(). */
size_t wire_sealed_size(size_t body_len);

/* Largest payload that always seals, compressible or not:
 * max_datagram - wire_overhead().  Larger payloads seal only if deflate
 * brings them under it. */
size_t wire_max_body(const wire *w);

/*
 * Creates a wire object: copies cfg, allocates every buffer and the zlib
 * streams once.  ring is borrowed, not owned: it must stay alive until
 * wire_free or until replaced by wire_set_keyring.
 * Returns 0, CARTD_EINVAL (cfg out of range, NULL argument), CARTD_ENOMEM or
 * CARTD_ECRYPTO (libsodium failed to initialise).  On failure *out = NULL.
 */
int wire_new(const wire_config *cfg, const wire_keyring *ring, wire **out);

/* Switches to another keyring (SIGHUP reload), between calls only.  The
 * previous ring may be freed once this returns.  ring must not be NULL. */
void wire_set_keyring(wire *w, const wire_keyring *ring);

/* Frees the object and its buffers.  NULL-safe.  The keyring is not freed. */
void wire_free(wire *w);

/*
 * Seals a payload of type (1..WIRE_TYPE_MAX) with the primary key and the
 * next sequence, into out[0..cap).  The payload is sent deflated only when
 * that is strictly smaller.  payload may be NULL when len is 0; payload and
 * out must not overlap.  Never allocates.
 * Returns 0 and *out_len = datagram size, or:
 *   CARTD_EOVERSIZE  len > max_payload, or the datagram would exceed
 *                    max_datagram; *out_len = the size it would have needed,
 *                    so the caller can split the payload (no sequence used);
 *   CARTD_ENOSPC     cap too small for the datagram (*out_len = its size);
 *   CARTD_EINVAL     bad type or NULL argument, or sequences exhausted.
 * out is unspecified on failure.
 */
int wire_seal(wire *w, uint8_t type, const uint8_t *payload, size_t len,
	      uint8_t *out, size_t cap, size_t *out_len);

/*
 * Opens one received datagram.  On success fills *out; out->payload points
 * into w's own buffer and stays valid until the next wire_open or wire_free.
 * Returns 0 or the first failing check, each counted in the stats:
 *   CARTD_EOVERSIZE  len > max_datagram
 *   CARTD_EHEADER    len < wire_overhead(), bad magic, type, flags, or
 *                    sequence 0
 *   CARTD_EVERSION   our magic with another version byte (a peer of another
 *                    release: wire_dgram_version() says which)
 *   CARTD_ECLUSTER   another cluster's tag
 *   CARTD_ESELF      our own sender id (a loop or a reflection)
 *   CARTD_EKEY       key id not in the keyring
 *   CARTD_EAUTH      authentication failed
 *   CARTD_EREPLAY    sequence already seen, too old, or an older boot epoch
 *   CARTD_EINFLATE   deflated payload invalid, not ending exactly at the end
 *                    of its stream, or inflating past max_payload
 * CARTD_EINVAL for NULL arguments (not counted).  The replay window moves
 * only for authentic datagrams.  Never allocates.
 */
WIRE_MUST_CHECK int wire_open(wire *w, const uint8_t *dgram, size_t len, wire_msg *out);

/* The version byte of a datagram that carries our magic, for logs about
 * CARTD_EVERSION; 0 when it is too short or the magic differs. */
unsigned wire_dgram_version(const uint8_t *dgram, size_t len);

/* Counters since wire_new; owned by w. */
const wire_stats *wire_get_stats(const wire *w);

#endif
