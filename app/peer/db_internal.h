/*
 * db_internal.h - what db.c (environment, identity, load), db_delta.c
 * (writing cart records), db_checkpoint.c (folding the log) and
 * db_coalesce.c (joining a cart's records before they are written) share.
 * Not for use outside those files.
 */
#ifndef APP_DB_INTERNAL_H
#define APP_DB_INTERNAL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "app/peer/db.h"
#include "crdt/buf.h"

struct db {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi carts;
	size_t upgraded;            /* 1 + records rewritten when opening upgraded the layout */
	const char *upgraded_from;  /* the layout it upgraded (a DB_LAYOUT_V* name) */
	int lock_fd;
	uint64_t replica;
	uint32_t epoch;
	bool created;
	bool sync;
	char *dir;                  /* the data dir, as given to db_open */
	uint64_t wal_gen;           /* meta "wal-gen": every log frame of an older
	                               generation is folded (wal.h) */
	size_t recovered;           /* log records folded by db_open */
	uint64_t syncs, commits, durable;   /* db_syncs and friends: atomic */
	char err[DB_ERRMSG_MAX];
};

/* A delta's key: id, 0x00, u32be sequence number. */
#define DB_DELTA_SUFFIX 5u

static inline MDB_val db_mval(const void *p, size_t n)
{
	MDB_val v = { n, (void *)(uintptr_t)p };
	return v;
}

/* The cart id length of a record key: the whole key for a full state, the
 * part before 0x00 for a delta; 0 for a key of neither shape. */
static inline size_t db_key_id_len(const MDB_val *k)
{
	const char *p = k->mv_data;
	for (size_t i = 0; i < k->mv_size; i++)
		if (p[i] == '\0')
			return k->mv_size == i + DB_DELTA_SUFFIX ? i : 0;
	return k->mv_size;
}

__attribute__((format(printf, 2, 3)))
void db_set_err(db *d, const char *fmt, ...);
/* A public call's exit: on failure (rc != 0) copies the message the call
 * set (or rc's description) into the caller's err buffer (crdt/error.h),
 * then clears it; returns rc. */
int db_give_err(db *d, int rc, char *err, size_t errlen);
/* Records an LMDB failure's text; returns CARTD_ESTORAGE. */
int db_lmdb_fail(db *d, int mrc, const char *what);

#define DB_KEY_WAL_GEN "wal-gen"

/* A meta record: CARTD_ENOTFOUND when absent, else 0 or an LMDB failure. */
int db_get_meta(db *d, MDB_txn *txn, const char *key, MDB_val *out);
int db_put_meta(db *d, MDB_txn *txn, const char *key, const void *p, size_t n);

static inline void db_put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t db_get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A checkpoint chunk with each cart's records joined into one
 * (db_coalesce.c).  recs point into the input records or into buf. */
typedef struct db_coalesced {
	db_record *recs;
	size_t n;
	size_t joined;              /* input records absorbed by joins */
	buf_writer buf;             /* the joined values */
} db_coalesced;

/* Joins the records of each cart among recs[0..n): a cart's deltas become
 * one delta, a full state and the deltas after it one full state; carts
 * with one record, and groups that do not decode, pass through as they
 * are, in order.  out->recs come in the order of their cart ids (LMDB's
 * key order: bytes, then length), each cart's records together.  out is
 * freed with db_coalesced_free.  0 or CARTD_ENOMEM (out then empty). */
int db_coalesce(const db_record *recs, size_t n, db_coalesced *out);
void db_coalesced_free(db_coalesced *out);

/* Writes recs[0..n) with db_write_batch in transactions of at most
 * DB_CHECKPOINT_CHUNK bytes of values (at least one record each), as a
 * checkpoint does (db_checkpoint.c); stops at the first error. */
int db_write_chunked(db *d, const db_record *recs, size_t n, char *err, size_t errlen);

/* Reads meta "wal-gen" into d->wal_gen (0 when absent: no log yet). */
int db_read_wal_gen(db *d, MDB_txn *txn, const char *dir);

/* Folds what the log holds beyond d->wal_gen into LMDB (db_open's last
 * step, db_checkpoint.c). */
int db_recover(db *d);

#endif
