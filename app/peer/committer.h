/*
 * committer.h - group commit: a background thread that makes cart records
 * durable, many writes per synced LMDB transaction, so the event loop never
 * waits for a disk.
 *
 * The loop submits (cart id, encoded full state or delta, cookie).  The
 * committer thread takes everything queued, writes it in one write
 * transaction in submission order (db.h: a full state replaces what is
 * stored, a delta is joined with it), commits, and posts one completion
 * (cookie, result) per record once the batch is durable: when the next
 * batch's commit has synced it, or, if nothing else is queued, after a sync
 * of its own (db.h, db_write_batch).  Whatever is submitted
 * while that commit runs becomes the next batch, so N concurrent writes cost
 * about one sync, not N.
 *
 * Completions are delivered on the loop thread: committer_fd() becomes
 * readable when some are ready (watch it with EV_READ or poll), and
 * committer_drain() hands them over in submission order.  A write must not
 * be acknowledged, nor its delta sent to peers, before its completion
 * reports 0 (DESIGN.md section 5).
 *
 * The queue is bounded: a record counts against max_records from submission
 * until its completion is drained, and its bytes count against max_bytes
 * until it is written.  Past either bound committer_submit refuses with
 * CARTD_ENOSPC and the caller pushes back (HTTP 503).  Because completions
 * are bounded the same way, all memory is allocated up front or at submit,
 * and a completion can never be lost to an allocation failure.
 *
 * Threading: committer_submit, committer_submit_cart, committer_stats and
 * committer_last_error may be called from any thread.  committer_drain,
 * committer_stop and committer_free belong to one thread, the owner (the
 * loop).  The work done on the calling thread is a malloc and memcpy per
 * submission and reading completions; the db handle is used only by the
 * committer thread between committer_new and committer_stop.
 */
#ifndef APP_COMMITTER_H
#define APP_COMMITTER_H

#include <stddef.h>
#include <stdint.h>

#include "app/peer/db.h"
#include "crdt/cart.h"

#define COMMITTER_DEFAULT_MAX_RECORDS 16384u
#define COMMITTER_DEFAULT_MAX_BYTES ((size_t)64 << 20)

typedef struct committer committer;

typedef struct committer_options {
	size_t max_records;     /* outstanding records (submitted, not drained); >= 1 */
	size_t max_bytes;       /* queued key+value bytes not yet written; >= 1 */
} committer_options;

/* Counters since committer_new; a consistent snapshot. */
typedef struct committer_stats {
	uint64_t submitted;     /* records accepted */
	uint64_t rejected;      /* submissions refused with CARTD_ENOSPC */
	uint64_t batches;       /* write transactions attempted */
	uint64_t commits;       /* ... of which committed */
	uint64_t records;       /* records written by committed batches */
	uint64_t failed;        /* records whose batch failed */
	uint64_t bytes;         /* key+value bytes written by committed batches */
	uint64_t max_batch;     /* most records in one batch */
	uint64_t commit_ns;     /* total time in write+commit+sync */
	uint64_t commit_ns_max; /* longest single batch */
	uint64_t syncs;         /* fdatasyncs: about one per batch under load,
	                           two for a batch that found the queue empty */
	size_t queued_records;  /* outstanding now (counts against max_records) */
	size_t queued_bytes;    /* unwritten now (counts against max_bytes) */
} committer_stats;

/* Called once per completion by committer_drain, in submission order.
 * rc is 0 when the record is durable, else a negative CARTD_* code. */
typedef void (*committer_done_fn)(void *arg, uint64_t cookie, int rc);

/* Fills o with COMMITTER_DEFAULT_MAX_RECORDS / _MAX_BYTES. */
void committer_options_default(committer_options *o);

/*
 * Starts the committer thread over d (borrowed: d must outlive the
 * committer, and no other thread may use d until committer_stop returns).
 * o may be NULL for the defaults.  On failure *out = NULL.
 * Errors: CARTD_EINVAL (a bound of 0), CARTD_ENOMEM, negative errno (thread
 * or eventfd creation).
 */
int committer_new(db *d, const committer_options *o, committer **out);

/* The notification fd: readable while completions wait to be drained.
 * Non-blocking; owned by the committer (do not read or close it). */
int committer_fd(const committer *c);

/*
 * Queues one record; id and val are copied, so the caller's buffers are free
 * on return.  cookie is returned with the completion (a request id, or a
 * pointer through uintptr_t if the caller keeps it alive until then).
 * Errors: CARTD_EID (id refused by crdt_check_id), CARTD_ENOSPC (queue full:
 * retry after draining), CARTD_ESHUTDOWN (after committer_stop),
 * CARTD_ENOMEM.  No completion is posted for a refused record.
 */
int committer_submit(committer *c, const char *id, size_t id_len,
                     const void *val, size_t val_len, uint64_t cookie);

/* Same, encoding cart (crdt_encode_cart) straight into the queued record,
 * as the cart's full state (DB_STATE). */
int committer_submit_cart(committer *c, const char *id, size_t id_len,
                          const crdt_cart *cart, uint64_t cookie);

/* Same for a delta (DB_DELTA): delta must be what an operation on the cart
 * produced (cart.h), so that the stored state joined with it is the new
 * state.  An empty delta stores nothing but completes after the next synced
 * commit all the same. */
int committer_submit_delta(committer *c, const char *id, size_t id_len,
                           const crdt_cart *delta, uint64_t cookie);

/*
 * Delivers every completion ready now to fn (may be NULL to discard) and
 * returns how many.  fn may call committer_submit; it must not call
 * committer_drain, committer_stop or committer_free.  Owner thread only.
 */
size_t committer_drain(committer *c, committer_done_fn fn, void *arg);

/*
 * Stops accepting (later submits get CARTD_ESHUTDOWN), writes everything
 * queued, and joins the thread.  Completions stay drainable.  Idempotent.
 * Owner thread only; blocks for the final commit.
 */
void committer_stop(committer *c);

void committer_stats_get(committer *c, committer_stats *out);

/* Copies the message of the most recent failed batch ("" if none) into
 * err (crdt/error.h).  Batches fail on the committer's thread, with no call
 * to hand the message to: this is the one kept-error form cartd has. */
void committer_last_error(committer *c, char *err, size_t errlen);

/* committer_stop, then frees everything, discarding undrained completions.
 * NULL-safe.  Owner thread only. */
void committer_free(committer *c);

#endif
