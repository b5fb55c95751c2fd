/*
 * wal.h - the write-ahead log: where a cart record becomes durable.
 *
 * The committer (committer.h) appends each batch of records as one frame
 * and syncs it; the write is acknowledged then.  A checkpoint later folds
 * whole generations of frames into LMDB (db.h, db_checkpoint), and opening
 * a data dir folds whatever the last run left unfolded.  So a write costs
 * one small sequential write and one fdatasync, where an LMDB commit of the
 * same batch rewrites and syncs a page per cart touched, twice over.
 *
 * Files: WAL_FILES files in the data dir, "wal-0" and "wal-1".  Generation
 * g (a u64 counting up from 0) is written to file g % 2 from offset 0,
 * overwriting what an older generation left there.  Files grow ahead of
 * the frames by WAL_GROW bytes of zeros at a time, so that most syncs write
 * data only, not a new file size.  A frame:
 *
 *   u32le WAL_MAGIC | u32le payload length | u64le generation
 *   | u32le record count | u32le CRC-32 (gzip's, as zlib's crc32) of the
 *   20 bytes before it and of the payload | payload
 *
 * and the payload is the records in order, each
 *
 *   u8 kind (1 full state, 2 delta) | u8 id length | u32le value length
 *   | id | value
 *
 * Reading a generation starts at offset 0 and ends at the first frame that
 * is short, of another generation, or fails its CRC: the frame a crash tore
 * (never acknowledged, as its sync had not returned) or an older
 * generation's frame beyond the end of this one.  Frames are appended one
 * at a time, each synced before the next is written, so no frame of the
 * generation can lie beyond a torn one.  A frame that passes its CRC but
 * does not parse is corruption, not a tear: reading refuses it.
 *
 * Errors follow crdt/error.h: CARTD_ESTORAGE for system failures,
 * CARTD_EDATADIR for a frame that is corrupt, CARTD_ENOMEM; err receives a
 * line naming the file.  Threading: a wal or wal_reader is used by one
 * thread at a time.
 */
#ifndef APP_WAL_H
#define APP_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/peer/db.h"

#define WAL_FILES 2u
#define WAL_MAGIC 0x314c5743u          /* "CWL1" as little-endian bytes */
#define WAL_FRAME_HEADER 24u
#define WAL_RECORD_HEADER 6u
#define WAL_MAX_FRAME ((size_t)1 << 30) /* payload bytes; bigger is refused */
#define WAL_GROW ((uint64_t)1 << 20)    /* files grow by this much of zeros */

typedef struct wal wal;

/* The path of generation gen's file under dir, into out (cap bytes).
 * CARTD_EINVAL when it does not fit. */
int wal_path(const char *dir, uint64_t gen, char *out, size_t cap);

/*
 * Opens (creating if missing) the log files under dir for appending
 * generation gen, from offset 0 of its file.  With sync = false appends are
 * never synced (experiments only).  Files it creates are made durable
 * (their directory synced) before it returns.  On failure *out = NULL.
 */
int wal_open(const char *dir, uint64_t gen, bool sync, wal **out, char *err, size_t errlen);

/* Closes the files.  NULL-safe. */
void wal_close(wal *w);

/*
 * Appends the records as one frame at the end of the current generation
 * and syncs it: durable when it returns 0.  DB_NOTHING records are skipped;
 * with none left nothing is written or synced (every earlier frame was
 * synced before this call).  On failure nothing counts as written: the next
 * append goes to the same offset.
 * Errors: CARTD_EINVAL (unknown kind, a value over UINT32_MAX bytes or a
 * frame over WAL_MAX_FRAME),
 * CARTD_ENOMEM, CARTD_ESTORAGE (write or sync failed).
 */
int wal_append(wal *w, const db_record *recs, size_t n, char *err, size_t errlen);

/* Starts the next generation in the other file, from offset 0.  The caller
 * must have folded the generation that file held (db_checkpoint). */
void wal_rotate(wal *w);

uint64_t wal_gen(const wal *w);      /* the generation appends go to */
uint64_t wal_bytes(const wal *w);    /* bytes of it written so far */
uint64_t wal_syncs(const wal *w);    /* fdatasyncs since wal_open */

typedef struct wal_reader wal_reader;

/* Opens generation gen under dir for reading.  A missing file reads as
 * empty.  On failure *out = NULL. */
int wal_reader_open(const char *dir, uint64_t gen, wal_reader **out, char *err, size_t errlen);

/*
 * The next records of the generation, whole frames of them: as many frames
 * as fit in max_bytes of payload, and at least one.  *recs (*n of them)
 * stays valid until the next call or wal_reader_close.  *n == 0 at the end
 * of the generation.  Records come in the order they were appended, and
 * never DB_NOTHING.
 * Errors: CARTD_EDATADIR (a frame passed its CRC but does not parse),
 * CARTD_ESTORAGE, CARTD_ENOMEM.
 */
int wal_reader_next(wal_reader *r, size_t max_bytes, const db_record **recs, size_t *n,
                    char *err, size_t errlen);

/* Frames read so far, and the offset where the generation's valid frames
 * end once the end was reached (for logs and tests). */
uint64_t wal_reader_frames(const wal_reader *r);
uint64_t wal_reader_offset(const wal_reader *r);

void wal_reader_close(wal_reader *r);

#endif
