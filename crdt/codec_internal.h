/*
 * codec_internal.h - codec pieces shared by codec.c and codec_marks.c.
 * Not part of the API.
 */
#ifndef CRDT_CODEC_INTERNAL_H
#define CRDT_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/codec_raw.h"

/* Reads a count and checks it against limit and against the bytes left
 * (each item takes at least min_item bytes). */
int codec_get_count(buf_reader *r, uint64_t limit, size_t min_item, uint32_t *out);
/* Reads a line that sorts after prev (NULL for the first).  With ctx, every
 * entry's dot must be in it (a cart's live lines); NULL skips that check
 * (the frozen lines of a close marker). */
int codec_decode_line(buf_reader *r, const crdt_ctx *ctx, const crdt_line *prev,
                      crdt_line *out);

/* The format-3 sections after the deferred removes (codec_marks.c):
 * their exact encoded size, their raw encoding into s (a window of
 * codec_marks_size bytes, or one that drains), and their decoding into c
 * (which holds the rest of the cart already). */
size_t codec_marks_size(const crdt_cart *c);
void codec_sink_marks(raw_sink *s, const crdt_cart *c);
int codec_decode_marks(buf_reader *r, crdt_cart *c);

#endif
