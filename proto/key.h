/* key.h: node keys and the text forms of node ids.
 *
 * A node key is an Ed25519 key pair (libsodium). Its public key is the node's id. The
 * secret half lives in sodium_malloc'd memory, is never printed, and is wiped when the
 * key is destroyed. Loading and saving the key file is node/keyfile.h's business; this
 * file does no I/O.
 *
 * Text form of a node id (proto/SPEC.md, "Node ids"): base32 (RFC 4648 alphabet,
 * lower case) of the 32-byte public key followed by a 3-byte check (BLAKE2b), which is
 * 56 characters, written in 8 groups of 7 joined by '-'. The check catches a mistyped or
 * misread character. The fingerprint is 8 base32 characters of a BLAKE2b digest of the
 * key's X25519 form (the key ZeroMQ's CURVE handshake sees), written "xxxx-xxxx": short
 * enough to read over the phone, and computable from a peer that dials in.
 */
#ifndef TR_KEY_H
#define TR_KEY_H

#include <stddef.h>
#include <stdint.h>

#define TR_PK_BYTES 32
#define TR_SEED_BYTES 32
#define TR_SIG_BYTES 64
#define TR_NODEID_TEXT_SIZE 64 /* 56 characters, 7 dashes, NUL */
#define TR_FPR_TEXT_SIZE 10    /* "xxxx-xxxx" and NUL */

typedef struct tr_key tr_key;

/* A new random key, or one from a 32-byte seed. 0, ENOMEM. *out is the caller's. */
int tr_key_new(tr_key **out);
int tr_key_from_seed(const uint8_t seed[TR_SEED_BYTES], tr_key **out);
void tr_key_destroy(tr_key **k); /* wipes and frees, sets *k = NULL; NULL-safe */

/* Borrowed for the life of k. */
const uint8_t *tr_key_public(const tr_key *k);
/* Copies the seed out (to be saved); the caller wipes it with sodium_memzero. */
void tr_key_seed(const tr_key *k, uint8_t seed[TR_SEED_BYTES]);
void tr_key_sign(const tr_key *k, const void *msg, size_t len, uint8_t sig[TR_SIG_BYTES]);

/* Writes the grouped text form of pk into out (TR_NODEID_TEXT_SIZE bytes). */
void tr_nodeid_format(const uint8_t pk[TR_PK_BYTES], char out[TR_NODEID_TEXT_SIZE]);
/* Parses a node id; dashes and spaces are ignored, case does not matter. 0, or
 * TR_EFORMAT (wrong length or character, or not a valid public key) or TR_EDIGEST
 * (check does not match: a typo). */
int tr_nodeid_parse(const char *text, uint8_t pk[TR_PK_BYTES]);
void tr_fingerprint_format(const uint8_t pk[TR_PK_BYTES], char out[TR_FPR_TEXT_SIZE]);
/* The same fingerprint from an X25519 (CURVE) public key. */
void tr_fingerprint_curve(const uint8_t curve[TR_PK_BYTES], char out[TR_FPR_TEXT_SIZE]);
/* The X25519 form of a node's Ed25519 public key (libsodium's conversion): the node's
 * CURVE key on the wire. 0, or TR_EFORMAT if pk is not a valid key. */
int tr_key_curve_public(const uint8_t pk[TR_PK_BYTES], uint8_t curve[TR_PK_BYTES]);
/* The node key's X25519 secret (for CURVE); the caller wipes it after use. */
int tr_key_curve_secret(const tr_key *k, uint8_t curve[TR_PK_BYTES]);

#endif
