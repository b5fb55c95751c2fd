/*
 * committer.h - group commit: a background thread that makes cart records
 * durable, many writes per synced log frame, so the event loop never waits
 * for a disk; and a second thread that folds the log into LMDB.
 *
 * The loop submits (cart id, encoded full state or delta, cookie).  The
 * commit thread takes everything queued, appends it to the write-ahead log
 * as one frame in submission order and syncs it (wal.h), then posts one
 * completion (cookie, result) per record: the batch is durable.  Whatever
 * is submitted while that sync runs becomes the next batch, so N
 * concurrent writes cost about one sync, not N.  A record's meaning is
 * db.h's: a full state replaces what is stored, a delta is joined with it.
 *
 * Each time the log's current generation reaches wal_rotate_bytes, the
 * commit thread moves on to the next and the checkpoint thread folds the
 * full one into LMDB (db_checkpoint), off the write path.  A fold that
 * fails is retried with backoff; the log keeps its records meanwhile, and
 * opening the data dir folds whatever a crash left (db_open).
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
 * loop).  The work done on the calling thread is a record (one kept from
 * an earlier submission, or a malloc) and a memcpy per submission, and
 * reading completions and keeping or freeing their records; the db
 * handle is used only by the checkpoint thread between committer_new and
 * committer_free, and by committer_free's final fold.
 */
#ifndef APP_COMMITTER_H
#define APP_COMMITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/peer/db.h"
#include "crdt/cart.h"

#define COMMITTER_DEFAULT_MAX_RECORDS 16384u
#define COMMITTER_DEFAULT_MAX_BYTES ((size_t)64 << 20)
/* A checkpoint rewrites most of LMDB's pages when writes are spread over
 * many carts, whatever the log's size: a longer generation spreads that
 * over more writes (at 100000 carts, 32 MiB costs a durable add about 15 %
 * less CPU than 8 MiB), for a longer replay after a crash (up to two
 * generations). */
#define COMMITTER_DEFAULT_WAL_ROTATE ((size_t)32 << 20)

/* The shortest interval between two batches that hold only lazy records. */
#define COMMITTER_LAZY_MS 20u

typedef struct committer committer;

typedef struct committer_options {
	size_t max_records;     /* outstanding records (submitted, not drained); >= 1 */
	size_t max_bytes;       /* queued key+value bytes not yet written; >= 1 */
	size_t wal_rotate_bytes;/* log bytes per generation before it is folded
	                           into LMDB; 0: COMMITTER_DEFAULT_WAL_ROTATE */
} committer_options;

/* Counters since committer_new; a consistent snapshot. */
typedef struct committer_stats {
	uint64_t submitted;     /* records accepted */
	uint64_t rejected;      /* submissions refused with CARTD_ENOSPC */
	uint64_t batches;       /* batches taken from the queue */
	uint64_t commits;       /* ... of which durable (logged, or nothing to log) */
	uint64_t records;       /* records of durable batches */
	uint64_t failed;        /* records whose batch failed */
	uint64_t bytes;         /* key+value bytes of durable batches */
	uint64_t max_batch;     /* most records in one batch */
	uint64_t commit_ns;     /* total time appending and syncing */
	uint64_t commit_ns_max; /* longest single batch */
	uint64_t syncs;         /* log fdatasyncs: one per batch with records */
	uint64_t wal_bytes;     /* bytes of the log's current generation */
	uint64_t checkpoints;   /* generations folded into LMDB */
	uint64_t checkpoint_records;   /* records they held */
	uint64_t checkpoint_failures;  /* folds that failed (retried) */
	uint64_t checkpoint_ns; /* time spent folding */
	size_t queued_records;  /* outstanding now (counts against max_records) */
	size_t queued_bytes;    /* unwritten now (counts against max_bytes) */
} committer_stats;

/* Called once per completion by committer_drain, in submission order.
 * rc is 0 when the record is durable, else a negative CARTD_* code. */
typedef void (*committer_done_fn)(void *arg, uint64_t cookie, int rc);

/* Fills o with COMMITTER_DEFAULT_MAX_RECORDS / _MAX_BYTES. */
void committer_options_default(committer_options *o);

/*
 * Opens the log where d's last fold left it and starts the commit and
 * checkpoint threads over d (borrowed: d must outlive the committer, and
 * no other thread may use d until committer_free returns).  o may be NULL
 * for the defaults.  On failure *out = NULL and err says why.
 * Errors: CARTD_EINVAL (a bound of 0), CARTD_ENOMEM, CARTD_ESTORAGE (the
 * log files cannot be opened), negative errno (thread or eventfd creation).
 */
int committer_new(db *d, const committer_options *o, committer **out, char *err,
                  size_t errlen);

/* The notification fd: readable while completions wait to be drained.
 * Non-blocking; owned by the committer (do not read or close it). */
int committer_fd(const committer *c);

/*
 * Queues one record; id (checked and hashed where it entered, cart_id.h) and
 * val are copied, so the caller's buffers are free on return.  cookie is
 * returned with the completion (a request id, or a pointer through
 * uintptr_t if the caller keeps it alive until then).
 * Errors: CARTD_ENOSPC (queue full: retry after draining), CARTD_ESHUTDOWN
 * (after committer_stop), CARTD_ENOMEM.  No completion is posted for a
 * refused record.
 */
int committer_submit(committer *c, const crdt_id *id, const void *val, size_t val_len,
                     uint64_t cookie);

/* Same, encoding cart (crdt_encode_cart) straight into the queued record,
 * as the cart's full state (DB_STATE). */
int committer_submit_cart(committer *c, const crdt_id *id, const crdt_cart *cart,
                          uint64_t cookie);

/* Same for a delta (DB_DELTA): delta must be what an operation on the cart
 * produced (cart.h), so that the stored state joined with it is the new
 * state.  An empty delta stores nothing; it completes with its batch, after
 * every record submitted before it is durable. */
int committer_submit_delta(committer *c, const crdt_id *id, const crdt_cart *delta,
                           uint64_t cookie);

/* Same as committer_submit_cart (full_state) or committer_submit_delta, for
 * a record nobody waits on, such as a change that replication brought: it
 * waits until COMMITTER_LAZY_MS after the previous batch was taken, so
 * that a stream of them shares one log sync per COMMITTER_LAZY_MS while a
 * lone one after a quiet spell is synced at once (a record that is not
 * lazy, a quarter-full queue or committer_stop end the wait), and its
 * submission wakes the commit thread only when the queue was empty.  A
 * replica that takes no writes of its own thus syncs its log at most
 * about 1000 / COMMITTER_LAZY_MS times a second, however fast changes
 * arrive, short of a quarter-full queue. */
int committer_submit_lazy(committer *c, const crdt_id *id, const crdt_cart *cart,
                          bool full_state, uint64_t cookie);
/* committer_submit_lazy of a delta that is already encoded: enc[0..enc_len)
 * is crdt_encode_cart's form of a delta that is not empty (such as the
 * bytes a peer's DELTA message carried for it, which decode to it), stored
 * as it is instead of encoded again.  CARTD_EINVAL if enc_len is 0. */
int committer_submit_lazy_encoded(committer *c, const crdt_id *id, const void *enc,
                                  size_t enc_len, uint64_t cookie);

/*
 * Delivers every completion ready now to fn (may be NULL to discard) and
 * returns how many.  fn may call committer_submit; it must not call
 * committer_drain, committer_stop or committer_free.  Owner thread only.
 */
size_t committer_drain(committer *c, committer_done_fn fn, void *arg);

/*
 * Stops accepting (later submits get CARTD_ESHUTDOWN), writes everything
 * queued, and joins the commit thread.  Completions stay drainable.
 * Checkpoints go on until committer_free.  Idempotent.  Owner thread
 * only; blocks for the final commit.
 */
void committer_stop(committer *c);

void committer_stats_get(committer *c, committer_stats *out);

/* Copies the message of the most recent failed batch or fold ("" if none)
 * into err (crdt/error.h).  Both fail on the committer's threads, with no
 * call to hand the message to: this is the one kept-error form cartd has. */
void committer_last_error(committer *c, char *err, size_t errlen);

/* committer_stop, then stops the checkpoint thread and folds the log into
 * LMDB, so that the db alone holds every record (a fold that fails leaves
 * them to the next db_open; committer_last_error says why, until the
 * free), then frees everything, discarding undrained completions.
 * NULL-safe.  Owner thread only; blocks for the fold. */
void committer_free(committer *c);

#endif
