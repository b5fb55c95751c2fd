/*
 * sim_oracle.h - what the simulator's clients were told, and the final
 * verdict on what the peers hold.
 *
 * Every local write is recorded when applied: the entries it created (its
 * delta's live entries) and the dots it removed (its delta's context minus
 * those entries).  A write is PENDING until its commit, then ACKED.  When
 * a peer crashes, each of its pending writes is settled by what reached
 * its disk: a remote persist may have written the cart, pending write
 * included, before the commit did (DURABLE: it survives, unacknowledged),
 * otherwise it is LOST and its dot may be reused with other content.
 *
 * The verdict (sim_oracle_check, after convergence) asserts:
 *   - all peers have identical bucket digests and byte-identical encodings
 *     of every cart, and every cart is valid;
 *   - every entry of an ACKED write is live everywhere, with its sku, kind
 *     and value, unless an ACKED or DURABLE write removed its dot, or
 *     deferred-removed it for its line (a remove under a token naming a dot
 *     that peer had not received);
 *   - no live entry has a removed dot, or one deferred for its line (nothing
 *     removed comes back), and every live entry is one some non-LOST write
 *     created, content and all;
 *   - on the hot cart, where clients only ever add, each line's quantity is
 *     exactly the sum of the ACKED adds and of the DURABLE (unacknowledged
 *     but landed) adds, clamped.
 */
#ifndef TESTS_SIM_ORACLE_H
#define TESTS_SIM_ORACLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"
#include "tests/sim_disk.h"

#define SIM_SKU_MAX 16u
#define SIM_NO_OP UINT32_MAX

enum sim_op_state { SIM_OP_PENDING, SIM_OP_ACKED, SIM_OP_DURABLE, SIM_OP_LOST };

/* One entry a write created. */
typedef struct sim_entry_rec {
	uint32_t cart;           /* index into the simulator's cart ids */
	uint32_t op;
	crdt_entry e;            /* dot, kind, value */
	uint8_t sku_len;
	char sku[SIM_SKU_MAX];
} sim_entry_rec;

/* One local write. */
typedef struct sim_op_rec {
	uint32_t cart;
	uint16_t peer;
	uint8_t state;           /* enum sim_op_state */
	uint8_t kind;            /* enum crdt_op_kind */
	uint64_t at;             /* virtual ms it was applied */
	uint32_t first, nentries;
	crdt_ctx removed;
	crdt_cart deferred;      /* the delta's deferred removes only (else empty) */
} sim_op_rec;

typedef struct sim_oracle {
	sim_op_rec *ops;
	size_t nops, ops_cap;
	sim_entry_rec *ent;
	size_t nent, ent_cap;
	crdt_ctx *removed;       /* per cart: dots removed by ACKED/DURABLE writes */
	crdt_cart *deferred;     /* per cart: their deferred removes, never settled */
	unsigned ncarts;
} sim_oracle;

/* A bounded text report: problems are counted, the first few described. */
typedef struct sim_report {
	char *buf;
	size_t cap, len;
	unsigned problems;
} sim_report;

void sim_report_init(sim_report *r, char *buf, size_t cap);
/* Appends one formatted line (a newline is added). */
void sim_say(sim_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Counts a problem and describes it while fewer than a dozen were. */
void sim_problem(sim_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int sim_oracle_init(sim_oracle *o, unsigned ncarts);
void sim_oracle_destroy(sim_oracle *o);
/* Records a write applied at peer to cart (an index) with this delta;
 * *op receives its number.  0 or CARTD_ENOMEM. */
int sim_oracle_applied(sim_oracle *o, unsigned cart, unsigned peer, uint8_t kind,
                       uint64_t now, const crdt_cart *delta, uint32_t *op);
/* The write's commit: it is acknowledged now.  0 or CARTD_ENOMEM. */
int sim_oracle_acked(sim_oracle *o, uint32_t op);
/* peer crashed: settles its pending writes against disk (cart ids by index).
 * 0 or an error decoding the disk. */
int sim_oracle_crashed(sim_oracle *o, unsigned peer, const sim_disk *disk,
                       char *const *cart_ids);
/* Carts of peer's latest LOST writes, newest first: up to cap into out;
 * returns how many. */
size_t sim_oracle_lost_carts(const sim_oracle *o, unsigned peer, uint32_t *out, size_t cap);
/* Counts of writes by state, for the statistics. */
void sim_oracle_counts(const sim_oracle *o, uint64_t count[4]);

/* True if c holds a live entry with dot d. */
bool sim_cart_has_live(const crdt_cart *c, crdt_dot d);
/* True if c defers the removal of dot d for line sku. */
bool sim_cart_defers(const crdt_cart *c, const char *sku, size_t len, crdt_dot d);
/* True if an ACKED or DURABLE write removed dot d of line sku of cart. */
bool sim_oracle_removed(const sim_oracle *o, unsigned cart, const char *sku, size_t len,
                        crdt_dot d);

#endif
