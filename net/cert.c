/*
 * cert.c - signing and verifying peer certificates (see cert.h).
 */
#include "net/cert.h"

#include <string.h>

#include <sodium.h>

#include "crdt/error.h"

static const char cert_ctx[] = "cartd-cert-v2";   /* 13 bytes, no NUL */
static const char id_ctx[] = "cartd-peer-id";

_Static_assert(crypto_sign_BYTES == 64 && crypto_sign_PUBLICKEYBYTES == 32, "sizes");
_Static_assert(crypto_kx_PUBLICKEYBYTES == 32, "sizes");

uint64_t wire_cert_id(const uint8_t cert[WIRE_CERT_LEN])
{
	crypto_generichash_state st;
	uint8_t h[crypto_generichash_BYTES];
	uint64_t id = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const uint8_t *)id_ctx, sizeof id_ctx - 1);
	crypto_generichash_update(&st, cert, WIRE_CERT_SIG);
	crypto_generichash_final(&st, h, sizeof h);
	for (int i = 7; i >= 0; i--)
		id = id << 8 | h[i];
	return id;
}

/* The signed message: context string then both public keys. */
static void signed_msg(uint8_t m[sizeof cert_ctx - 1 + WIRE_CERT_SIG], const uint8_t *cert)
{
	memcpy(m, cert_ctx, sizeof cert_ctx - 1);
	memcpy(m + sizeof cert_ctx - 1, cert, WIRE_CERT_SIG);
}

void wire_cert_sign(uint8_t cert[WIRE_CERT_LEN], const uint8_t sign_pk[32],
		    const uint8_t kx_pk[32], const uint8_t cluster_sk[64])
{
	uint8_t m[sizeof cert_ctx - 1 + WIRE_CERT_SIG];

	memcpy(cert + WIRE_CERT_SIGN_PK, sign_pk, 32);
	memcpy(cert + WIRE_CERT_KX_PK, kx_pk, 32);
	signed_msg(m, cert);
	crypto_sign_detached(cert + WIRE_CERT_SIG, NULL, m, sizeof m, cluster_sk);
}

int wire_cert_verify(const uint8_t cert[WIRE_CERT_LEN], const uint8_t *trusted, size_t n)
{
	uint8_t m[sizeof cert_ctx - 1 + WIRE_CERT_SIG];

	if (wire_cert_id(cert) == 0)
		return CARTD_ECERT;
	signed_msg(m, cert);
	for (size_t i = 0; i < n; i++)
		if (crypto_sign_verify_detached(cert + WIRE_CERT_SIG, m, sizeof m,
						trusted + 32 * i) == 0)
			return 0;
	return CARTD_ECERT;
}
