/*
 * test_util.h - small cart helpers shared by the CRDT test suites: quantity
 * lookup by C string, checked joins and operations, canonical bytes, and
 * the convergence check (equal carts with identical encodings).
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"
#include "crdt/cart_id.h"
#include "tests/test_bytes.h"

/* Quantity of sku in c, 0 if there is no line. */
uint32_t tu_qty(const crdt_cart *c, const char *sku);
/* Live entries of sku in c, 0 if there is no line. */
unsigned tu_entries(const crdt_cart *c, const char *sku);

/* Operations on NUL-terminated skus; they assert success. */
void tu_add(crdt_cart *c, uint64_t self, const char *sku, uint32_t n, crdt_cart *delta);
void tu_set(crdt_cart *c, uint64_t self, const char *sku, uint32_t q, crdt_cart *delta);
void tu_remove(crdt_cart *c, const char *sku, const crdt_ctx *observed, crdt_cart *delta);
void tu_clear(crdt_cart *c, const crdt_ctx *observed, crdt_cart *delta);
/* dst ⊔= src; asserts success and validity; returns the changed flag. */
bool tu_join(crdt_cart *dst, const crdt_cart *src);
/* Joins src into dst and asserts that dst's content did not change (the
 * changed flag is not consulted: the props suite tests it on its own). */
void tu_join_noop(crdt_cart *dst, const crdt_cart *src, const char *what);
/* A fresh deep copy (caller destroys). */
crdt_cart tu_copy(const crdt_cart *c);

/* Canonical encoding of c into out (out is reset first). */
void tu_encode(const crdt_cart *c, tb *out);
bool tu_same_bytes(const crdt_cart *a, const crdt_cart *b);
/* Asserts a and b are valid, crdt_cart_equal and encode identically. */
void tu_assert_converged(const crdt_cart *a, const crdt_cart *b, const char *what);
/* Asserts c is the empty cart. */
void tu_assert_empty(const crdt_cart *c, const char *what);

/* The crdt_id of cart id s (NUL-terminated), or of its first len bytes;
 * asserts that the id passes the check. */
crdt_id tu_id(const char *s);
crdt_id tu_idn(const char *s, size_t len);
/* The same as a pointer to a compound literal, for calls that take one. */
#define TU_ID(str) (&(crdt_id){ .s = (str), .len = strlen(str), .hash = tu_id(str).hash })
#define TU_IDN(str, n) (&(crdt_id){ .s = (str), .len = (n), .hash = tu_idn((str), (n)).hash })

#endif
