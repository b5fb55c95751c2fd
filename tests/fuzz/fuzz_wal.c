/*
 * fuzz_wal.c - libFuzzer harness for the write-ahead log reader
 * (app/peer/wal.h: wal_reader_open, wal_reader_next), which reads files a
 * crash, a full disk or a bad disk may have left in any state.
 *
 * Input: one option byte, then the contents of a log file.
 *   bits 0-1  max_bytes for every wal_reader_next: 0, 64, 4096, SIZE_MAX
 *   bits 2-3  the generation read: 0, 1, 2, 2^64 - 1.  The file is written
 *             where that generation lives (wal-0 or wal-1), so frames the
 *             input stamps with another generation, 2 read as 0 or 0 read
 *             as 2 included, must end the generation.
 *   bit 4     before writing, give every frame-shaped piece of the file
 *             (header, then as many payload bytes as its length says, as
 *             far as they go) the CRC it should have, so that the fuzzer
 *             spends its time in the payload parser rather than guessing
 *             checksums.
 * An empty input is an empty file read as generation 0.
 *
 * Checks, aborting on a failure: every call returns 0 or CARTD_EDATADIR
 * (wal.h also allows CARTD_ESTORAGE and CARTD_ENOMEM, which a small file
 * nothing changes cannot honestly cause), and an error names the file; every
 * record is DB_STATE or DB_DELTA with an id crdt_check_id accepts, and its
 * id and value bytes are read (so ASan sees any that lie outside the
 * reader's memory); records, frames and calls are bounded by the file's
 * size, the end offset lies inside the file, and a reader at its end stays
 * there.  No file descriptor is leaked.  When the whole generation was
 * read without error, the records are appended again with wal_open and
 * wal_append (no sync), one frame per chunk, to the same generation of a
 * second directory, and read back: the same records in the same order,
 * one frame per append, ending where the writer ended.
 *
 * Both directories are made once, under $TMPDIR or /tmp, and removed at a
 * normal exit (a crash leaves them).  The second directory's file is
 * zeroed over what each round trip wrote, so every input starts from the
 * same files.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "app/peer/db.h"
#include "app/peer/wal.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                    \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz_wal: check failed: %s (%s:%d)\n", #cond, \
			        __FILE__, __LINE__);                                    \
			abort();                                                        \
		}                                                                   \
	} while (0)

#define OPT_FIX_CRC 0x10u

static const size_t max_bytes_of[4] = { 0, 64, 4096, SIZE_MAX };
static const uint64_t gen_of[4] = { 0, 1, 2, UINT64_MAX };

static char in_dir[64], rt_dir[64];

static void remove_dirs(void)
{
	const char *dirs[] = { in_dir, rt_dir };
	for (size_t d = 0; d < 2; d++) {
		char path[128];
		for (uint64_t g = 0; g < WAL_FILES; g++)
			if (wal_path(dirs[d], g, path, sizeof path) == 0)
				unlink(path);
		rmdir(dirs[d]);
	}
}

static void make_dirs(void)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(in_dir, sizeof in_dir, "%s/fuzz_wal.XXXXXX", tmp);
	snprintf(rt_dir, sizeof rt_dir, "%s/fuzz_wal.XXXXXX", tmp);
	CHECK(mkdtemp(in_dir) != NULL && mkdtemp(rt_dir) != NULL);
	atexit(remove_dirs);
}

/* The lowest free descriptor: the same before and after an input unless
 * one leaked (libFuzzer opens and keeps files between inputs). */
static int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
	return fd;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Gives each frame-shaped piece of f its CRC (wal.h: over the 20 header
 * bytes before the CRC, then the payload). */
static void fix_crcs(uint8_t *f, size_t size)
{
	size_t off = 0;
	while (size - off >= WAL_FRAME_HEADER) {
		uint8_t *h = f + off;
		size_t plen = get32(h + 4);
		if (plen > size - off - WAL_FRAME_HEADER)
			break;
		uLong c = crc32(0L, Z_NULL, 0);
		c = crc32(c, h, WAL_FRAME_HEADER - 4);
		c = crc32(c, h + WAL_FRAME_HEADER, (uInt)plen);
		put32(h + 20, (uint32_t)c);
		off += WAL_FRAME_HEADER + plen;
	}
}

static void write_file(const char *dir, uint64_t gen, const uint8_t *p, size_t len)
{
	char path[128];
	CHECK(wal_path(dir, gen, path, sizeof path) == 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	while (len > 0) {
		ssize_t k = write(fd, p, len);
		CHECK(k > 0 || (k < 0 && errno == EINTR));
		if (k > 0) {
			p += k;
			len -= (size_t)k;
		}
	}
	CHECK(close(fd) == 0);
}

/* Zeros over the first len bytes of gen's file under dir. */
static void zero_file(const char *dir, uint64_t gen, size_t len)
{
	char path[128];
	CHECK(wal_path(dir, gen, path, sizeof path) == 0);
	uint8_t *z = calloc(1, len ? len : 1);
	CHECK(z != NULL);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, z, len, 0) == (ssize_t)len);
	CHECK(close(fd) == 0);
	free(z);
}

/* The records read so far, copied out of the reader, and where each chunk
 * (one wal_reader_next) ends. */
typedef struct copy {
	db_record *recs;
	size_t n, cap;
	size_t *chunk_end;
	size_t nchunks, chunks_cap;
} copy;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t c = *cap ? *cap * 2 : 16;
	p = realloc(p, c * elem);
	CHECK(p != NULL);
	*cap = c;
	return p;
}

static void copy_add(copy *c, const db_record *r)
{
	c->recs = grow(c->recs, &c->cap, c->n + 1, sizeof *c->recs);
	char *id = malloc(r->id.len ? r->id.len : 1);
	uint8_t *val = malloc(r->val_len ? r->val_len : 1);
	CHECK(id != NULL && val != NULL);
	memcpy(id, r->id.s, r->id.len);
	if (r->val_len)
		memcpy(val, r->val, r->val_len);
	c->recs[c->n++] = (db_record){ crdt_id_of(id, r->id.len, r->id.hash), val, r->val_len,
	                               r->kind };
}

static void copy_end_chunk(copy *c)
{
	c->chunk_end = grow(c->chunk_end, &c->chunks_cap, c->nchunks + 1, sizeof *c->chunk_end);
	c->chunk_end[c->nchunks++] = c->n;
}

static void copy_free(copy *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free((char *)c->recs[i].id.s);
		free((uint8_t *)c->recs[i].val);
	}
	free(c->recs);
	free(c->chunk_end);
}

static bool same_record(const db_record *a, const db_record *b)
{
	return a->kind == b->kind && a->id.len == b->id.len && a->val_len == b->val_len &&
	       a->id.hash == b->id.hash && memcmp(a->id.s, b->id.s, a->id.len) == 0 &&
	       (a->val_len == 0 || memcmp(a->val, b->val, a->val_len) == 0);
}

/* The contract of one record from wal_reader_next. */
static void check_record(const db_record *r)
{
	CHECK(r->kind == DB_STATE || r->kind == DB_DELTA);
	CHECK(crdt_check_id(r->id.s, r->id.len) == 0);
	CHECK(r->id.hash == crdt_name_hash(r->id.s, r->id.len));
	volatile uint8_t sum = 0;
	for (size_t i = 0; i < r->id.len; i++)
		sum ^= (uint8_t)r->id.s[i];
	for (size_t i = 0; i < r->val_len; i++)
		sum ^= r->val[i];
	(void)sum;
}

/*
 * Reads generation gen under dir to its end or an error, checking every
 * record and copying them into out (if not NULL); file_size bounds what
 * may come out.  Returns the reader's result; *frames and *end_off get the
 * reader's counters at the end.
 */
static int read_all(const char *dir, uint64_t gen, size_t max_bytes, size_t file_size, copy *out,
                    uint64_t *frames, uint64_t *end_off)
{
	char err[256] = "", path[128];
	CHECK(wal_path(dir, gen, path, sizeof path) == 0);
	wal_reader *r = (wal_reader *)1;
	int rc = wal_reader_open(dir, gen, &r, err, sizeof err);
	CHECK(rc == 0 && r != NULL);
	size_t total = 0, calls = 0;
	for (;;) {
		const db_record *recs = (const db_record *)1;
		size_t n = 1;
		err[0] = '\0';
		rc = wal_reader_next(r, max_bytes, &recs, &n, err, sizeof err);
		CHECK(++calls <= file_size / WAL_FRAME_HEADER + 1);
		if (rc != 0) {
			/* wal.h allows CARTD_ESTORAGE and CARTD_ENOMEM too, but here
			 * the file is a few KiB that nothing changes while it is
			 * read, and the reader allocates a small multiple of its
			 * size: either would be a false report. */
			CHECK(rc == CARTD_EDATADIR);
			CHECK(strstr(err, path) != NULL);
			break;
		}
		if (n == 0) {
			/* The end stays the end. */
			CHECK(wal_reader_next(r, max_bytes, &recs, &n, err, sizeof err) == 0 && n == 0);
			break;
		}
		CHECK(recs != NULL);
		total += n;
		/* Each record takes its header's bytes of a payload, each frame
		 * its own header's. */
		CHECK(total <= file_size / WAL_RECORD_HEADER);
		for (size_t i = 0; i < n; i++) {
			check_record(&recs[i]);
			if (out)
				copy_add(out, &recs[i]);
		}
		if (out)
			copy_end_chunk(out);
	}
	*frames = wal_reader_frames(r);
	*end_off = wal_reader_offset(r);
	CHECK(*end_off <= file_size);
	CHECK(*frames <= file_size / WAL_FRAME_HEADER);
	wal_reader_close(r);
	return rc;
}

/* Appends the records, one frame per chunk they were read in, to gen of
 * the second directory, reads them back and compares. */
static void round_trip(const copy *c, uint64_t gen, size_t max_bytes)
{
	char err[256] = "";
	wal *w = NULL;
	CHECK(wal_open(rt_dir, gen, false, &w, err, sizeof err) == 0);
	size_t from = 0;
	for (size_t k = 0; k < c->nchunks; k++) {
		size_t to = c->chunk_end[k];
		CHECK(wal_append(w, c->recs + from, to - from, err, sizeof err) == 0);
		from = to;
	}
	uint64_t written = wal_bytes(w);
	wal_close(w);

	copy back = { 0 };
	uint64_t frames, end_off;
	CHECK(read_all(rt_dir, gen, max_bytes, (size_t)written, &back, &frames, &end_off) == 0);
	CHECK(frames == c->nchunks && end_off == written);
	CHECK(back.n == c->n);
	for (size_t i = 0; i < c->n; i++)
		CHECK(same_record(&back.recs[i], &c->recs[i]));
	copy_free(&back);
	zero_file(rt_dir, gen, (size_t)written);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!in_dir[0])
		make_dirs();
	int free_fd = lowest_free_fd();
	unsigned opt = size > 0 ? data[0] : 0;
	const uint8_t *file = size > 0 ? data + 1 : data;
	size_t fsize = size > 0 ? size - 1 : 0;
	size_t max_bytes = max_bytes_of[opt & 3];
	uint64_t gen = gen_of[(opt >> 2) & 3];

	uint8_t *f = malloc(fsize ? fsize : 1);
	CHECK(f != NULL);
	if (fsize)
		memcpy(f, file, fsize);
	if (opt & OPT_FIX_CRC)
		fix_crcs(f, fsize);
	write_file(in_dir, gen, f, fsize);
	free(f);

	copy c = { 0 };
	uint64_t frames, end_off;
	int rc = read_all(in_dir, gen, max_bytes, fsize, &c, &frames, &end_off);
	if (rc == 0 && c.n > 0)
		round_trip(&c, gen, max_bytes);
	copy_free(&c);
	CHECK(lowest_free_fd() == free_fd);
	return 0;
}
