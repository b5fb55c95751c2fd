/*
 * wire_internal.h - the wire object's state, shared by wire.c (lifecycle,
 * sealing, opening), wire_session.c (the session table and its keys) and
 * wire_hello.c (the handshake).  Not part of the API.
 */
#ifndef NET_WIRE_INTERNAL_H
#define NET_WIRE_INTERNAL_H

#include <libdeflate.h>

#include "net/replay.h"
#include "net/wire.h"

/* Decoded header; never laid over the buffer. */
typedef struct wire_hdr {
	uint8_t version, type, flags;
	uint32_t cluster, sender_epoch, receiver_epoch;
	uint64_t sender, receiver, seq;
} wire_hdr;

/* What we share with one peer.  Lives in sodium_malloc'd memory. */
struct wire_session {
	uint8_t cert[WIRE_CERT_LEN];        /* the peer's, verified */
	uint8_t kx_rx[32], kx_tx[32];       /* crypto_kx: static, per pair */
	uint8_t rx[32], tx[32];             /* this pair of boots, per direction */
	uint8_t their_nonce[WIRE_NONCE_LEN];
	uint32_t their_epoch;
	uint64_t hello_seq;                 /* newest verified HELLO of their boot */
	uint64_t used;                      /* LRU clock of the last use */
	wire_window win;
};

struct wire {
	wire_config cfg;
	const wire_keyring *ring;
	uint64_t self_id;
	uint64_t *ids;                      /* max_peers; 0 = free slot */
	struct wire_session *sess;          /* max_peers, sodium_allocarray */
	uint64_t clock;
	struct libdeflate_compressor *def;     /* NULL: deflate_level 0 */
	struct libdeflate_decompressor *inf;
	uint8_t *tx;              /* deflate output, max_payload bytes */
	uint8_t *rx;              /* decrypted payload, max_datagram bytes */
	uint8_t *big;             /* inflated payload, max_payload bytes */
	uint64_t next_seq;
	wire_stats st;
};

/* wire.c: little-endian codecs and the header */
void wire_put32(uint8_t *p, uint32_t v);
void wire_put64(uint8_t *p, uint64_t v);
uint32_t wire_get32(const uint8_t *p);
uint64_t wire_get64(const uint8_t *p);
void wire_hdr_write(uint8_t *p, const wire_hdr *h);

/* wire_session.c */
int wire_sessions_init(wire *w);
void wire_sessions_free(wire *w);
/* The session with peer (its use recorded), or NULL. */
struct wire_session *wire_session_find(wire *w, uint64_t peer);
/*
 * Starts or renews the session with the peer a verified certificate names,
 * at its boot (epoch, nonce): new keys, a fresh window.  A full table drops
 * its least recently used session.  0 or CARTD_ECERT (unusable X25519 key).
 */
int wire_session_start(wire *w, uint64_t peer, const uint8_t cert[WIRE_CERT_LEN],
		       uint32_t epoch, const uint8_t nonce[WIRE_NONCE_LEN]);

/* wire_hello.c: opens a datagram whose header h says HELLO. */
int wire_hello_open(wire *w, const uint8_t *d, size_t len, const wire_hdr *h, wire_msg *out);

#endif
