/*
 * test_node.h - the test cases of the node suite (tests/check_node.c), one
 * file per unit: fault injection, logging, the command line, the UDP
 * adapter, a peer's write path and lifecycle, and keyed writes and
 * checkouts through the API on a peer.
 */
#ifndef TEST_NODE_H
#define TEST_NODE_H

#include <check.h>

TCase *node_fault_tcase(void);
TCase *node_log_tcase(void);
TCase *node_config_tcase(void);
TCase *node_config_bad_tcase(void);
TCase *node_udp_addr_tcase(void);
TCase *node_udp_sock_tcase(void);
TCase *node_peer_tcase(void);
TCase *node_idem_tcase(void);

#endif
