/*
 * cart_internal.h - helpers shared by the cart's implementation files
 * (cart.c, cart_ops.c, join.c, split.c, codec.c).  Not part of the API.
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

#endif
