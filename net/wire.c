/*
 * wire.c - datagram framing: header codec, deflate, AEAD, receive checks,
 * and the wire object's lifecycle.  Sessions are wire_session.c, the
 * handshake wire_hello.c.
 *
 * Every buffer, the compressor and the decompressor are allocated once in
 * wire_new and reused, so sealing and opening never allocate and no
 * allocation is ever sized by a received length.
 */
#include "net/wire.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"
#include "net/wire_internal.h"

/*
 * Deflate and inflate are libdeflate's whole-buffer raw DEFLATE (RFC 1951):
 * a payload and its deflated form are each one buffer, so nothing streams.
 * How to deflate is the sender's choice and any valid stream inflates.  On
 * DELTA payloads of about 55 single-line carts (2.6 KB raw), libdeflate's
 * level 1 takes about 30 % fewer instructions than zlib's level 1 (window
 * 2^12, memLevel 5, which cartd used before) and deflates them about 10 %
 * smaller; its inflate takes about 45 % fewer.
 */

static const uint8_t magic[2] = {'C', 'T'};

_Static_assert(WIRE_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 24, "nonce layout");

void wire_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void wire_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t wire_get64(const uint8_t *p)
{
	return (uint64_t)wire_get32(p) | (uint64_t)wire_get32(p + 4) << 32;
}

/*
 * Header, all integers little-endian:
 *   0 'C' 'T' | 2 version | 3 type | 4 flags | 5 cluster tag (4)
 *   9 sender id (8) | 17 receiver id (8) | 25 sender epoch (4)
 *   29 receiver epoch (4) | 33 sequence (8) | 41
 */
void wire_hdr_write(uint8_t *p, const wire_hdr *h)
{
	p[0] = magic[0];
	p[1] = magic[1];
	p[2] = h->version;
	p[3] = h->type;
	p[4] = h->flags;
	wire_put32(p + 5, h->cluster);
	wire_put64(p + 9, h->sender);
	wire_put64(p + 17, h->receiver);
	wire_put32(p + 25, h->sender_epoch);
	wire_put32(p + 29, h->receiver_epoch);
	wire_put64(p + 33, h->seq);
}

/* Reads and validates the fixed fields of a header of WIRE_HEADER_LEN
 * bytes.  Sequence 0 is never sent, so it is malformed, not a replay.  The
 * version is judged after the magic and before anything else, so a peer
 * of another version is told apart from junk. */
static int hdr_read(const uint8_t *p, wire_hdr *h)
{
	h->version = p[2];
	h->type = p[3];
	h->flags = p[4];
	h->cluster = wire_get32(p + 5);
	h->sender = wire_get64(p + 9);
	h->receiver = wire_get64(p + 17);
	h->sender_epoch = wire_get32(p + 25);
	h->receiver_epoch = wire_get32(p + 29);
	h->seq = wire_get64(p + 33);
	if (p[0] != magic[0] || p[1] != magic[1])
		return CARTD_EHEADER;
	if (h->version != WIRE_VERSION)
		return CARTD_EVERSION;
	if (h->type == 0 || h->type > WIRE_TYPE_MAX || h->seq == 0 || h->sender == 0)
		return CARTD_EHEADER;
	if (h->type != WIRE_TYPE_HELLO && (h->flags & ~WIRE_F_DEFLATE) != 0)
		return CARTD_EHEADER;
	return 0;
}

/* The sequence, then zeros: the key is unique per direction and pair of
 * boots, and a sender never repeats a sequence within its boot. */
static void make_nonce(uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], uint64_t seq)
{
	memset(n, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	wire_put64(n, seq);
}

void wire_config_init(wire_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_datagram = WIRE_MAX_DATAGRAM_DEFAULT;
	cfg->max_payload = WIRE_MAX_PAYLOAD_DEFAULT;
	cfg->deflate_level = WIRE_DEFLATE_LEVEL_DEFAULT;
	cfg->max_peers = WIRE_PEERS_DEFAULT;
	cfg->boot_epoch = 1;
}

uint32_t wire_cluster_tag(const char *name)
{
	uint8_t h[crypto_generichash_BYTES];   /* BLAKE2b-256 */

	/* generichash needs no sodium_init (it only picks a faster variant) */
	crypto_generichash(h, sizeof(h), (const uint8_t *)name, strlen(name), NULL, 0);
	return wire_get32(h);
}

size_t wire_overhead(void)
{
	return WIRE_OVERHEAD;
}

size_t wire_sealed_size(size_t body_len)
{
	return body_len + WIRE_OVERHEAD;
}

size_t wire_max_body(const wire *w)
{
	return w->cfg.max_datagram - WIRE_OVERHEAD;
}

unsigned wire_dgram_version(const uint8_t *dgram, size_t len)
{
	if (dgram == NULL || len < 3 || dgram[0] != magic[0] || dgram[1] != magic[1])
		return 0;
	return dgram[2];
}

const wire_stats *wire_get_stats(const wire *w)
{
	return &w->st;
}

bool wire_peer_revoked(const wire *w, uint64_t peer)
{
	return wire_keyring_revoked(w->ring, peer);
}

uint64_t wire_self_id(const wire *w)
{
	return w->self_id;
}

int wire_set_keyring(wire *w, const wire_keyring *ring)
{
	size_t n;
	const uint8_t *trusted;

	if (ring == NULL || wire_keyring_self_id(ring) != w->self_id)
		return CARTD_EKEYRING;
	w->ring = ring;
	trusted = wire_keyring_cluster_keys(ring, &n);
	/* cut out whoever the new ring no longer admits */
	for (size_t i = 0; i < w->cfg.max_peers; i++) {
		uint64_t id = w->ids[i];
		if (id != 0 && (wire_keyring_revoked(ring, id) ||
				wire_cert_verify(w->sess[i].cert, trusted, n) != 0))
			wire_forget(w, id);
	}
	return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

/* Payloads shorter than this are sent as they are: deflate cannot win much
 * on a few dozen bytes, and setting up its tables would cost more than the
 * bytes saved (pings and acks are this small). */
#define DEFLATE_MIN_LEN 32u

static int config_ok(const wire_config *c)
{
	return c->max_datagram >= WIRE_HELLO_LEN && c->boot_epoch != 0 &&
	       c->max_datagram <= WIRE_MAX_DATAGRAM_LIMIT &&
	       c->max_payload >= c->max_datagram - WIRE_OVERHEAD &&
	       c->max_payload <= WIRE_MAX_PAYLOAD_LIMIT &&
	       c->deflate_level >= 0 && c->deflate_level <= 9 &&
	       c->max_peers >= 1 && c->max_peers <= WIRE_PEERS_MAX;
}

/* Both are allocated once, here: deflating and inflating allocate
 * nothing (the whole-buffer calls work in the compressor's and the
 * decompressor's own memory). */
static int streams_init(wire *w)
{
	if (w->cfg.deflate_level > 0) {
		w->def = libdeflate_alloc_compressor(w->cfg.deflate_level);
		if (w->def == NULL)
			return CARTD_ENOMEM;
	}
	w->inf = libdeflate_alloc_decompressor();
	return w->inf ? 0 : CARTD_ENOMEM;
}

int wire_new(const wire_config *cfg, const wire_keyring *ring, wire **out)
{
	wire *w;
	int rc;

	if (out == NULL)
		return CARTD_EINVAL;
	*out = NULL;
	if (cfg == NULL || ring == NULL || !config_ok(cfg))
		return CARTD_EINVAL;
	if (!wire_keyring_has_identity(ring))
		return CARTD_EKEYRING;
	if (sodium_init() < 0)
		return CARTD_ECRYPTO;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return CARTD_ENOMEM;
	w->cfg = *cfg;
	w->ring = ring;
	w->self_id = wire_keyring_self_id(ring);
	w->next_seq = 1;
	w->tx = malloc(cfg->max_payload);
	w->rx = malloc(cfg->max_datagram);
	w->big = malloc(cfg->max_payload);
	rc = w->tx && w->rx && w->big ? 0 : CARTD_ENOMEM;
	if (rc == 0)
		rc = wire_sessions_init(w);
	if (rc == 0)
		rc = streams_init(w);
	if (rc != 0) {
		wire_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void wire_free(wire *w)
{
	if (w == NULL)
		return;
	libdeflate_free_compressor(w->def);
	libdeflate_free_decompressor(w->inf);
	/* Received plaintext is cart data: do not leave it in the heap. */
	if (w->rx != NULL)
		sodium_memzero(w->rx, w->cfg.max_datagram);
	if (w->big != NULL)
		sodium_memzero(w->big, w->cfg.max_payload);
	free(w->tx);
	free(w->rx);
	free(w->big);
	wire_sessions_free(w);
	sodium_memzero(w, sizeof *w);
	free(w);
}

/* ---- sealing ------------------------------------------------------------ */

/*
 * Deflates p into w->tx with room for len - 1 bytes only: the deflated
 * form is used only when strictly smaller.  Returns the deflated size, or
 * 0 when it would not be smaller.
 */
static size_t try_deflate(wire *w, const uint8_t *p, size_t len)
{
	return libdeflate_deflate_compress(w->def, p, len, w->tx, len - 1);
}

/* Writes the header and the AEAD of body under the session's key. */
static void seal_into(wire *w, const struct wire_session *sess, wire_hdr *h,
		      const uint8_t *body, size_t blen, uint8_t *out)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];

	h->version = WIRE_VERSION;
	h->cluster = w->cfg.cluster_tag;
	h->sender = w->self_id;
	h->sender_epoch = w->cfg.boot_epoch;
	h->receiver_epoch = sess->their_epoch;
	h->seq = w->next_seq;
	wire_hdr_write(out, h);
	make_nonce(nonce, h->seq);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + WIRE_HEADER_LEN, NULL,
		body, blen, out, WIRE_HEADER_LEN, NULL, nonce, sess->tx);
}

int wire_pack(wire *w, const uint8_t *payload, size_t len, wire_packed *out)
{
	size_t d = 0;
	if (w == NULL || out == NULL || (payload == NULL && len > 0))
		return CARTD_EINVAL;
	if (len > w->cfg.max_payload)
		return CARTD_EOVERSIZE;   /* peers would refuse to inflate it */
	if (w->def != NULL && len >= DEFLATE_MIN_LEN)
		d = try_deflate(w, payload, len);
	*out = (wire_packed){ d > 0 ? w->tx : payload, d > 0 ? d : len, len, d > 0 };
	return 0;
}

int wire_seal_packed(wire *w, uint64_t to, uint8_t type, const wire_packed *p, uint8_t *out,
		     size_t cap, size_t *out_len)
{
	wire_hdr h = {.type = type, .receiver = to};
	const struct wire_session *sess;

	if (w == NULL || p == NULL || out == NULL || out_len == NULL ||
	    (p->body == NULL && p->len > 0) || type == 0 || type >= WIRE_TYPE_HELLO ||
	    w->next_seq == UINT64_MAX)
		return CARTD_EINVAL;
	*out_len = wire_sealed_size(p->len);
	sess = wire_session_find(w, to);
	if (sess == NULL)
		return CARTD_ESESSION;
	if (*out_len > w->cfg.max_datagram)
		return CARTD_EOVERSIZE;
	if (*out_len > cap)
		return CARTD_ENOSPC;
	h.flags = p->deflated ? WIRE_F_DEFLATE : 0;
	seal_into(w, sess, &h, p->body, p->len, out);
	w->next_seq++;
	w->st.sealed++;
	w->st.sealed_deflated += h.flags != 0;
	w->st.bytes_raw_out += p->raw_len;
	w->st.bytes_wire_out += *out_len;
	return 0;
}

int wire_seal(wire *w, uint64_t to, uint8_t type, const uint8_t *payload, size_t len,
	      uint8_t *out, size_t cap, size_t *out_len)
{
	wire_packed p;

	if (w == NULL || out == NULL || out_len == NULL ||
	    (payload == NULL && len > 0) || type == 0 || type >= WIRE_TYPE_HELLO ||
	    w->next_seq == UINT64_MAX)
		return CARTD_EINVAL;
	*out_len = wire_sealed_size(len);
	if (wire_session_find(w, to) == NULL)
		return CARTD_ESESSION;   /* before deflating: nothing to seal for */
	int rc = wire_pack(w, payload, len, &p);
	return rc ? rc : wire_seal_packed(w, to, type, &p, out, cap, out_len);
}

/* ---- opening ------------------------------------------------------------ */

/* Everything that can be judged from the header alone, cheapest first, so
 * that junk and strangers cost no cryptography. */
static int check_header(const wire *w, const uint8_t *d, size_t len, wire_hdr *h)
{
	int rc;

	if (len > w->cfg.max_datagram)
		return CARTD_EOVERSIZE;
	if (len < WIRE_OVERHEAD)
		return CARTD_EHEADER;
	rc = hdr_read(d, h);
	if (rc != 0)
		return rc;
	if (h->cluster != w->cfg.cluster_tag)
		return CARTD_ECLUSTER;
	if (h->sender == w->self_id)
		return CARTD_ESELF;
	return 0;
}

/* The session a sealed datagram claims, for our current boot and the
 * sender's boot in that session, with its sequence within bounds. */
static int check_session(wire *w, const wire_hdr *h, struct wire_session **out)
{
	struct wire_session *s;

	if (h->receiver != w->self_id)
		return CARTD_ERECEIVER;
	if (h->receiver_epoch != w->cfg.boot_epoch)
		return CARTD_EEPOCH;
	s = wire_session_find(w, h->sender);
	if (s == NULL)
		return wire_keyring_revoked(w->ring, h->sender) ? CARTD_EREVOKED : CARTD_ESESSION;
	if (h->sender_epoch != s->their_epoch)
		return CARTD_EEPOCH;
	if (s->win.top != 0 && h->seq > s->win.top && h->seq - s->win.top > WIRE_SEQ_JUMP_MAX)
		return CARTD_EJUMP;
	*out = s;
	return 0;
}

/* Verifies and decrypts d into w->rx, which max_datagram bounds. */
static WIRE_MUST_CHECK int aead_open(wire *w, const uint8_t *d, size_t len,
				     const wire_hdr *h, const uint8_t *key, size_t *plen)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long n = 0;

	make_nonce(nonce, h->seq);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(w->rx, &n, NULL,
			d + WIRE_HEADER_LEN, len - WIRE_HEADER_LEN,
			d, WIRE_HEADER_LEN, nonce, key) != 0)
		return CARTD_EAUTH;
	*plen = (size_t)n;
	return 0;
}

/*
 * Inflates w->rx[0..n) into w->big, at most max_payload bytes.  Anything
 * but a stream that ends exactly at its last input byte is refused: a
 * truncated stream, trailing bytes, invalid codes, or more output than the
 * cap (a decompression bomb: the work stops at the cap).
 */
static int inflate_payload(wire *w, size_t n, size_t *out_len)
{
	size_t used = 0;
	if (libdeflate_deflate_decompress_ex(w->inf, w->rx, n, w->big, w->cfg.max_payload,
					     &used, out_len) != LIBDEFLATE_SUCCESS ||
	    used != n)
		return CARTD_EINFLATE;
	return 0;
}

static void count_reject(wire_stats *st, int rc)
{
	switch (rc) {
	case CARTD_EHEADER:   st->rej_header++; break;
	case CARTD_EVERSION:  st->rej_version++; break;
	case CARTD_ECLUSTER:  st->rej_cluster++; break;
	case CARTD_ESELF:     st->rej_self++; break;
	case CARTD_ERECEIVER: st->rej_receiver++; break;
	case CARTD_ECERT:     st->rej_cert++; break;
	case CARTD_EREVOKED:  st->rej_revoked++; break;
	case CARTD_ESESSION:  st->rej_session++; break;
	case CARTD_EEPOCH:    st->rej_epoch++; break;
	case CARTD_EJUMP:     st->rej_jump++; break;
	case CARTD_EAUTH:     st->rej_auth++; break;
	case CARTD_EREPLAY:   st->rej_replay++; break;
	case CARTD_EOVERSIZE: st->rej_oversize++; break;
	case CARTD_EINFLATE:  st->rej_inflate++; break;
	default:              break;
	}
}

static int open_sealed(wire *w, const uint8_t *d, size_t len, const wire_hdr *h,
		       wire_msg *out)
{
	struct wire_session *s = NULL;
	size_t n = 0;
	int rc = check_session(w, h, &s);

	if (rc == 0)
		rc = aead_open(w, d, len, h, s->rx, &n);
	/* Only now, with the header proven authentic, may the window move. */
	if (rc == 0)
		rc = wire_window_check(&s->win, h->seq);
	if (rc != 0)
		return rc;
	out->payload = w->rx;
	if (h->flags & WIRE_F_DEFLATE) {
		rc = inflate_payload(w, n, &n);
		if (rc != 0)
			return rc;
		out->payload = w->big;
	}
	out->type = h->type;
	out->flags = h->flags;
	out->sender_id = h->sender;
	out->boot_epoch = h->sender_epoch;
	out->seq = h->seq;
	out->payload_len = n;
	out->knows_us = true;
	out->challenge = out->echo = NULL;
	return 0;
}

int wire_open(wire *w, const uint8_t *dgram, size_t len, wire_msg *out)
{
	wire_hdr h;
	int rc;

	if (w == NULL || out == NULL || (dgram == NULL && len > 0))
		return CARTD_EINVAL;
	rc = check_header(w, dgram, len, &h);
	if (rc == 0)
		rc = h.type == WIRE_TYPE_HELLO ? wire_hello_open(w, dgram, len, &h, out)
					       : open_sealed(w, dgram, len, &h, out);
	if (rc != 0) {
		count_reject(&w->st, rc);
		return rc;
	}
	w->st.opened++;
	w->st.bytes_wire_in += len;
	w->st.bytes_raw_in += out->payload_len;
	return 0;
}
