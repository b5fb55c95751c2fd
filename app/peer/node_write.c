/*
 * node_write.c - the local write path and everything that waits for the
 * disk: commit completions, retries, and persisting replicated carts.
 *
 * A local write is begun in the engine before the store changes, so no
 * state of that cart can be gossiped between the change and its durable
 * commit; the engine's mark is cleared (and the delta pushed) only by a
 * successful completion.  A write that could not be submitted, or whose
 * commit failed, stays in `waiting` and is re-submitted from a retry timer:
 * the change is already in memory and cannot be taken back.
 *
 * Committer cookies: a pending_write pointer for local writes;
 * NODE_PERSIST_COOKIE for replicated changes, whose ids wait in
 * n->persisting in the same order as their completions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "app/shared/log.h"
#include "app/peer/node_internal.h"
#include "crdt/codec.h"
#include "crdt/error.h"

#define WRITE_MARGIN 256u         /* bytes one operation may add to an encoding */

static const double lat_bounds[NODE_LAT_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, INFINITY,
};

static void list_push(write_list *l, pending_write *w)
{
	w->next = NULL;
	w->prev = l->tail;
	if (l->tail)
		l->tail->next = w;
	else
		l->head = w;
	l->tail = w;
	l->n++;
}

static void list_remove(write_list *l, pending_write *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		l->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		l->tail = w->prev;
	w->prev = w->next = NULL;
	l->n--;
}

/* The write's cart id, as node_write took it. */
static crdt_id write_id(const pending_write *w)
{
	return crdt_id_of(w->id, w->id_len, w->id_hash);
}

/* Writes in flight at once: their structs are kept for the next writes
 * rather than given back to malloc, which a struct of 250 bytes with as
 * many in flight sent down its slow path on every write. */
#define NODE_SPARE_WRITES 256u

/* A pending write for cart id, every field set; NULL if out of memory. */
static pending_write *write_new(node *n, const crdt_id *id)
{
	pending_write *w = n->spare;
	if (w) {
		n->spare = w->next;
		n->nspare--;
	} else if ((w = malloc(sizeof *w)) == NULL) {
		return NULL;
	}
	w->prev = w->next = NULL;
	w->done = NULL;
	w->arg = NULL;
	crdt_cart_init(&w->delta);
	w->start_ns = 0;
	w->retry_at_ms = 0;
	w->backoff_ms = 0;
	w->submitted = false;
	w->replay = false;
	w->seq = 0;
	w->id_hash = id->hash;
	w->id_len = (uint8_t)id->len;
	memcpy(w->id, id->s, id->len);
	w->id[id->len] = '\0';
	return w;
}

static void write_free(node *n, pending_write *w)
{
	crdt_cart_destroy(&w->delta);
	if (n->nspare >= NODE_SPARE_WRITES) {
		free(w);
		return;
	}
	w->next = n->spare;
	n->spare = w;
	n->nspare++;
}

void node_write_free_spares(node *n)
{
	while (n->spare) {
		pending_write *w = n->spare;
		n->spare = w->next;
		free(w);
	}
	n->nspare = 0;
}

/* The write's latency, to its drain: the writes of one batch became
 * durable together, and one clock read serves them all. */
static void record_latency(node *n, uint64_t start_ns)
{
	double s = n->drain_ns > start_ns ? (double)(n->drain_ns - start_ns) / 1e9 : 0.0;
	size_t i = 0;
	while (s > lat_bounds[i])
		i++;
	n->lat.count[i]++;
	n->lat.sum += s;
	n->lat.total++;
}

/* Answers the caller once; later completions of the same write are silent.
 * A replay that became durable answers CARTD_EIDEMPOTENT, without a delta. */
static void answer(node *n, pending_write *w, int rc)
{
	node_done_fn done = w->done;
	if (!done)
		return;
	w->done = NULL;
	if (rc == 0)
		record_latency(n, w->start_ns);
	if (rc == 0 && w->replay)
		rc = CARTD_EIDEMPOTENT;
	done(w->arg, rc, rc == 0 ? &w->delta : NULL);
}

/* Submits w's delta (the stored state joined with it is the cart after
 * w: db.h).  Moves w to inflight, or leaves it waiting with a retry time.
 * Returns the committer's result. */
static int submit_write(node *n, pending_write *w)
{
	crdt_id id = write_id(w);
	int rc = committer_submit_delta(n->com, &id, &w->delta, (uint64_t)(uintptr_t)w);
	if (rc == 0) {
		list_remove(&n->waiting, w);
		list_push(&n->inflight, w);
		w->submitted = true;
		return 0;
	}
	bool transient = rc == CARTD_ENOSPC || rc == CARTD_ENOMEM;
	w->retry_at_ms = node_now_ms(n) + (transient ? NODE_RETRY_MS : NODE_BACKOFF_MAX_MS);
	node_arm_retry(n);
	return rc;
}

/* Refuses a write the committer could not take, before anything changes.
 * A reserve of the record bound is kept for replicated carts, so a flood
 * of local writes cannot stop a peer from persisting what it receives. */
static int check_room(node *n, size_t len)
{
	committer_stats st;
	committer_stats_get(n->com, &st);
	size_t reserve = n->max_pending / 8;
	if (st.queued_records + n->waiting.n + reserve >= n->max_pending)
		return CARTD_ENOSPC;
	/* A write stores its delta: one new entry and the dots it removed.
	 * An estimate is enough, as the committer enforces the bound itself. */
	size_t est = WRITE_MARGIN + len;
	if (st.queued_bytes > 0 && st.queued_bytes + est > n->max_bytes)
		return CARTD_ENOSPC;
	return 0;
}

/* Is a write of w's cart that was applied before w still in l? */
static bool earlier_write_in(const write_list *l, const pending_write *w)
{
	for (const pending_write *o = l->head; o; o = o->next)
		if (o != w && !o->replay && o->seq < w->seq && o->id_len == w->id_len &&
		    memcmp(o->id, w->id, w->id_len) == 0)
			return true;
	return false;
}

/* Any write of w's cart applied before the replay w may be the first
 * attempt of the request w replays, and w must not be answered before it
 * is durable.  Those in the committer ahead of w complete first; one that
 * is waiting (its commit failed, or the queue was full) holds w back, and
 * so does one still in the committer when w completes, which can only be
 * a failed write submitted again behind w. */
static bool replay_blocked(const node *n, const pending_write *w, bool completed)
{
	return earlier_write_in(&n->waiting, w) ||
	       (completed && earlier_write_in(&n->inflight, w));
}

int node_write(node *n, const crdt_id *id, const crdt_op *op, node_done_fn done, void *arg)
{
	if (!n || !id || !op || !done)
		return CARTD_EINVAL;
	if (n->closing)
		return CARTD_ESHUTDOWN;
	int rc = check_room(n, id->len);
	if (rc)
		return rc;
	pending_write *w = write_new(n, id);
	if (!w)
		return CARTD_ENOMEM;
	w->done = done;
	w->arg = arg;
	w->start_ns = node_mono_ns();
	w->seq = ++n->write_seq;
	rc = engine_local_write(n->eng, id, op, &w->delta);
	/* A replay changed nothing, like removing an absent sku, and completes
	 * the same way: through the committer, so that its answer comes only
	 * once the writes in flight before it (the first attempt among them,
	 * if it was made here) are durable. */
	w->replay = rc == CARTD_EIDEMPOTENT;
	if (rc != 0 && !w->replay) {
		write_free(n, w);   /* nothing changed, and no mark is left */
		return rc;
	}
	list_push(&n->waiting, w);
	if (w->replay && replay_blocked(n, w, false)) {
		w->retry_at_ms = node_now_ms(n) + NODE_RETRY_MS;
		node_arm_retry(n);
		return 0;
	}
	submit_write(n, w);   /* or retried from the timer: done comes either way */
	return 0;
}

/* Logs commit failures at most once a second, folding the rest in. */
void node_log_commit_failure(node *n, const char *what, const char *id, int rc)
{
	uint64_t now = node_now_ms(n);
	if (n->fail_log_ms && now - n->fail_log_ms < 1000) {
		n->fail_unlogged++;
		return;
	}
	char msg[DB_ERRMSG_MAX], qmsg[DB_ERRMSG_MAX + 16];
	committer_last_error(n->com, msg, sizeof msg);
	log_event(LOG_ERROR, "commit_failed", "what=%s cart=%s reason=%s detail=%s "
	          "suppressed=%llu", what, id, cartd_errname(rc), log_quote(msg, qmsg, sizeof qmsg),
	          (unsigned long long)n->fail_unlogged);
	n->fail_log_ms = now;
	n->fail_unlogged = 0;
}

static void write_completed(node *n, pending_write *w, int rc)
{
	list_remove(&n->inflight, w);
	w->submitted = false;
	if (rc == 0 && w->replay && replay_blocked(n, w, true)) {
		/* Submitted again, behind what it waits for. */
		w->retry_at_ms = node_now_ms(n) + NODE_RETRY_MS;
		list_push(&n->waiting, w);
		node_arm_retry(n);
		return;
	}
	if (rc == 0) {
		crdt_id id = write_id(w);
		if (!w->replay)   /* a replay took no mark (engine_local_write) */
			engine_write_done(n->eng, &id, &w->delta, n->drain_ns / 1000000u);
		answer(n, w, 0);
		write_free(n, w);
		return;
	}
	n->write_failed++;
	node_log_commit_failure(n, "write", w->id, rc);
	answer(n, w, rc);
	/* No retry after the committer stopped; none for a replay either,
	 * which has nothing in memory to make durable. */
	if (n->closing || w->replay) {
		write_free(n, w);
		return;
	}
	w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : NODE_BACKOFF_MIN_MS;
	if (w->backoff_ms > NODE_BACKOFF_MAX_MS)
		w->backoff_ms = NODE_BACKOFF_MAX_MS;
	w->retry_at_ms = node_now_ms(n) + w->backoff_ms;
	list_push(&n->waiting, w);
	node_arm_retry(n);
}

static void persist_completed(node *n, int rc)
{
	char id[CRDT_MAX_NAME + 1] = "";
	size_t len = idfifo_pop(&n->persisting, id);
	if (rc == 0) {
		n->dirty_backoff_ms = 0;
	} else if (!n->closing) {
		n->persist_failed++;
		node_log_commit_failure(n, "replicated", id, rc);
		if (len == 0 || idset_add(&n->dirty, id, len) != 0)
			n->persist_lost++;
		n->dirty_backoff_ms = n->dirty_backoff_ms ? n->dirty_backoff_ms * 2 : NODE_BACKOFF_MIN_MS;
		if (n->dirty_backoff_ms > NODE_BACKOFF_MAX_MS)
			n->dirty_backoff_ms = NODE_BACKOFF_MAX_MS;
		n->dirty_retry_at_ms = node_now_ms(n) + n->dirty_backoff_ms;
		node_arm_retry(n);
	}
}

static void on_completion(void *arg, uint64_t cookie, int rc)
{
	node *n = arg;
	if (cookie == 0)      /* submitted by someone else to n->com (a test) */
		return;
	if (cookie == NODE_PERSIST_COOKIE)
		persist_completed(n, rc);
	else
		write_completed(n, (pending_write *)(uintptr_t)cookie, rc);
}

void node_commit_drain(node *n)
{
	if (!n->com)
		return;
	n->drain_ns = node_mono_ns();
	committer_drain(n->com, on_completion, n);
}

void node_retry_writes(node *n)
{
	uint64_t now = node_now_ms(n);
	pending_write *w = n->waiting.head;
	while (w && !n->closing) {
		pending_write *next = w->next;
		if (w->replay && w->retry_at_ms <= now && replay_blocked(n, w, false)) {
			w->retry_at_ms = now + NODE_RETRY_MS;
			w = next;
			continue;
		}
		/* Stop at a full queue: the next drain makes room and calls again. */
		if (w->retry_at_ms <= now && submit_write(n, w) == CARTD_ENOSPC)
			break;
		w = next;
	}
}

static void abort_list(node *n, write_list *l, bool do_answer)
{
	while (l->head) {
		pending_write *w = l->head;
		list_remove(l, w);
		/* The engine keeps its mark for this cart: what is not durable is
		 * never gossiped, even in the moments before the process exits. */
		if (do_answer)
			answer(n, w, CARTD_ESHUTDOWN);
		write_free(n, w);
	}
}

void node_write_abort_all(node *n, bool do_answer)
{
	abort_list(n, &n->waiting, do_answer);
	abort_list(n, &n->inflight, do_answer);
}

void node_commit_latency(const node *n, node_latency *out)
{
	uint64_t cum = 0;
	for (size_t i = 0; i < NODE_LAT_BUCKETS; i++) {
		out->le[i] = lat_bounds[i];
		cum += n->lat.count[i];
		out->count[i] = cum;
	}
	out->sum = n->lat.sum;
	out->total = n->lat.total;
}

/* node_free: pending writes are freed from their lists afterwards. */
void node_commit_discard(node *n)
{
	if (!n->com)
		return;
	committer_stop(n->com);
	committer_drain(n->com, NULL, NULL);   /* nothing to act on any more */
}
