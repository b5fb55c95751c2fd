/*
 * wire_session.c - the table of sessions with peers, and their keys.
 *
 * A session exists only for a peer whose certificate and signed HELLO were
 * verified.  Its static keys come from crypto_kx (the lower id takes the
 * client role), computed once per peer; its working keys are BLAKE2b of
 * the static key over both ids, both boot epochs and both boot nonces, so
 * they are new for every pair of boots even if an epoch ever repeated, and
 * a sequence numbered from 1 again never meets an old key.
 *
 * The table is an array scanned by id (sessions are few: one per peer we
 * talk to) with an LRU clock; the keys live in sodium_malloc'd memory and
 * are wiped when a session is dropped or the table freed.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"
#include "net/wire_internal.h"

static const char kdf_ctx[] = "cartd-v2-session";

int wire_sessions_init(wire *w)
{
	w->ids = calloc(w->cfg.max_peers, sizeof *w->ids);
	w->sess = sodium_allocarray(w->cfg.max_peers, sizeof *w->sess);
	if (w->ids == NULL || w->sess == NULL)
		return CARTD_ENOMEM;
	sodium_memzero(w->sess, w->cfg.max_peers * sizeof *w->sess);
	return 0;
}

void wire_sessions_free(wire *w)
{
	sodium_free(w->sess);   /* wipes */
	free(w->ids);
}

static size_t slot_of(const wire *w, uint64_t peer)
{
	for (size_t i = 0; i < w->cfg.max_peers; i++)
		if (w->ids[i] == peer)
			return i;
	return SIZE_MAX;
}

struct wire_session *wire_session_find(wire *w, uint64_t peer)
{
	size_t i = peer != 0 ? slot_of(w, peer) : SIZE_MAX;

	if (i == SIZE_MAX)
		return NULL;
	w->sess[i].used = ++w->clock;
	return &w->sess[i];
}

uint32_t wire_session_epoch(const wire *w, uint64_t peer)
{
	size_t i = peer != 0 ? slot_of(w, peer) : SIZE_MAX;

	return i == SIZE_MAX ? 0 : w->sess[i].their_epoch;
}

void wire_forget(wire *w, uint64_t peer)
{
	size_t i = peer != 0 ? slot_of(w, peer) : SIZE_MAX;

	if (i == SIZE_MAX)
		return;
	w->ids[i] = 0;
	sodium_memzero(&w->sess[i], sizeof w->sess[i]);
}

/* A free slot, or the least recently used one, emptied. */
static size_t take_slot(wire *w)
{
	size_t best = 0;

	for (size_t i = 0; i < w->cfg.max_peers; i++) {
		if (w->ids[i] == 0)
			return i;
		if (w->sess[i].used < w->sess[best].used)
			best = i;
	}
	w->st.sessions_evicted++;
	wire_forget(w, w->ids[best]);
	return best;
}

/* key = BLAKE2b-256 keyed by k over ctx || sender id || receiver id ||
 * sender epoch || receiver epoch || sender nonce || receiver nonce. */
static void derive(uint8_t key[32], const uint8_t k[32], uint64_t from, uint64_t to,
		   uint32_t e_from, uint32_t e_to, const uint8_t *n_from, const uint8_t *n_to)
{
	uint8_t m[sizeof kdf_ctx - 1 + 8 + 8 + 4 + 4 + 2 * WIRE_NONCE_LEN], *p = m;

	memcpy(p, kdf_ctx, sizeof kdf_ctx - 1);
	p += sizeof kdf_ctx - 1;
	wire_put64(p, from);
	wire_put64(p + 8, to);
	wire_put32(p + 16, e_from);
	wire_put32(p + 20, e_to);
	memcpy(p + 24, n_from, WIRE_NONCE_LEN);
	memcpy(p + 24 + WIRE_NONCE_LEN, n_to, WIRE_NONCE_LEN);
	crypto_generichash(key, 32, m, sizeof m, k, 32);
}

static int static_keys(const wire *w, uint64_t peer, struct wire_session *s)
{
	const uint8_t *mine = wire_keyring_cert(w->ring) + WIRE_CERT_KX_PK;
	const uint8_t *sk = wire_keyring_kx_sk(w->ring);
	const uint8_t *theirs = s->cert + WIRE_CERT_KX_PK;
	int rc;

	if (w->self_id < peer)
		rc = crypto_kx_client_session_keys(s->kx_rx, s->kx_tx, mine, sk, theirs);
	else
		rc = crypto_kx_server_session_keys(s->kx_rx, s->kx_tx, mine, sk, theirs);
	return rc == 0 ? 0 : CARTD_ECERT;
}

int wire_session_start(wire *w, uint64_t peer, const uint8_t cert[WIRE_CERT_LEN],
		       uint32_t epoch, const uint8_t nonce[WIRE_NONCE_LEN])
{
	size_t i = slot_of(w, peer);
	struct wire_session *s;

	if (i == SIZE_MAX)
		i = take_slot(w);
	s = &w->sess[i];
	if (w->ids[i] != peer || memcmp(s->cert, cert, WIRE_CERT_LEN) != 0) {
		memcpy(s->cert, cert, WIRE_CERT_LEN);
		if (static_keys(w, peer, s) != 0) {
			w->ids[i] = 0;
			sodium_memzero(s, sizeof *s);
			return CARTD_ECERT;
		}
	}
	w->ids[i] = peer;
	s->their_epoch = epoch;
	memcpy(s->their_nonce, nonce, WIRE_NONCE_LEN);
	derive(s->tx, s->kx_tx, w->self_id, peer, w->cfg.boot_epoch, epoch,
	       w->cfg.boot_nonce, nonce);
	derive(s->rx, s->kx_rx, peer, w->self_id, epoch, w->cfg.boot_epoch,
	       nonce, w->cfg.boot_nonce);
	wire_window_reset(&s->win);
	s->hello_seq = 0;
	s->used = ++w->clock;
	w->st.sessions_new++;
	return 0;
}
