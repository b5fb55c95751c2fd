/*
 * wire_hello.c - the handshake datagram: building a signed HELLO and
 * verifying a received one (docs/protocol.md, "Handshake").
 *
 * A HELLO is WIRE_HELLO_LEN bytes, the same both ways, so that answering
 * one never sends more than was received:
 *
 *   0    header (41), type WIRE_TYPE_HELLO; receiver epoch = the epoch the
 *        sender knows of the receiver (0: none)
 *   41   certificate of the sender (128)
 *   169  boot nonce of the sender (16)
 *   185  challenge (16): to be echoed by the receiver's answer
 *   201  echo (16): the challenge of the HELLO this answers, or zeros
 *   217  Ed25519 signature by the sender over bytes 0..216 (64)
 *
 * Verification costs two signature checks; a certificate equal to the one
 * of the session already held skips the first.
 */
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"
#include "net/wire_internal.h"

#define OFF_CERT WIRE_HEADER_LEN
#define OFF_NONCE (OFF_CERT + WIRE_CERT_LEN)
#define OFF_CHALLENGE (OFF_NONCE + WIRE_NONCE_LEN)
#define OFF_ECHO (OFF_CHALLENGE + WIRE_CHALLENGE_LEN)
#define OFF_SIG (OFF_ECHO + WIRE_CHALLENGE_LEN)

_Static_assert(OFF_SIG + WIRE_SIG_LEN == WIRE_HELLO_LEN, "HELLO layout");

int wire_hello(wire *w, uint64_t to, uint8_t flags, const uint8_t *challenge,
	       const uint8_t *echo, uint8_t *out, size_t cap, size_t *out_len)
{
	wire_hdr h = {
		.version = WIRE_VERSION, .type = WIRE_TYPE_HELLO,
		.flags = flags & WIRE_F_WANT_REPLY, .cluster = w->cfg.cluster_tag,
		.sender = w->self_id, .receiver = to,
		.sender_epoch = w->cfg.boot_epoch,
		.receiver_epoch = wire_session_epoch(w, to),
	};

	if (w == NULL || challenge == NULL || out == NULL || out_len == NULL ||
	    w->next_seq == UINT64_MAX)
		return CARTD_EINVAL;
	*out_len = WIRE_HELLO_LEN;
	if (cap < WIRE_HELLO_LEN)
		return CARTD_ENOSPC;
	h.seq = w->next_seq++;
	wire_hdr_write(out, &h);
	memcpy(out + OFF_CERT, wire_keyring_cert(w->ring), WIRE_CERT_LEN);
	memcpy(out + OFF_NONCE, w->cfg.boot_nonce, WIRE_NONCE_LEN);
	memcpy(out + OFF_CHALLENGE, challenge, WIRE_CHALLENGE_LEN);
	if (echo != NULL)
		memcpy(out + OFF_ECHO, echo, WIRE_CHALLENGE_LEN);
	else
		memset(out + OFF_ECHO, 0, WIRE_CHALLENGE_LEN);
	crypto_sign_detached(out + OFF_SIG, NULL, out, OFF_SIG, wire_keyring_sign_sk(w->ring));
	w->st.hellos_out++;
	w->st.bytes_wire_out += WIRE_HELLO_LEN;
	return 0;
}

/* The certificate is the sender's, trusted and not revoked. */
static int check_cert(wire *w, const uint8_t *cert, const wire_hdr *h,
		      const struct wire_session *s)
{
	size_t n;
	const uint8_t *trusted = wire_keyring_cluster_keys(w->ring, &n);

	if (wire_keyring_revoked(w->ring, h->sender))
		return CARTD_EREVOKED;
	if (wire_cert_id(cert) != h->sender)
		return CARTD_ECERT;
	if (s != NULL && memcmp(s->cert, cert, WIRE_CERT_LEN) == 0)
		return 0;   /* verified when the session started */
	return wire_cert_verify(cert, trusted, n);
}

/* May the session with this sender move to the HELLO's boot?  A new boot
 * has a higher epoch, within the jump bound; the same boot has the same
 * nonce.  Returns 0 (same boot), 1 (new boot) or CARTD_EEPOCH. */
static int judge_epoch(const struct wire_session *s, const wire_hdr *h, const uint8_t *nonce)
{
	if (s == NULL)
		return 1;
	if (h->sender_epoch == s->their_epoch)
		return memcmp(nonce, s->their_nonce, WIRE_NONCE_LEN) == 0 ? 0 : CARTD_EEPOCH;
	if (h->sender_epoch < s->their_epoch ||
	    h->sender_epoch - s->their_epoch > WIRE_EPOCH_JUMP_MAX)
		return CARTD_EEPOCH;
	return 1;
}

int wire_hello_open(wire *w, const uint8_t *d, size_t len, const wire_hdr *h, wire_msg *out)
{
	struct wire_session *s;
	int rc, boot;

	if (len != WIRE_HELLO_LEN || (h->flags & ~WIRE_F_WANT_REPLY) != 0)
		return CARTD_EHEADER;
	if (h->receiver != 0 && h->receiver != w->self_id)
		return CARTD_ERECEIVER;
	if (h->sender_epoch == 0)
		return CARTD_EHEADER;
	s = wire_session_find(w, h->sender);
	/* A sender numbers every datagram of a boot, HELLOs included, so a
	 * HELLO of the session's boot at or below the newest one verified is
	 * a copy: a duplicate, or a replay by anyone who captured one.  It is
	 * refused before its signature costs a verification (what a flood of
	 * captured HELLOs would otherwise buy, key or no key). */
	if (s != NULL && h->sender_epoch == s->their_epoch && h->seq <= s->hello_seq &&
	    memcmp(d + OFF_NONCE, s->their_nonce, WIRE_NONCE_LEN) == 0)
		return CARTD_EREPLAY;
	rc = check_cert(w, d + OFF_CERT, h, s);
	if (rc != 0)
		return rc;
	if (crypto_sign_verify_detached(d + OFF_SIG, d, OFF_SIG, d + OFF_CERT) != 0)
		return CARTD_EAUTH;
	/* Only now, with the HELLO proven the sender's, may the session move. */
	boot = judge_epoch(s, h, d + OFF_NONCE);
	if (boot < 0)
		return boot;
	if (boot == 1) {
		rc = wire_session_start(w, h->sender, d + OFF_CERT, h->sender_epoch,
					d + OFF_NONCE);
		if (rc != 0)
			return rc;
		s = wire_session_find(w, h->sender);
	}
	s->hello_seq = h->seq;   /* above the old one: checked first */
	out->type = WIRE_TYPE_HELLO;
	out->flags = h->flags;
	out->sender_id = h->sender;
	out->boot_epoch = h->sender_epoch;
	out->seq = h->seq;
	out->payload = NULL;
	out->payload_len = 0;
	out->knows_us = h->receiver == w->self_id && h->receiver_epoch == w->cfg.boot_epoch;
	out->challenge = d + OFF_CHALLENGE;
	out->echo = d + OFF_ECHO;
	w->st.hellos_in++;
	return 0;
}
