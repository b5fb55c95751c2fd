/*
 * credit.c - anti-amplification, as QUIC does it (RFC 9000, 8.1): an
 * address that has not answered our challenge gets at most as many bytes
 * from us as it has sent us.  Unasked HELLOs to seeds and candidates
 * (hello_probe) are the one exception, and they are budgeted per protocol
 * period instead (swim.c).
 *
 * The bytes of at most ENGINE_CREDITS unverified addresses are counted; a
 * new one takes the place of the least recently used, which then starts
 * again from nothing: forgetting only ever lowers what may be sent.
 */
#include <string.h>

#include "net/engine_internal.h"

static bool same(const engine_addr *a, const engine_addr *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static struct credit *find(engine *e, const engine_addr *a, bool create)
{
	struct credit *lru = &e->credits[0];
	for (size_t i = 0; i < ENGINE_CREDITS; i++) {
		struct credit *c = &e->credits[i];
		if (c->addr.len && same(&c->addr, a))
			return c;
		if (c->used < lru->used)
			lru = c;
	}
	if (!create)
		return NULL;
	memset(lru, 0, sizeof *lru);
	lru->addr = *a;
	return lru;
}

void credit_received(engine *e, const engine_addr *addr, size_t len)
{
	if (members_addr_verified(e, addr, 0))
		return;
	struct credit *c = find(e, addr, true);
	c->in += len;
	c->used = ++e->credit_clock;
}

bool credit_allow(engine *e, const engine_addr *addr, uint64_t id, size_t n)
{
	if (id != 0 && members_addr_verified(e, addr, id))
		return true;
	struct credit *c = find(e, addr, false);
	if (c == NULL || c->in - c->out < n) {
		e->stats.amp_refused++;
		return false;
	}
	c->out += n;
	c->used = ++e->credit_clock;
	return true;
}
