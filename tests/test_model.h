/*
 * test_model.h - a deliberately naive reference model of the cart CRDT, used
 * as the oracle of the property tests.
 *
 * The model remembers every dot ever created together with its entry (sku,
 * kind, value).  A replica's state is two sets of dots: the dots it has seen
 * and the dots it knows were removed; its live entries are seen minus
 * removed.  Joining two states is the union of both sets, which is exactly
 * what an observed-remove set means once every dot is unique.  A remove
 * under a token also names dots not seen yet, per sku (defer): once such a
 * dot is seen, it is removed if the model knows it as an entry of that sku.  Quantities are
 * recomputed from the live entries by the rule of DESIGN.md §3, and the
 * canonical encoding is produced straight from codec.h's grammar, without
 * any crdt/ code, so the implementation is compared byte for byte.
 */
#ifndef TEST_MODEL_H
#define TEST_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "crdt/cart.h"
#include "tests/test_bytes.h"

#define TM_MAX_REPLICAS 5
#define TM_MAX_COUNTER 1023
#define TM_WORDS ((TM_MAX_COUNTER + 1) / 64)
#define TM_MAX_SKUS 8

typedef struct tm_set {
	uint64_t w[TM_MAX_REPLICAS][TM_WORDS];
} tm_set;

typedef struct tm_state {
	tm_set seen;
	tm_set removed;
	tm_set defer[TM_MAX_SKUS];   /* disjoint from seen */
} tm_state;

typedef struct tm_entry {
	uint8_t sku;
	uint8_t kind;       /* CRDT_ADD or CRDT_SET */
	uint32_t value;
} tm_entry;

typedef struct tm_world {
	unsigned nrep;
	uint64_t ids[TM_MAX_REPLICAS];      /* distinct replica ids */
	unsigned nsku;
	const char *sku[TM_MAX_SKUS];
	uint64_t top[TM_MAX_REPLICAS];      /* highest counter created */
	tm_entry made[TM_MAX_REPLICAS][TM_MAX_COUNTER + 1];
} tm_world;

bool tm_has(const tm_set *s, unsigned r, uint64_t c);
void tm_put(tm_set *s, unsigned r, uint64_t c);
void tm_union(tm_set *dst, const tm_set *src);
bool tm_set_empty(const tm_set *s);

void tm_state_clear(tm_state *s);
void tm_join(const tm_world *w, tm_state *dst, const tm_state *src);
bool tm_live(const tm_state *s, unsigned r, uint64_t c);
/* Live entries of sku, and the line quantity by the rule (clamped). */
unsigned tm_nlive(const tm_world *w, const tm_state *s, unsigned sku);
uint32_t tm_qty(const tm_world *w, const tm_state *s, unsigned sku);

/* Local operations of replica r on state s; delta (may be NULL) receives
 * the operation's delta.  Inputs are assumed valid.  token NULL: no
 * client-supplied observed context. */
/* add returns false, changing nothing, when the line is full
 * (CRDT_MAX_LINE_ENTRIES live entries). */
bool tm_add(tm_world *w, tm_state *s, unsigned r, unsigned sku, uint32_t n, tm_state *delta);
void tm_set_qty(tm_world *w, tm_state *s, unsigned r, unsigned sku, uint32_t q, tm_state *delta);
void tm_remove(const tm_world *w, tm_state *s, unsigned sku, const tm_set *token, tm_state *delta);
void tm_clear(const tm_world *w, tm_state *s, const tm_set *token, tm_state *delta);

/* Canonical encoding of s by codec.h's grammar, appended to out. */
void tm_encode(const tm_world *w, const tm_state *s, tb *out);

/* T_ASSERTs that cart is valid and equals the model state s: identical
 * canonical bytes, same quantities.  what names the cart in messages. */
void tm_check(const tm_world *w, const tm_state *s, const crdt_cart *cart, const char *what);

#endif
