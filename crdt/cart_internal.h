/*
 * cart_internal.h - helpers shared by the cart's implementation files
 * (cart.c, cart_ops.c, join.c, split.c, codec.c), and the one join the
 * store makes differently (cart_join_known).  Not part of the API.
 */
#ifndef CRDT_CART_INTERNAL_H
#define CRDT_CART_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"

/* Frees a line's sku and entries and zeroes it. */
void cart_line_free(crdt_line *l);
/* Initialises l with a copy of sku and of n entries.  0 or CARTD_ENOMEM
 * (then l holds nothing to free). */
int cart_line_init(crdt_line *l, const char *sku, size_t len,
                   const crdt_entry *e, uint16_t n);
/* Sets l's entries to a copy of e[0..n) (n may be 0 or 1: stored inline);
 * l's previous entry storage is NOT freed.  0 or CARTD_ENOMEM. */
int cart_line_set_entries(crdt_line *l, const crdt_entry *e, uint16_t n);
/* Inserts a new line of sku holding e[0..k) at index ai (where
 * cart_find_index put it).  0 or CARTD_ENOMEM (c unchanged, but for spare
 * room in its line array). */
int cart_insert_line(crdt_cart *c, long ai, const char *sku, size_t len, const crdt_entry *e,
                     uint16_t k);
/* Binary search by sku: the index of the line (found = true) or where it
 * would be inserted. */
long cart_find_index(const crdt_cart *c, const char *sku, size_t len, bool *found);

/* Deferred removes (cart.h).  alloc: n initialised, zeroed slots, ->n = 0
 * (the caller counts what it fills), or NULL.  free: frees every slot below
 * ->n and the block; NULL-safe. */
crdt_defers *cart_defers_alloc(uint32_t n);
void cart_defers_free(crdt_defers *d);
/* Initialises d with copies of sku and dots.  0 or CARTD_ENOMEM (d then
 * holds nothing to free). */
int cart_defer_init(crdt_defer *d, const char *sku, size_t len, const crdt_ctx *dots);
/* *out := deep copy of src (NULL stays NULL).  0 or CARTD_ENOMEM. */
int cart_defers_copy(crdt_defers **out, const crdt_defers *src);
/* The deferred remove of sku in d (may be NULL), or NULL. */
const crdt_defer *cart_find_defer(const crdt_defers *d, const char *sku, size_t len);

/* The operations' deltas, built without touching c (cart_ops.c): d is
 * initialised here and holds the delta on success (empty when the
 * operation changes nothing), nothing on error.  add/set write their entry
 * at dot.  next_dot: the next dot self makes in c, or CARTD_ECOUNTER. */
int cart_next_dot(const crdt_cart *c, uint64_t self, crdt_dot *out);
int cart_build_add(const crdt_cart *c, crdt_dot dot, const char *sku, size_t len,
                   uint32_t n, crdt_cart *d);
/* What an add of n of sku must pass, in order (CARTD_ESKU, CARTD_EQTY,
 * CARTD_ELINEFULL, CARTD_ELINES), and where its line is or would go (*ai,
 * *found: cart_find_index).  0 when it may be made. */
int cart_check_add(const crdt_cart *c, const char *sku, size_t len, uint32_t n, long *ai,
                   bool *found);
int cart_build_set(const crdt_cart *c, crdt_dot dot, const char *sku, size_t len,
                   uint32_t q, crdt_cart *d);
int cart_build_remove(const crdt_cart *c, const char *sku, size_t len,
                      const crdt_ctx *observed, crdt_cart *d);
int cart_build_clear(const crdt_cart *c, const crdt_ctx *observed, crdt_cart *d);

/* The unkeyed add of n of sku by self, written into c in place (cart_add.c):
 * for a cart with no deferred removes, c and the delta end exactly as
 * cart_build_add and a join of its delta leave them, with the same errors
 * (c unchanged on error).  delta: empty, or NULL when not wanted; holds
 * the delta on success. */
int cart_add_in_place(crdt_cart *c, uint64_t self, const char *sku, size_t len, uint32_t n,
                      crdt_cart *delta);
/* The join of src into dst, in place (cart_add.c), when src has exactly one
 * line, neither has deferred removes, and src's context shares no dot with
 * dst's: 1 when done (dst changed), 0 when a decode limit needs the general
 * join, CARTD_ENOMEM (dst unchanged). */
int cart_join_disjoint_line(crdt_cart *dst, const crdt_cart *src);
/* crdt_cart_join for a caller that has asked crdt_ctx_disjoint(&src->ctx,
 * &dst->ctx) already: disjoint is its answer, which the join would
 * otherwise ask again (the store asks it of every delta, for the digest). */
int cart_join_known(crdt_cart *dst, const crdt_cart *src, bool disjoint, bool *changed);
/* Sets l's quantity (<= CRDT_MAX_QTY); recounts it from its entries. */
void cart_line_set_qty(crdt_line *l, uint32_t q);
void cart_line_count(crdt_line *l);

/* Idempotency records (keys.c).  alloc: n zeroed records, ->n = n, or
 * NULL.  join: *out := a ⊔ b (union, then the prune rule of cart.h), or
 * NULL with *changed false when the result is a itself (and NULL with
 * *changed true when nothing is left); 0 or CARTD_ENOMEM.  lookup:
 * CARTD_EIDEMPOTENT (a record of want's hash and dot), CARTD_EKEYREUSED
 * (one of its hash and another dot, kept until at least want->at_ms), or 0.
 * cmp: the identity order (hash, dot, at_ms, until_ms). */
crdt_keys *cart_keys_alloc(uint32_t n);
int cart_keyrec_cmp(const crdt_keyrec *a, const crdt_keyrec *b);
int cart_keys_join(const crdt_keys *a, const crdt_keys *b, crdt_keys **out, bool *changed);
int cart_keys_copy(crdt_keys **out, const crdt_keys *src);
bool cart_keys_equal(const crdt_keys *a, const crdt_keys *b);
bool cart_keys_valid(const crdt_keys *k);
int cart_keys_lookup(const crdt_keys *k, const crdt_keyrec *want);

/* Close markers (closes.c), likewise: alloc gives n zeroed markers with
 * ->n = n; join: *out := a ⊔ b, NULL when that is a itself; CARTD_ELIMIT
 * when the union exceeds CRDT_MAX_CLOSES markers or a marker's total.
 * cmp: the identity order (id, key, at_ms, total). */
#define CRDT_DECODE_MAX_CLOSE_ENTRIES (1u << 24)
crdt_closes *cart_closes_alloc(uint32_t n);
void cart_closes_free(crdt_closes *c);
int cart_close_cmp(const crdt_close *a, const crdt_close *b);
int cart_close_copy(crdt_close *dst, const crdt_close *src);
int cart_closes_copy(crdt_closes **out, const crdt_closes *src);
bool cart_closes_equal(const crdt_closes *a, const crdt_closes *b);
bool cart_close_valid(const crdt_close *m);
bool cart_closes_valid(const crdt_closes *c);
int cart_closes_join(const crdt_closes *a, const crdt_closes *b, crdt_closes **out,
                     bool *changed);

#endif
