/*
 * wal.c - the write-ahead log's files: frames appended and synced by the
 * committer, read back by checkpoints and at open (wal.h has the format
 * and the argument for where a generation ends).
 */
#include "app/peer/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>

#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/error.h"

struct wal {
	int fd[WAL_FILES];
	uint64_t fsize[WAL_FILES];   /* each file's size, zeros past its frames */
	uint64_t gen;
	uint64_t off;           /* end of the generation's last synced frame */
	uint64_t syncs;
	bool sync;
	buf_writer frame;       /* the frame being built, reused */
	char dir[];
};

struct wal_reader {
	int fd;                 /* -1: the file does not exist */
	uint64_t gen;
	uint64_t off, size;
	uint64_t frames;
	bool done;
	uint8_t *buf;           /* the payloads of the current chunk */
	size_t cap;
	db_record *recs;
	size_t recs_cap;
	char path[];
};

enum { KIND_STATE = 1, KIND_DELTA = 2 };

/* The CRC of a frame: its first 20 header bytes, then the payload.  The
 * CRC-32 of gzip and zlib's crc32(), computed by libdeflate, whose
 * carry-less multiplication takes a fraction of zlib's table lookups per
 * byte (every record is summed once when written and once when read). */
static uint32_t frame_crc(const uint8_t *head, const uint8_t *payload, size_t len)
{
	uint32_t c = libdeflate_crc32(0, head, WAL_FRAME_HEADER - 4);
	return libdeflate_crc32(c, payload, len);
}

int wal_path(const char *dir, uint64_t gen, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/wal-%u", dir, (unsigned)(gen % WAL_FILES));
	return n < 0 || (size_t)n >= cap ? CARTD_EINVAL : 0;
}

static int sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		cartd_errmsg(err, errlen, "cannot sync directory %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CARTD_ESTORAGE;
	}
	close(fd);
	return 0;
}

int wal_open(const char *dir, uint64_t gen, bool sync, wal **out, char *err, size_t errlen)
{
	*out = NULL;
	size_t dlen = strlen(dir);
	wal *w = calloc(1, sizeof *w + dlen + 1);
	if (!w) {
		cartd_errmsg(err, errlen, "out of memory opening the log in %s", dir);
		return CARTD_ENOMEM;
	}
	memcpy(w->dir, dir, dlen + 1);
	buf_writer_init(&w->frame);
	w->gen = gen;
	w->sync = sync;
	bool created = false;
	int rc = 0;
	for (uint64_t i = 0; i < WAL_FILES; i++)
		w->fd[i] = -1;
	for (uint64_t i = 0; i < WAL_FILES && !rc; i++) {
		char path[4096];
		if (wal_path(dir, i, path, sizeof path) != 0) {
			cartd_errmsg(err, errlen, "data dir path too long: %s", dir);
			rc = CARTD_EINVAL;
			break;
		}
		w->fd[i] = open(path, O_RDWR | O_CLOEXEC);
		if (w->fd[i] < 0 && errno == ENOENT) {
			w->fd[i] = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			created = true;
		}
		struct stat st;
		if (w->fd[i] < 0 || fstat(w->fd[i], &st) != 0) {
			cartd_errmsg(err, errlen, "cannot open %s: %s", path, strerror(errno));
			rc = CARTD_ESTORAGE;
		} else {
			w->fsize[i] = (uint64_t)st.st_size;
		}
	}
	/* A frame in a file whose name a crash can lose is not durable. */
	if (!rc && created)
		rc = sync_dir(dir, err, errlen);
	if (rc) {
		wal_close(w);
		return rc;
	}
	*out = w;
	return 0;
}

void wal_close(wal *w)
{
	if (!w)
		return;
	for (uint64_t i = 0; i < WAL_FILES; i++)
		if (w->fd[i] >= 0)
			close(w->fd[i]);
	buf_writer_destroy(&w->frame);
	free(w);
}

/* The payload size of the records, or an error for one that cannot be
 * logged. */
static int payload_size(const db_record *recs, size_t n, size_t *size, uint32_t *count,
                        char *err, size_t errlen)
{
	size_t total = 0;
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const db_record *r = &recs[i];
		if (r->kind == DB_NOTHING)
			continue;
		if (r->kind != DB_STATE && r->kind != DB_DELTA) {
			cartd_errmsg(err, errlen, "record %zu has an unknown kind", i);
			return CARTD_EINVAL;
		}
		if (r->val_len > UINT32_MAX || k == UINT32_MAX) {
			cartd_errmsg(err, errlen, "record %zu is too large to log", i);
			return CARTD_EINVAL;
		}
		size_t one = WAL_RECORD_HEADER + r->id.len + r->val_len;
		if (one > WAL_MAX_FRAME - total) {
			cartd_errmsg(err, errlen, "a batch of over %zu bytes cannot be logged",
			             (size_t)WAL_MAX_FRAME);
			return CARTD_EINVAL;
		}
		total += one;
		k++;
	}
	*size = total;
	*count = k;
	return 0;
}

/* The frame of the records into f (payload_size has checked them). */
static void encode(buf_writer *f, uint64_t gen, const db_record *recs, size_t n,
                   size_t payload, uint32_t count)
{
	buf_writer_reset(f);
	buf_put_u32le(f, WAL_MAGIC);
	buf_put_u32le(f, (uint32_t)payload);
	buf_put_u64le(f, gen);
	buf_put_u32le(f, count);
	buf_put_u32le(f, 0);   /* the CRC, once the payload is there */
	for (size_t i = 0; i < n; i++) {
		const db_record *r = &recs[i];
		if (r->kind == DB_NOTHING)
			continue;
		buf_put_u8(f, r->kind == DB_STATE ? KIND_STATE : KIND_DELTA);
		buf_put_u8(f, (uint8_t)r->id.len);
		buf_put_u32le(f, (uint32_t)r->val_len);
		buf_put_bytes(f, r->id.s, r->id.len);
		buf_put_bytes(f, r->val, r->val_len);
	}
	if (f->err == 0) {
		buf_writer crc;
		buf_writer_fixed(&crc, f->data + WAL_FRAME_HEADER - 4, 4);
		buf_put_u32le(&crc, frame_crc(f->data, f->data + WAL_FRAME_HEADER, payload));
	}
}

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t k = pwrite(fd, p, len, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EIO;
		p += k;
		len -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/*
 * Makes the file at least `need` bytes long, in WAL_GROW steps of written
 * zeros.  A sync of a frame that lengthens its file must also commit the
 * new size to the filesystem's journal (about a third more time per sync
 * here); frames that overwrite zeros already on disk do not.  Zeros read as
 * the end of a generation, like any frame that fails its checks.
 */
static int extend(wal *w, int i, uint64_t need)
{
	static const uint8_t zeros[64 << 10];
	uint64_t to = (need + WAL_GROW - 1) / WAL_GROW * WAL_GROW;
	for (uint64_t at = w->fsize[i]; at < to;) {
		size_t step = to - at < sizeof zeros ? (size_t)(to - at) : sizeof zeros;
		int e = write_all(w->fd[i], zeros, step, at);
		if (e)
			return e;
		at += step;
		w->fsize[i] = at;
	}
	return 0;
}

int wal_append(wal *w, const db_record *recs, size_t n, char *err, size_t errlen)
{
	size_t payload;
	uint32_t count;
	int rc = payload_size(recs, n, &payload, &count, err, errlen);
	if (rc || count == 0)
		return rc;
	size_t len = WAL_FRAME_HEADER + payload;
	encode(&w->frame, w->gen, recs, n, payload, count);
	if (w->frame.err) {
		cartd_errmsg(err, errlen, "out of memory for a %zu-byte log frame", len);
		return CARTD_ENOMEM;
	}

	int i = (int)(w->gen % WAL_FILES), fd = w->fd[i];
	int e = w->off + len > w->fsize[i] ? extend(w, i, w->off + len) : 0;
	if (!e)
		e = write_all(fd, w->frame.data, len, w->off);
	const char *what = "writing";
	if (!e && w->sync) {
		what = "syncing";
		e = fdatasync(fd) == 0 ? 0 : errno;
		w->syncs++;
	}
	if (e) {
		char path[4096];
		wal_path(w->dir, w->gen, path, sizeof path);
		cartd_errmsg(err, errlen, "%s %s: %s", what, path, strerror(e));
		return CARTD_ESTORAGE;
	}
	w->off += len;
	return 0;
}

void wal_rotate(wal *w)
{
	w->gen++;
	w->off = 0;
}

uint64_t wal_gen(const wal *w) { return w->gen; }
uint64_t wal_bytes(const wal *w) { return w->off; }
uint64_t wal_syncs(const wal *w) { return w->syncs; }

/* ---- reading ---- */

int wal_reader_open(const char *dir, uint64_t gen, wal_reader **out, char *err, size_t errlen)
{
	*out = NULL;
	char path[4096];
	if (wal_path(dir, gen, path, sizeof path) != 0) {
		cartd_errmsg(err, errlen, "data dir path too long: %s", dir);
		return CARTD_EINVAL;
	}
	size_t plen = strlen(path);
	wal_reader *r = calloc(1, sizeof *r + plen + 1);
	if (!r) {
		cartd_errmsg(err, errlen, "out of memory reading %s", path);
		return CARTD_ENOMEM;
	}
	memcpy(r->path, path, plen + 1);
	r->gen = gen;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (r->fd < 0 && errno == ENOENT) {
		r->done = true;
	} else if (r->fd < 0 || fstat(r->fd, &st) != 0) {
		cartd_errmsg(err, errlen, "cannot read %s: %s", path, strerror(errno));
		wal_reader_close(r);
		return CARTD_ESTORAGE;
	} else {
		r->size = (uint64_t)st.st_size;
	}
	*out = r;
	return 0;
}

void wal_reader_close(wal_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r->recs);
	free(r);
}

uint64_t wal_reader_frames(const wal_reader *r) { return r->frames; }
uint64_t wal_reader_offset(const wal_reader *r) { return r->off; }

/* Reads exactly len bytes at off: 0, or an errno (EIO if the file ends). */
static int read_at(int fd, uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t k = pread(fd, p, len, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno;
		if (k == 0)
			return EIO;
		p += k;
		len -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* p grown to hold at least need elements of elem bytes (doubling), or NULL
 * with p and *cap untouched.  Never NULL on success, even for need 0 (an
 * empty first payload), so NULL always means out of memory. */
static void *regrow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (p && need <= *cap)
		return p;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c = c > SIZE_MAX / 4 / elem ? need : c * 2;
	void *np = realloc(p, c * elem);
	if (np)
		*cap = c;
	return np;
}

/* Parses a CRC-checked payload (the frame at frame_off) into records
 * appended to r->recs, pointing into it. */
static int parse_payload(wal_reader *r, const uint8_t *p, size_t len, uint32_t count,
                         size_t *nrecs, uint64_t frame_off, char *err, size_t errlen)
{
	buf_reader in;
	buf_reader_init(&in, p, len);
	for (uint32_t i = 0; i < count; i++) {
		db_record *nr = regrow(r->recs, &r->recs_cap, *nrecs + 1, sizeof *r->recs);
		if (!nr) {
			cartd_errmsg(err, errlen, "out of memory reading %s", r->path);
			return CARTD_ENOMEM;
		}
		r->recs = nr;
		const char *why = NULL;
		uint8_t kind, id_len;
		uint32_t val_len;
		const uint8_t *id, *val;
		crdt_id cid;
		if (buf_get_u8(&in, &kind) || buf_get_u8(&in, &id_len) ||
		    buf_get_u32le(&in, &val_len))
			why = "ends inside a record header";
		else if (kind != KIND_STATE && kind != KIND_DELTA)
			why = "holds a record of unknown kind";
		else if (buf_get_bytes(&in, id_len, &id) || buf_get_bytes(&in, val_len, &val))
			why = "ends inside a record";
		else if (crdt_id_make(&cid, (const char *)id, id_len) != 0)
			why = "holds an invalid cart id";
		if (why) {
			cartd_errmsg(err, errlen, "%s: frame at offset %llu %s (record %u)", r->path,
			             (unsigned long long)frame_off, why, i);
			return CARTD_EDATADIR;
		}
		r->recs[(*nrecs)++] = (db_record){ cid, val, val_len,
		                                   kind == KIND_STATE ? DB_STATE : DB_DELTA };
	}
	if (buf_left(&in)) {
		cartd_errmsg(err, errlen, "%s: frame at offset %llu has %zu bytes after its %u records",
		             r->path, (unsigned long long)frame_off, buf_left(&in), count);
		return CARTD_EDATADIR;
	}
	return 0;
}

/* Reads the frame at r->off into r->buf + at.  0 with *len set, 1 at the
 * end of the generation, or an error. */
static int read_frame(wal_reader *r, size_t at, size_t *len, uint32_t *count, char *err,
                      size_t errlen)
{
	uint8_t h[WAL_FRAME_HEADER];
	if (r->size - r->off < WAL_FRAME_HEADER)
		return 1;
	int e = read_at(r->fd, h, sizeof h, r->off);
	if (e)
		goto io;
	/* 24 bytes in hand: none of these reads can run short. */
	buf_reader hr;
	uint32_t magic = 0, plen = 0, nrec = 0, crc = 0;
	uint64_t gen = 0;
	buf_reader_init(&hr, h, sizeof h);
	buf_get_u32le(&hr, &magic);
	buf_get_u32le(&hr, &plen);
	buf_get_u64le(&hr, &gen);
	buf_get_u32le(&hr, &nrec);
	buf_get_u32le(&hr, &crc);
	if (magic != WAL_MAGIC || gen != r->gen || plen > WAL_MAX_FRAME ||
	    plen > r->size - r->off - WAL_FRAME_HEADER)
		return 1;
	uint8_t *nb = regrow(r->buf, &r->cap, at + plen, 1);
	if (!nb) {
		cartd_errmsg(err, errlen, "out of memory reading %s", r->path);
		return CARTD_ENOMEM;
	}
	r->buf = nb;
	if ((e = read_at(r->fd, r->buf + at, plen, r->off + WAL_FRAME_HEADER)) != 0)
		goto io;
	if (frame_crc(h, r->buf + at, plen) != crc)
		return 1;
	*len = plen;
	*count = nrec;
	return 0;
io:
	cartd_errmsg(err, errlen, "cannot read %s: %s", r->path, strerror(e));
	return CARTD_ESTORAGE;
}

/* A frame of the chunk being read: where its payload sits in r->buf. */
typedef struct chunk_frame {
	size_t at, len;
	uint32_t count;
	uint64_t off;
} chunk_frame;

int wal_reader_next(wal_reader *r, size_t max_bytes, const db_record **recs, size_t *n,
                    char *err, size_t errlen)
{
	chunk_frame *frames = NULL;
	size_t nframes = 0, frames_cap = 0, used = 0, nrecs = 0;
	int rc = 0;
	*recs = NULL;
	*n = 0;
	while (!r->done && (used == 0 || used < max_bytes)) {
		size_t len;
		uint32_t count;
		rc = read_frame(r, used, &len, &count, err, errlen);
		if (rc == 1) {
			r->done = true;
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (used > 0 && used + len > max_bytes)
			break;   /* read again as the first frame of the next chunk */
		chunk_frame *nf = regrow(frames, &frames_cap, nframes + 1, sizeof *frames);
		if (!nf) {
			cartd_errmsg(err, errlen, "out of memory reading %s", r->path);
			rc = CARTD_ENOMEM;
			break;
		}
		frames = nf;
		frames[nframes++] = (chunk_frame){ used, len, count, r->off };
		r->off += WAL_FRAME_HEADER + len;
		r->frames++;
		used += len;
	}
	/* The buffer no longer moves: the records may point into it. */
	for (size_t i = 0; !rc && i < nframes; i++)
		rc = parse_payload(r, r->buf + frames[i].at, frames[i].len, frames[i].count, &nrecs,
		                   frames[i].off, err, errlen);
	free(frames);
	if (rc)
		return rc;
	*recs = r->recs;
	*n = nrecs;
	return 0;
}
