/*
 * check_node.c - the node suite: the app/ and net/ pieces around a cartd
 * peer that are not the engine or storage: fault injection (app/peer/fault.c),
 * log lines (app/shared/log.c), command-line parsing (app/config.c), the UDP
 * adapter (net/udp*.c), and the peer itself (app/node*.c) on a real loop,
 * socket and data dir.  The cases live in tests/test_node_*.c.
 */
#include <check.h>

#include "tests/test_node.h"

Suite *node_suite(void);

Suite *node_suite(void)
{
	Suite *s = suite_create("node");
	suite_add_tcase(s, node_fault_tcase());
	suite_add_tcase(s, node_log_tcase());
	suite_add_tcase(s, node_config_tcase());
	suite_add_tcase(s, node_config_bad_tcase());
	suite_add_tcase(s, node_udp_addr_tcase());
	suite_add_tcase(s, node_udp_sock_tcase());
	suite_add_tcase(s, node_peer_tcase());
	suite_add_tcase(s, node_idem_tcase());
	return s;
}
