/*
 * cert.h - peer certificates: a cluster signing key vouching for a peer's
 * two public keys.
 *
 * A certificate is WIRE_CERT_LEN bytes:
 *
 *   0   Ed25519 public key of the peer (32): verifies its HELLOs
 *   32  X25519 public key of the peer (32): key agreement (crypto_kx)
 *   64  Ed25519 signature (64) by a cluster key over
 *       "cartd-cert-v2" (13 bytes) || bytes 0..63
 *
 * A peer's id is the first 8 bytes, little-endian, of BLAKE2b-256 over
 * "cartd-peer-id" || bytes 0..63: it follows from the keys, so a peer
 * cannot claim another's id without that peer's secret keys.
 */
#ifndef NET_CERT_H
#define NET_CERT_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_CERT_LEN 128u
#define WIRE_CERT_SIGN_PK 0u
#define WIRE_CERT_KX_PK 32u
#define WIRE_CERT_SIG 64u

/* Id of the peer a certificate names; never 0 for a valid certificate
 * (wire_cert_verify refuses the one key pair in 2^64 whose id is 0). */
uint64_t wire_cert_id(const uint8_t cert[WIRE_CERT_LEN]);

/* Fills cert for the two public keys, signed with the 64-byte Ed25519
 * secret key cluster_sk. */
void wire_cert_sign(uint8_t cert[WIRE_CERT_LEN], const uint8_t sign_pk[32],
		    const uint8_t kx_pk[32], const uint8_t cluster_sk[64]);

/* 0 when one of the n trusted keys (32 bytes each, contiguous) signed cert
 * and its id is not 0; CARTD_ECERT otherwise. */
int wire_cert_verify(const uint8_t cert[WIRE_CERT_LEN], const uint8_t *trusted, size_t n);

#endif
