/*
 * db.h - the peer's durable state in LMDB: replica identity, boot epoch and
 * one record per cart; and the folding of the write-ahead log into it.
 *
 * A data dir holds the write-ahead log (wal.h: where a write becomes
 * durable) and one LMDB environment with two named databases:
 *
 *   meta   "layout"  -> DB_LAYOUT (bytes, no NUL): which layout this dir uses
 *          "replica" -> u64le replica id, never 0, chosen once at creation
 *          "epoch"   -> u32le boot epoch, bumped and synced at every open
 *          "wal-gen" -> u64le: every log frame of an older generation is
 *                       folded into carts (absent: 0)
 *   carts  id                  -> crdt_encode_cart bytes: a full state
 *          id 0x00 u32be seq   -> crdt_encode_cart bytes: a delta (seq 0, 1, ...)
 *          (cart format 3)
 *
 * A cart's durable state is the join of its full state (if any) and all its
 * deltas, in any order: each delta was produced by an operation whose result
 * is the previous state joined with that delta, and join is commutative,
 * associative and idempotent.  Writing a delta costs its own few bytes, not
 * the cart's.  Writing a full state deletes the cart's deltas in the same
 * transaction (the state was taken after every delta written before it, so
 * it contains them).  When a cart reaches DB_COMPACT_DELTAS deltas (more for
 * a large cart: one per DB_FOLD_BYTES_PER_DELTA bytes of its full state, up
 * to DB_MAX_DELTAS), the transaction that writes the last one also folds
 * them into the full state, from the records themselves: nothing in memory
 * is trusted for it, and a crash leaves either the old records or the
 * folded ones.  Ids never contain 0x00, so a cart's deltas sort right after
 * its full state.
 *
 * The durable state of the dir is LMDB joined with every record of the
 * log's unfolded generations.  db_open folds those before it returns
 * (db_recovered counts them), so what db_load_all reads is everything
 * acknowledged before the last stop or crash.
 *
 * Older layouts are upgraded in place when opened (db_upgraded says so),
 * so old data dirs keep their meaning: layout 1 ("cartd-db-1") held carts
 * in cart format 1, layouts 2 ("cartd-db-2", full states only) and 3
 * ("cartd-db-3", with deltas) in cart format 2; each record gets the zero
 * bytes of the sections its format lacks.  Layout 4 ("cartd-db-4") is
 * layout 5 before the log: only its name changes.  A dir of any other
 * layout is refused.
 *
 * The boot epoch is part of the AEAD nonce, so it must never repeat: db_open
 * makes the bumped epoch durable (forcing a sync even with sync = false)
 * before it returns it, and refuses to wrap past UINT32_MAX.
 *
 * A data dir is locked (flock on DB_LOCK_FILE) while open, so two peers can
 * never share one identity; LMDB itself would allow the second open.
 *
 * Errors follow crdt/error.h.  LMDB and system failures become
 * CARTD_ESTORAGE; a dir that is not ours, from another layout, locked, or
 * holding a record that does not decode becomes CARTD_EDATADIR.  Every call
 * that can fail takes err/errlen last (crdt/error.h): on failure it receives
 * one line with the mdb_strerror or strerror detail, naming the dir, or the
 * cart of a corrupt record.
 *
 * Threading: a handle is used by one thread at a time.  The usual pattern is
 * db_open and db_load_all on the loop thread, then a committer (committer.h)
 * whose checkpoint thread alone calls db_checkpoint until the committer is
 * freed, then db_close on the loop thread.  The identity getters read
 * values fixed at open and may be called from any thread at any time.
 */
#ifndef APP_DB_H
#define APP_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/store.h"

#define DB_LAYOUT "cartd-db-5"
#define DB_LAYOUT_V4 "cartd-db-4"     /* layout 5 without the log: renamed */
#define DB_LAYOUT_V1 "cartd-db-1"     /* cart format 1: upgraded in place */
#define DB_LAYOUT_V2 "cartd-db-2"     /* format 2, full states only: upgraded */
#define DB_LAYOUT_V3 "cartd-db-3"     /* format 2 with deltas: upgraded */
#define DB_COMPACT_DELTAS 16u         /* deltas per cart before they are folded */
#define DB_FOLD_BYTES_PER_DELTA 16u   /* ... or one per this many bytes of state */
#define DB_MAX_DELTAS 1024u           /* ... but never more than this */
#define DB_LOCK_FILE "cartd.lock"
#define DB_DEFAULT_MAP_SIZE ((size_t)1 << 30)   /* 1 GiB of address space, not disk */
#define DB_ERRMSG_MAX 256
#define DB_CHECKPOINT_CHUNK ((size_t)4 << 20)   /* value bytes per fold transaction */
#define DB_CHECKPOINT_PASS ((size_t)32 << 20)   /* log bytes coalesced together */

typedef struct db db;

typedef struct db_options {
	const char *dir;        /* data dir; created (mode 0700, with parents) if missing */
	size_t map_size;        /* initial LMDB map size in bytes (0: default); grows
	                           when full, see db_put_batch */
	bool sync;              /* false: MDB_NOSYNC|MDB_NOMETASYNC, for experiments only:
	                           a crash may then lose acknowledged writes */
} db_options;

/* What a record holds. */
enum db_kind {
	DB_STATE,      /* the cart's full state: replaces everything stored */
	DB_DELTA,      /* a delta, joined with what is stored */
	DB_NOTHING,    /* writes nothing; completes with the batch's sync */
};

/* One record to write: cart id and its encoded full state or delta.
 * Borrowed.  The id was checked and hashed where it entered (cart_id.h: an
 * HTTP path, a datagram, a log frame read back), so the log and LMDB
 * write it as it is. */
typedef struct db_record {
	crdt_id id;
	const uint8_t *val;
	size_t val_len;
	enum db_kind kind;
} db_record;

/* Fills o with the defaults: dir NULL, DB_DEFAULT_MAP_SIZE, sync on. */
void db_options_default(db_options *o);

/*
 * Opens (creating if new) the data dir o->dir, checks its layout, creates
 * the identity of a new dir, bumps and syncs the boot epoch, and folds
 * the log's unfolded generations (durable before it returns).
 * On success *out is the handle (free with db_close).  epoch (may be NULL)
 * receives the new boot epoch: 1 for a new dir.
 * On failure *out = NULL, nothing is left open, and err receives a line
 * naming the dir and the cause.
 * Errors: CARTD_EINVAL (o or o->dir missing), CARTD_EDATADIR (not a cartd
 * data dir, unknown layout, locked by another process, identity record
 * malformed, epoch exhausted, a corrupt log frame), CARTD_ESTORAGE,
 * CARTD_ENOMEM.
 */
int db_open(const db_options *o, db **out, uint32_t *epoch, char *err, size_t errlen);

/* Closes the environment and releases the lock.  NULL-safe.  No committer
 * may still be using the handle. */
void db_close(db *d);

/* Identity fixed at open; any thread. */
uint64_t db_replica_id(const db *d);
uint32_t db_epoch(const db *d);
/* True if this open created the data dir's identity. */
bool db_created(const db *d);
/* Whether this open upgraded an older layout, and how many records (full
 * states and deltas) it rewrote. */
bool db_was_upgraded(const db *d);
size_t db_upgraded(const db *d);
/* The layout it upgraded from ("" when it did not). */
const char *db_upgraded_from(const db *d);
/* Log records this open folded: writes the last run acknowledged but had
 * not folded when it stopped. */
size_t db_recovered(const db *d);
/* The data dir, as given to db_open (the log lives there too). */
const char *db_dir(const db *d);
/* db_options.sync as opened: whether writes are synced. */
bool db_sync_enabled(const db *d);
/* The oldest log generation not folded yet: where the committer appends
 * after open.  Moves as db_checkpoint folds; same thread as the writes. */
uint64_t db_wal_gen(const db *d);

/*
 * Folds log generation gen (wal.h) into the carts: writes its records in
 * order, records that every generation up to gen is folded (wal-gen =
 * gen + 1), and syncs; durable on return.  The caller folds generations in
 * order, each once its frames are complete, and folding a generation twice
 * is harmless.  An empty generation writes nothing and leaves wal-gen.
 * records (may be NULL) receives how many records it wrote.
 * Errors: CARTD_EINVAL (gen older than db_wal_gen), CARTD_EDATADIR (a
 * corrupt frame), CARTD_ESTORAGE, CARTD_ENOMEM.
 */
int db_checkpoint(db *d, uint64_t gen, size_t *records, char *err, size_t errlen);

/*
 * Writes the n records in one write transaction and commits it, durable on
 * return (unless the handle was opened with sync = false): db_write_batch
 * then db_flush.  Records are applied in order (a state replaces what was
 * stored, a delta adds to it; see above).  All or nothing: on error no
 * record of the batch is stored.  n == 0 writes nothing and returns 0.
 * Values are stored as given (the committer passes crdt_encode_cart output);
 * db_load_all checks them.  When the map is full the transaction is retried
 * after doubling the map size (a few times at most), so map_size is a
 * starting point, not a cap.
 * Errors: CARTD_EINVAL (an unknown kind; nothing written), CARTD_ESTORAGE
 * (disk full, I/O error, map still full).
 */
int db_put_batch(db *d, const db_record *recs, size_t n, char *err, size_t errlen);

/*
 * The two halves of db_put_batch, for writers that pipeline them (a
 * checkpoint writes its chunks with db_write_batch and flushes once at the
 * end).  LMDB makes a commit durable with two syncs: the data pages, then
 * its root (the meta page).  The handle is opened with MDB_NOMETASYNC, so
 * db_write_batch syncs the data pages (of this commit and every earlier one)
 * and writes the meta page without waiting for it.  A committed batch is
 * therefore durable once either
 *   - db_flush has returned 0 after it, or
 *   - a later db_write_batch has returned 0 with *synced_earlier = true: that
 *     commit wrote records, so its data sync ran after this batch's meta
 *     page was written.
 * Under load one sync per batch then suffices instead of two.  A batch
 * that writes nothing (only DB_NOTHING records) syncs nothing:
 * *synced_earlier = false.  With sync = false nothing is ever synced and
 * *synced_earlier is always true.  Same errors as db_put_batch; a failed
 * db_write_batch says nothing about earlier batches (flush them).
 */
int db_write_batch(db *d, const db_record *recs, size_t n, bool *synced_earlier, char *err,
                   size_t errlen);

/* One fdatasync: every committed batch is durable when it returns 0.
 * Nothing with sync = false.  0 or CARTD_ESTORAGE. */
int db_flush(db *d, char *err, size_t errlen);

/* Since open, for the committer's stats and tests; any thread:
 * db_syncs:     syncs issued (data syncs of commits that wrote, and flushes);
 * db_commits:   db_write_batch commits that wrote at least one record;
 * db_durable:   how many of those are known durable (the rule above).
 * With sync = false nothing is synced and db_durable == db_commits. */
uint64_t db_syncs(const db *d);
uint64_t db_commits(const db *d);
uint64_t db_durable(const db *d);

/*
 * Reads every cart record (full states and deltas), decodes it strictly
 * (crdt_cart_from_bytes) and joins it into store.  A record whose key is not a valid cart id or whose
 * value does not decode is an error naming the cart (in err); the
 * store then holds the records read before it and should be discarded.
 * Errors: CARTD_EDATADIR (corrupt record), CARTD_ESTORAGE, CARTD_ENOMEM.
 */
int db_load_all(db *d, crdt_store *store, char *err, size_t errlen);

/* Number of records, full states and deltas (for logs and tests).  0 or
 * CARTD_ESTORAGE. */
int db_count(db *d, size_t *out, char *err, size_t errlen);

#endif
