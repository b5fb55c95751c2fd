/*
 * test_forge.c - hostile datagrams sealed with a real keyring (see
 * test_forge.h).
 */
#include "tests/test_forge.h"

#include <check.h>
#include <stdio.h>

#include "crdt/buf.h"
#include "net/keyring.h"
#include "net/msg.h"
#include "net/wire.h"

size_t tf_wrapping_groups(const char *key_file, uint64_t sender, uint8_t *out, size_t cap)
{
	FILE *f = fopen(key_file, "r");
	ck_assert_msg(f != NULL, "%s: cannot open", key_file);
	char text[4096];
	size_t n = fread(text, 1, sizeof text, f);
	fclose(f);
	wire_keyring *ring;
	ck_assert_int_eq(wire_keyring_parse(text, n, &ring), 0);
	wire_config wc;
	wire_config_init(&wc);
	wc.sender_id = sender;
	wc.boot_epoch = 1;
	wc.cluster_tag = wire_cluster_tag("cartd");
	wire *w;
	ck_assert_int_eq(wire_new(&wc, ring, &w), 0);
	buf_writer b;
	buf_writer_init(&b);
	buf_put_u32le(&b, 1);             /* round */
	buf_put_u32le(&b, 1024);          /* --buckets default */
	buf_put_u32le(&b, UINT32_MAX);    /* first */
	buf_put_u8(&b, 1);                /* count, u16 */
	buf_put_u8(&b, 0);
	buf_put_u64le(&b, 0x0123456789abcdefull);
	size_t len;
	ck_assert_int_eq(wire_seal(w, MSG_AE_GROUPS, b.data, b.len, out, cap, &len), 0);
	buf_writer_destroy(&b);
	wire_free(w);
	wire_keyring_free(ring);
	return len;
}
