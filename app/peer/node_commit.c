/*
 * node_commit.c - the committer on the event loop: its completion fd, the
 * retry timer, and persisting carts that replication changed.
 *
 * A replicated change is submitted from the engine's callback as the delta
 * that made it (the log and LMDB join it into what they hold).  A cart
 * whose delta cannot be submitted (queue full, no memory, a commit failing)
 * is marked dirty instead, and the dirty set is flushed once per receive
 * batch or timer run as whole states, with backoff after a failure; until
 * then its newest state is in memory, and after a crash anti-entropy brings
 * it back from the peers that sent it.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "app/shared/log.h"
#include "app/peer/node_internal.h"
#include "crdt/codec.h"
#include "crdt/error.h"

void node_arm_retry(node *n)
{
	struct timeval tv = { 0, NODE_RETRY_MS * 1000 };
	if (n->ev_retry && !evtimer_pending(n->ev_retry, NULL))
		evtimer_add(n->ev_retry, &tv);
}

/* Hands one replicated change to the committer, a received delta in the
 * bytes it came in (enc), or with enc NULL the cart's whole state, and its
 * id to n->persisting; 0 or the error. */
static int submit_change(node *n, const crdt_id *id, const crdt_cart *state, const uint8_t *enc,
                         size_t enc_len)
{
	if (idfifo_reserve(&n->persisting, id->len) != 0)
		return CARTD_ENOMEM;
	int rc = enc ? committer_submit_lazy_encoded(n->com, id, enc, enc_len, NODE_PERSIST_COOKIE)
	             : committer_submit_lazy(n->com, id, state, true, NODE_PERSIST_COOKIE);
	if (rc)
		return rc;
	idfifo_push(&n->persisting, id->s, id->len);
	n->persist_submitted++;
	return 0;
}

static void mark_dirty(node *n, const char *id, size_t len)
{
	if (idset_add(&n->dirty, id, len) != 0 && n->persist_lost++ == 0)
		log_event(LOG_ERROR, "persist_lost", "reason=nomem");
}

/* The delta goes to the log as it came (a few bytes, where the whole cart
 * would be re-encoded: a replica's persist costs what the writer's does),
 * in the very bytes the peer sent: it is not encoded a second time.
 * While earlier commits fail (backoff) or the queue is full, the cart is
 * marked dirty instead, and its whole state goes later, which covers this
 * delta and every other one refused meanwhile. */
void node_cb_persist(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
                     size_t enc_len)
{
	node *n = arg;
	(void)delta;
	if (n->closing || node_now_ms(n) < n->dirty_retry_at_ms ||
	    submit_change(n, id, NULL, enc, enc_len))
		mark_dirty(n, id->s, id->len);
}

/* Submits one dirty cart's current state.  The set holds ids that were
 * checked when they came in (node_cb_persist's). */
static int persist_one(void *arg, const char *id, size_t len)
{
	node *n = arg;
	crdt_item it;
	crdt_id key = crdt_id_of(id, len, crdt_name_hash(id, len));
	if (crdt_store_get_id(n->store, &key, &it) != 0)
		return IDSET_DONE;        /* cannot happen: carts are never deleted */
	return submit_change(n, &key, it.cart, NULL, 0) == 0 ? IDSET_DONE : IDSET_STOP;
}

void node_persist_dirty(node *n)
{
	if (n->dirty.n == 0 || n->closing)
		return;
	if (node_now_ms(n) >= n->dirty_retry_at_ms)
		idset_drain(&n->dirty, persist_one, n);
	if (n->dirty.n)
		node_arm_retry(n);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	node *n = arg;
	(void)fd;
	(void)what;
	node_retry_writes(n);
	node_persist_dirty(n);
	if (n->waiting.n && !n->closing)
		node_arm_retry(n);
}

static void on_commit_ready(evutil_socket_t fd, short what, void *arg)
{
	node *n = arg;
	(void)fd;
	(void)what;
	node_commit_drain(n);
	/* The drain made room: what was refused for a full queue goes now. */
	node_retry_writes(n);
	node_persist_dirty(n);
	node_rearm(n);
}

int node_commit_start(node *n)
{
	n->ev_commit = event_new(n->base, committer_fd(n->com), EV_READ | EV_PERSIST,
	                         on_commit_ready, n);
	n->ev_retry = evtimer_new(n->base, on_retry, n);
	if (!n->ev_commit || !n->ev_retry || event_add(n->ev_commit, NULL) != 0)
		return CARTD_ENOMEM;
	return 0;
}

void node_commit_stop(node *n)
{
	if (n->ev_commit)
		event_free(n->ev_commit);
	if (n->ev_retry)
		event_free(n->ev_retry);
	n->ev_commit = n->ev_retry = NULL;
}
