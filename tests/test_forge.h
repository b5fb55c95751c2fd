/*
 * test_forge.h - datagrams a key holder could send to a running peer,
 * sealed with the peer's own keyring file, for the tests that feed them to
 * cartd (check_drops.c, test_node_drops.c).
 */
#ifndef TEST_FORGE_H
#define TEST_FORGE_H

#include <stddef.h>
#include <stdint.h>

/* An AE_GROUPS of the default cluster ("cartd", 1024 buckets) with
 * first = 2^32 - 1, count 1 and a nonzero digest (its range wraps 32 bits:
 * it used to crash the receiver), sealed under the first key of key_file
 * as replica sender.  Writes it to out; returns its length.  Asserts. */
size_t tf_wrapping_groups(const char *key_file, uint64_t sender, uint8_t *out, size_t cap);

#endif
