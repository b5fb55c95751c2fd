/*
 * test_node_peer.h - helpers shared by the peer test files
 * (test_node_peer.c, test_node_cluster.c).
 */
#ifndef TEST_NODE_PEER_H
#define TEST_NODE_PEER_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "app/peer/node.h"

/* A write's answer: calls counts done callbacks, rc is the last result. */
typedef struct tnp_done {
	int calls;
	int rc;
} tnp_done;

/* The test case's keyring file (mode 0600), made by the fixture. */
extern char tnp_key[128];

/* Unchecked fixture of a test case of peers: a new base dir and keyring,
 * removed afterwards. */
void tnp_fixture_setup(void);
void tnp_fixture_teardown(void);

/* Defaults for a test peer: data dir base/dir_name (written into dir),
 * the shared key, an ephemeral port on 127.0.0.1, fast timers. */
void tnp_config(node_config *c, const char *dir_name, char *dir, size_t dirlen);
/* node_write with a NUL-terminated cart and sku (sku may be NULL). */
int tnp_write(node *n, const char *cart, enum crdt_op_kind kind, const char *sku,
              uint32_t qty, tnp_done *d);
/* Turns the loop in 1 ms slices until cond(arg) holds or ~20 s passed;
 * returns cond's last value. */
bool tnp_run_until(struct event_base *b, bool (*cond)(void *), void *arg);
/* Quantity of sku in cart in n's store (0 if absent). */
uint32_t tnp_qty(const node *n, const char *cart, const char *sku);
/* A tnp_run_until condition: node n shows qty of sku in cart. */
typedef struct tnp_want {
	const node *n;
	const char *cart, *sku;
	uint32_t qty;
} tnp_want;
bool tnp_has_qty(void *arg);

/* test_node_cluster.c: tests with two peers in one loop. */
void tnp_add_cluster_tests(TCase *tc);
/* test_node_drops.c: log lines of dropped datagrams. */
void tnp_add_drop_tests(TCase *tc);

/* Two peers on one loop: A alone, then B seeded with A's bound address;
 * A has fault injection when faults (node_faults). */
typedef struct tnp_pair {
	struct event_base *base;
	node *a, *b;
	char dir_a[128], dir_b[128];
} tnp_pair;
void tnp_pair_start(tnp_pair *p, const char *tag, bool faults);
void tnp_pair_stop(tnp_pair *p);

#endif
