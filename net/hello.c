/*
 * hello.c - the engine's side of the handshake: when to send a HELLO, how
 * to answer one, and what an answered challenge proves.
 *
 * The wire object verifies a HELLO (certificate, signature, epochs) and
 * starts the session; the engine decides about addresses.  Our challenge
 * to an address is a keyed hash of the address, so it needs no state: a
 * HELLO arriving from address X whose echo is our challenge for X was
 * sent by someone who received what we sent to X.  docs/protocol.md,
 * "Handshake", walks through the exchange:
 *
 *   A -> B  HELLO(want reply, challenge cA)
 *   B -> A  HELLO(want reply, challenge cB, echo cA)   A has verified B
 *   A -> B  HELLO(challenge, echo cB)                  B has verified A
 *
 * Every HELLO sent in answer is the same size as the one it answers, and
 * is charged to the address's credit (credit.c), so the handshake never
 * amplifies.  Sealed datagrams from a session peer at an address it has not
 * proven make that address a candidate too, challenged the same way: a
 * member's address moves only once the new one answers.
 */
#include <string.h>

#include <sodium.h>

#include "net/engine_internal.h"

void hello_init(engine *e)
{
	for (size_t i = 0; i < sizeof e->chal_key; i += 8) {
		uint64_t r = engine_rand(e);
		memcpy(e->chal_key + i, &r, 8);
	}
}

static void challenge_for(const engine *e, const engine_addr *a, uint8_t out[WIRE_CHALLENGE_LEN])
{
	crypto_generichash(out, WIRE_CHALLENGE_LEN, a->b, a->len, e->chal_key,
	                   sizeof e->chal_key);
}

/* Sends a HELLO; a probe is not charged to the address's credit. */
static void send_hello(engine *e, const engine_addr *to, uint64_t id, uint8_t flags,
                       const uint8_t *echo, bool probe)
{
	uint8_t chal[WIRE_CHALLENGE_LEN];
	size_t n;
	if (!probe && !credit_allow(e, to, id, WIRE_HELLO_LEN))
		return;
	challenge_for(e, to, chal);
	if (wire_hello(e->w, id, flags, chal, echo, e->dgram, e->dgram_cap, &n) != 0)
		return;
	e->cb.send(e->cb.arg, to, e->dgram, n);
	e->stats.dgrams_out++;
	e->stats.bytes_out += n;
}

void hello_send(engine *e, const engine_addr *addr, uint64_t to)
{
	struct member *m = to ? members_find(e, to) : members_find_addr(e, addr);
	/* Only members get a HELLO of ours unasked: never an address that
	 * merely sent us something. */
	if (m == NULL)
		return;
	if (m->hello_at != 0 && e->now < m->hello_at + e->cfg.ping_timeout_ms)
		return;
	m->hello_at = e->now;
	e->stats.hellos_sent++;
	send_hello(e, addr, to, WIRE_F_WANT_REPLY, NULL, false);
}

void hello_probe(engine *e, struct member *m)
{
	m->hello_at = e->now;
	e->stats.hello_probes++;
	send_hello(e, &m->addr, m->id, WIRE_F_WANT_REPLY, NULL, true);
}

void hello_on_stale(engine *e, const engine_addr *from)
{
	struct member *m = members_find_addr(e, from);
	if (m != NULL)
		hello_send(e, from, m->id);
}

void hello_on_hello(engine *e, const engine_addr *from, const wire_msg *m)
{
	uint8_t chal[WIRE_CHALLENGE_LEN];
	challenge_for(e, from, chal);
	bool verified = sodium_memcmp(chal, m->echo, WIRE_CHALLENGE_LEN) == 0;
	if (verified) {
		e->stats.addr_verified++;
		members_verified(e, m->sender_id, from);
	}
	if ((m->flags & WIRE_F_WANT_REPLY) || !m->knows_us) {
		e->stats.hellos_answered++;
		send_hello(e, from, m->sender_id, verified ? 0 : WIRE_F_WANT_REPLY, m->challenge,
		           false);
	}
}
