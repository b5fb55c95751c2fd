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
 *     but landed) adds, clamped, a keyed request counting once however
 *     many of its attempts were applied;
 *   - keyed requests and checkouts (sim_marks.c has the list).
 *
 * Keyed requests and checkouts are also recorded as requests (sim_req):
 * one request, many attempts at any peers, each attempt that applied a
 * write being an op that names its request.
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
	uint32_t req;            /* the request it is an attempt of, or SIM_NO_OP */
	crdt_ctx removed;
	crdt_cart deferred;      /* the delta's deferred removes only (else empty) */
} sim_op_rec;

/* What the client of a request heard first. */
enum sim_answer { SIM_ANS_NONE, SIM_ANS_OK, SIM_ANS_REPLAY, SIM_ANS_REFUSED };
#define SIM_REQ_HEDGE 1u     /* first attempt sent to two peers at once */
#define SIM_REQ_TOKREM 2u    /* retried elsewhere while a remove runs under a
                              * token read after the first attempt */
#define SIM_REQ_TOKREM_DONE 4u

/* A request sent with an idempotency key (retried with the same key and
 * the same content until answered), or a checkout with or without one. */
typedef struct sim_req {
	uint32_t cart;
	uint32_t key_of;         /* the request whose key string it uses (itself,
	                          * or an earlier one: a reused key) */
	uint8_t kind;            /* enum crdt_op_kind */
	uint8_t sku_len;
	uint8_t answer;          /* enum sim_answer */
	uint8_t flags;           /* SIM_REQ_* */
	bool keyed, has_token;
	char sku[SIM_SKU_MAX];
	uint32_t qty;
	uint16_t attempts, applied;  /* made; applied a write */
	uint16_t last_peer;
	crdt_ctx token;          /* REMOVE, CLEAR, CLOSE: the client's token */
	crdt_ctx seen;           /* SIM_REQ_TOKREM: token read after attempt 1 */
	crdt_keyrec rec;         /* hash and dot (times: each attempt's own) */
	crdt_dot order;          /* keyed CLOSE: id of the order first answered */
} sim_req;

/* An applied checkout: its delta (marker, id and key dots) as made, and
 * the dots its order was taken over (the token, or the peer's context). */
typedef struct sim_close_rec {
	uint32_t op;
	crdt_cart delta;
	crdt_ctx covered;
} sim_close_rec;

/* A remove (op) under a token that saw one attempt of request req. */
typedef struct sim_tokrem {
	uint32_t op, req;
} sim_tokrem;

typedef struct sim_oracle {
	sim_op_rec *ops;
	size_t nops, ops_cap;
	sim_entry_rec *ent;
	size_t nent, ent_cap;
	crdt_ctx *removed;       /* per cart: dots removed by ACKED/DURABLE writes */
	crdt_cart *deferred;     /* per cart: their deferred removes, never settled */
	unsigned ncarts;
	sim_req *reqs;
	size_t nreqs, reqs_cap;
	sim_close_rec *closes;
	size_t ncloses, closes_cap;
	sim_tokrem *tokrem;
	size_t ntokrem, tokrem_cap;
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

/* Requests and checkouts (sim_oracle_req.c).  req_add takes the request
 * (its contexts included) and gives its number in *idx; close_add records
 * checkout op with its delta and covered dots (both copied); tokrem_add
 * records a remove under a token that saw request req.  0 or CARTD_ENOMEM.
 * req_survives: some attempt of request req is ACKED or DURABLE.
 * marks_destroy frees all three, leaving the oracle to be cleared
 * (sim_oracle_destroy calls it). */
int sim_oracle_req_add(sim_oracle *o, sim_req *r, uint32_t *idx);
int sim_oracle_close_add(sim_oracle *o, uint32_t op, const crdt_cart *delta,
                         const crdt_ctx *covered);
int sim_oracle_tokrem_add(sim_oracle *o, uint32_t op, uint32_t req);
bool sim_oracle_req_survives(const sim_oracle *o, uint32_t req);
void sim_oracle_marks_destroy(sim_oracle *o);
/* Grows *arr (of *cap elements of size bytes) to hold need.  0 or
 * CARTD_ENOMEM. */
int sim_grow(void **arr, size_t *cap, size_t need, size_t size);

/* True if c holds a live entry with dot d. */
bool sim_cart_has_live(const crdt_cart *c, crdt_dot d);
/* True if c defers the removal of dot d for line sku. */
bool sim_cart_defers(const crdt_cart *c, const char *sku, size_t len, crdt_dot d);
/* True if an ACKED or DURABLE write removed dot d of line sku of cart. */
bool sim_oracle_removed(const sim_oracle *o, unsigned cart, const char *sku, size_t len,
                        crdt_dot d);

#endif
