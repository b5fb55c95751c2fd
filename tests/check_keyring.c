/*
 * check_keyring.c - tests of net/keyring and net/cert: the keyring text,
 * development identities, issued peers, certificates and revocations.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"
#include "net/cert.h"
#include "net/keyring.h"
#include "tests/test_wire.h"

Suite *keyring_suite(void);

static int parse_str(const char *text, wire_keyring **out)
{
	return wire_keyring_parse(text, strlen(text), out, NULL, 0);
}

/* text must be refused, leave no ring, and say `want` in its message,
 * which must not quote the line (values may be secrets). */
static void refused(const char *text, const char *want)
{
	wire_keyring *r = (wire_keyring *)(uintptr_t)1;
	char err[256] = "";
	ck_assert_int_eq(wire_keyring_parse(text, strlen(text), &r, err, sizeof err),
	                 CARTD_EKEYRING);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err, want) != NULL, "want \"%s\" in \"%s\"", want, err);
	ck_assert_msg(strstr(err, "frobnicate") == NULL && strstr(err, "AQ") == NULL,
	              "the message quotes the line: %s", err);
}

static void b64_of(const uint8_t *v, size_t n, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, v, n, sodium_base64_VARIANT_ORIGINAL);
}

START_TEST(test_generate_and_derive)
{
	char text[WIRE_KEYRING_TEXT_MAX];
	wire_keyring *r1 = NULL, *r2 = NULL;

	ck_assert_int_eq(wire_keyring_generate(text, sizeof text), 0);
	ck_assert_ptr_nonnull(strstr(text, "\ncluster-secret "));
	ck_assert_ptr_nonnull(strstr(text, "\ncluster-key "));
	ck_assert_ptr_nonnull(strstr(text, "\ntoken "));
	ck_assert_int_eq(parse_str(text, &r1), 0);
	ck_assert(wire_keyring_can_certify(r1));
	ck_assert(!wire_keyring_has_identity(r1));
	ck_assert_uint_eq(wire_keyring_self_id(r1), 0);
	ck_assert_ptr_null(wire_keyring_cert(r1));
	ck_assert_uint_eq(wire_keyring_token_count(r1), 1);
	ck_assert_ptr_nonnull(wire_keyring_token(r1, 0));
	ck_assert_ptr_null(wire_keyring_token(r1, 1));
	/* the same replica gets the same identity from the same ring */
	ck_assert_int_eq(parse_str(text, &r2), 0);
	ck_assert_int_eq(wire_keyring_derive_identity(r1, 42), 0);
	ck_assert_int_eq(wire_keyring_derive_identity(r2, 42), 0);
	ck_assert_uint_ne(wire_keyring_self_id(r1), 0);
	ck_assert_uint_eq(wire_keyring_self_id(r1), wire_keyring_self_id(r2));
	ck_assert_int_eq(wire_keyring_derive_identity(r1, 43), CARTD_EKEYRING);  /* has one */
	wire_keyring_free(r2);
	ck_assert_int_eq(parse_str(text, &r2), 0);
	ck_assert_int_eq(wire_keyring_derive_identity(r2, 43), 0);
	ck_assert_uint_ne(wire_keyring_self_id(r1), wire_keyring_self_id(r2));
	/* the certificate is the cluster's and names the id */
	size_t n;
	const uint8_t *trusted = wire_keyring_cluster_keys(r1, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(wire_cert_verify(wire_keyring_cert(r1), trusted, n), 0);
	ck_assert_uint_eq(wire_cert_id(wire_keyring_cert(r1)), wire_keyring_self_id(r1));
	wire_keyring_free(r1);
	wire_keyring_free(r2);
	wire_keyring_free(NULL);
	ck_assert_int_eq(wire_keyring_generate(text, 100), CARTD_ENOSPC);
}
END_TEST

/* A peer issued from a cluster keyring: its own identity, no cluster
 * secret, and it talks to a peer of the development keyring. */
START_TEST(test_issue)
{
	char cluster[512], issued[WIRE_KEYRING_TEXT_MAX], extra[128];
	wire_keyring *c = NULL, *p = NULL;
	uint64_t id = 0;
	uint8_t tok[32] = { 7 };
	char b64[64];

	b64_of(tok, 32, b64, sizeof b64);
	snprintf(extra, sizeof extra, "token %s\n", b64);
	tw_ring_text(1, extra, cluster, sizeof cluster);
	ck_assert_int_eq(parse_str(cluster, &c), 0);
	ck_assert_int_eq(wire_keyring_issue(c, issued, sizeof issued, &id), 0);
	ck_assert_ptr_null(strstr(issued, "cluster-secret"));
	ck_assert_ptr_nonnull(strstr(issued, b64));
	ck_assert_int_eq(parse_str(issued, &p), 0);
	ck_assert(wire_keyring_has_identity(p));
	ck_assert(!wire_keyring_can_certify(p));
	ck_assert_uint_eq(wire_keyring_self_id(p), id);
	ck_assert_int_eq(wire_keyring_issue(p, issued, sizeof issued, &id), CARTD_EKEYRING);
	ck_assert_mem_eq(wire_keyring_token(p, 0), tok, 32);
	wire_keyring_free(p);
	ck_assert_int_eq(wire_keyring_issue(c, issued, sizeof issued, &id), 0);
	tw_peer a, b;
	tw_make_text(&a, issued, 0, 3, NULL);
	tw_make(&b, 1, 77, 1, NULL);
	ck_assert_uint_eq(tw_id(&a), id);
	tw_shake(&a, &b);
	ck_assert_uint_eq(wire_session_epoch(b.w, id), 3);
	tw_free(&a);
	tw_free(&b);
	wire_keyring_free(c);
}
END_TEST

START_TEST(test_parse_forms)
{
	char text[WIRE_KEYRING_TEXT_MAX], base[512], b64[64];
	wire_keyring *c = NULL, *r = NULL;
	uint64_t id;

	tw_ring_text(1, NULL, base, sizeof base);
	ck_assert_int_eq(parse_str(base, &c), 0);
	ck_assert_int_eq(wire_keyring_issue(c, text, sizeof text, &id), 0);
	/* comments, blank lines, CRLF and blanks around entries */
	char *crlf = malloc(2 * strlen(text) + 64);
	size_t o = 0;
	o += (size_t)sprintf(crlf, "# top\r\n\r\n");
	for (const char *s = text; *s; s++) {
		if (*s == '\n')
			crlf[o++] = '\r';
		crlf[o++] = *s;
	}
	o += (size_t)sprintf(crlf + o, "   revoke 00000000000000ab  \r\n\t# done\n");
	ck_assert_int_eq(wire_keyring_parse(crlf, o, &r, NULL, 0), 0);
	ck_assert_uint_eq(wire_keyring_self_id(r), id);
	ck_assert(wire_keyring_revoked(r, 0xab));
	ck_assert(!wire_keyring_revoked(r, 0xac));
	ck_assert_uint_eq(wire_keyring_revoked_count(r), 1);
	wire_keyring_free(r);
	free(crlf);
	/* a public cluster-key listed besides the secret counts once */
	size_t n;
	const uint8_t *k = wire_keyring_cluster_keys(c, &n);
	b64_of(k, 32, b64, sizeof b64);
	snprintf(text, sizeof text, "%scluster-key %s\n", base, b64);
	ck_assert_int_eq(parse_str(text, &r), 0);
	wire_keyring_cluster_keys(r, &n);
	ck_assert_uint_eq(n, 1);
	wire_keyring_free(r);
	wire_keyring_free(c);
}
END_TEST

START_TEST(test_parse_rejects)
{
	char base[512], issued[WIRE_KEYRING_TEXT_MAX], text[4096], b64[128];
	wire_keyring *c = NULL, *r = (wire_keyring *)(uintptr_t)1;
	uint8_t raw[64] = { 1 };
	uint64_t id;

	tw_ring_text(1, NULL, base, sizeof base);
	ck_assert_int_eq(parse_str(base, &c), 0);
	ck_assert_int_eq(wire_keyring_issue(c, issued, sizeof issued, &id), 0);
	/* a version 1 keyring: a bare key */
	b64_of(raw, 32, b64, sizeof b64);
	snprintf(text, sizeof text, "# old\n%s\n", b64);
	refused(text, "line 2: a kind without a value (a version 1 keyring");
	/* unknown kind, bad base64, wrong sizes, junk after the value */
	snprintf(text, sizeof text, "%sfrobnicate %s\n", base, b64);
	refused(text, "line 3: unknown kind");
	snprintf(text, sizeof text, "%stoken %.40s!!!=\n", base, b64);
	refused(text, "line 3: token: not 32 bytes in base64");
	b64_of(raw, 31, b64, sizeof b64);
	snprintf(text, sizeof text, "%stoken %s\n", base, b64);
	refused(text, "line 3: token: not 32 bytes");
	b64_of(raw, 32, b64, sizeof b64);
	snprintf(text, sizeof text, "%stoken %s # primary\n", base, b64);
	refused(text, "line 3: token:");
	snprintf(text, sizeof text, "%stoken %s\ntoken %s\n", base, b64, b64);  /* twice */
	refused(text, "line 4: the same token key twice");
	snprintf(text, sizeof text, "%scluster-key %.20s\n", base, b64);
	refused(text, "line 3: cluster-key: not 32 bytes in base64");
	/* revocations: 16 hex digits, not zero */
	const char *bad_revokes[] = { "revoke 123\n", "revoke 000000000000000g\n",
	                              "revoke 0000000000000000\n", "revoke\n" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof text, "%s%s", base, bad_revokes[i]);
		refused(text, i < 3 ? "line 3: revoke: want a peer id of 16 hex digits"
		                    : "line 3: a kind without a value");
	}
	/* an identity without its certificate, or a certificate alone */
	const char *sec = strstr(issued, "peer-secret ");
	const char *cert = strstr(issued, "peer-cert ");
	ck_assert(sec && cert);
	snprintf(text, sizeof text, "%s%.*s", base, (int)(cert - sec), sec);
	refused(text, "a peer-secret without its peer-cert");
	snprintf(text, sizeof text, "%s%s", base, cert);
	refused(text, "a peer-cert without its peer-secret");
	snprintf(text, sizeof text, "%s%s%s", base, sec, sec);
	refused(text, "a second peer-secret");
	/* a certificate another cluster signed */
	char other[512];
	tw_ring_text(2, NULL, other, sizeof other);
	snprintf(text, sizeof text, "%s%s", other, sec);
	refused(text, "the peer-cert is not signed by a trusted cluster key");
	/* no trusted key at all */
	snprintf(text, sizeof text, "%s", sec);
	refused(text, "no cluster-key or cluster-secret");
	/* a certificate that does not match the secret: another issue's */
	char issued2[WIRE_KEYRING_TEXT_MAX];
	ck_assert_int_eq(wire_keyring_issue(c, issued2, sizeof issued2, &id), 0);
	snprintf(text, sizeof text, "%s%.*s%s", base, (int)(cert - sec), sec,
	         strstr(issued2, "peer-cert "));
	refused(text, "the peer-cert was issued for another peer-secret");
	refused("", "empty keyring");
	refused("# nothing here\n\n  \n", "no cluster-key or cluster-secret");
	ck_assert_int_eq(wire_keyring_parse(NULL, 0, &r, NULL, 0), CARTD_EKEYRING);
	ck_assert_int_eq(wire_keyring_parse("x", 1, NULL, NULL, 0), CARTD_EINVAL);
	/* NUL inside */
	memcpy(text, base, strlen(base) + 1);
	text[20] = '\0';
	ck_assert_int_eq(wire_keyring_parse(text, strlen(base), &r, NULL, 0), CARTD_EKEYRING);
	ck_assert_ptr_null(r);
	wire_keyring_free(c);
}
END_TEST

START_TEST(test_limits)
{
	char *text = malloc(1 << 20), base[512];
	size_t off;
	wire_keyring *r = NULL;

	tw_ring_text(1, NULL, base, sizeof base);
	off = (size_t)sprintf(text, "%s", base);
	for (unsigned i = 0; i < WIRE_REVOKED_MAX; i++)
		off += (size_t)sprintf(text + off, "revoke %016x\n", i + 1);
	ck_assert_int_eq(wire_keyring_parse(text, off, &r, NULL, 0), 0);
	ck_assert_uint_eq(wire_keyring_revoked_count(r), WIRE_REVOKED_MAX);
	ck_assert(wire_keyring_revoked(r, WIRE_REVOKED_MAX));
	wire_keyring_free(r);
	off += (size_t)sprintf(text + off, "revoke %016x\n", 0xffffff);
	ck_assert_int_eq(wire_keyring_parse(text, off, &r, NULL, 0), CARTD_EKEYRING);
	off = (size_t)sprintf(text, "%s", base);
	for (unsigned i = 0; i <= WIRE_TOKEN_KEYS_MAX; i++) {
		uint8_t k[32] = { (uint8_t)i, 1 };
		char b64[64];
		b64_of(k, 32, b64, sizeof b64);
		off += (size_t)sprintf(text + off, "token %s\n", b64);
	}
	ck_assert_int_eq(wire_keyring_parse(text, off, &r, NULL, 0), CARTD_EKEYRING);
	free(text);
}
END_TEST

START_TEST(test_cert_sign_verify)
{
	uint8_t cpk[32], csk[64], opk[32], osk[64], spk[32], ssk[64], kx[32] = { 9 };
	uint8_t cert[WIRE_CERT_LEN], trusted[64];

	crypto_sign_keypair(cpk, csk);
	crypto_sign_keypair(opk, osk);
	crypto_sign_keypair(spk, ssk);
	wire_cert_sign(cert, spk, kx, csk);
	ck_assert_mem_eq(cert, spk, 32);
	ck_assert_mem_eq(cert + 32, kx, 32);
	ck_assert_int_eq(wire_cert_verify(cert, cpk, 1), 0);
	ck_assert_int_eq(wire_cert_verify(cert, opk, 1), CARTD_ECERT);
	memcpy(trusted, opk, 32);
	memcpy(trusted + 32, cpk, 32);   /* rotation: the old and the new key */
	ck_assert_int_eq(wire_cert_verify(cert, trusted, 2), 0);
	for (size_t i = 0; i < WIRE_CERT_LEN; i++) {
		cert[i] ^= 1;
		ck_assert_int_eq(wire_cert_verify(cert, cpk, 1), CARTD_ECERT);
		cert[i] ^= 1;
	}
}
END_TEST

Suite *keyring_suite(void)
{
	Suite *s = suite_create("keyring");
	TCase *tc = tcase_create("keyring");

	tcase_add_test(tc, test_generate_and_derive);
	tcase_add_test(tc, test_issue);
	tcase_add_test(tc, test_parse_forms);
	tcase_add_test(tc, test_parse_rejects);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_cert_sign_verify);
	suite_add_tcase(s, tc);
	return s;
}
