/* key.c: Ed25519 node keys and node-id text forms. No I/O; never prints a secret. */
#include "key.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "banned.h"

struct tr_key {
	uint8_t pk[TR_PK_BYTES];
	uint8_t *sk; /* crypto_sign_SECRETKEYBYTES, in guarded sodium memory */
};

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static int key_alloc(tr_key **out)
{
	if (sodium_init() < 0)
		return ENOMEM;
	tr_key *k = calloc(1, sizeof(*k));
	if (!k)
		return ENOMEM;
	k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!k->sk) {
		free(k);
		return ENOMEM;
	}
	*out = k;
	return 0;
}

int tr_key_new(tr_key **out)
{
	int rc = key_alloc(out);
	if (rc)
		return rc;
	crypto_sign_keypair((*out)->pk, (*out)->sk);
	return 0;
}

int tr_key_from_seed(const uint8_t seed[TR_SEED_BYTES], tr_key **out)
{
	int rc = key_alloc(out);
	if (rc)
		return rc;
	crypto_sign_seed_keypair((*out)->pk, (*out)->sk, seed);
	return 0;
}

void tr_key_destroy(tr_key **k)
{
	if (!k || !*k)
		return;
	sodium_free((*k)->sk); /* sodium_free wipes before freeing */
	free(*k);
	*k = NULL;
}

const uint8_t *tr_key_public(const tr_key *k)
{
	return k->pk;
}

void tr_key_seed(const tr_key *k, uint8_t seed[TR_SEED_BYTES])
{
	crypto_sign_ed25519_sk_to_seed(seed, k->sk);
}

void tr_key_sign(const tr_key *k, const void *msg, size_t len, uint8_t sig[TR_SIG_BYTES])
{
	crypto_sign_detached(sig, NULL, msg, len, k->sk);
}

#define ID_RAW 35 /* key + 3 check bytes = 280 bits = 56 base32 characters */

static void id_check(const uint8_t pk[TR_PK_BYTES], uint8_t check[3])
{
	static const char dom[] = "trestle.nodeid.v1";
	uint8_t h[crypto_generichash_BYTES_MIN]; /* libsodium's floor is 16 bytes: truncate */
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)dom, sizeof(dom));
	crypto_generichash_update(&st, pk, TR_PK_BYTES);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(check, h, 3);
}

/* base32 of n bytes where n*8 is a multiple of 5 */
static size_t b32_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	return o;
}

void tr_nodeid_format(const uint8_t pk[TR_PK_BYTES], char out[TR_NODEID_TEXT_SIZE])
{
	uint8_t raw[ID_RAW];
	char flat[56];
	memcpy(raw, pk, TR_PK_BYTES);
	id_check(pk, raw + TR_PK_BYTES);
	b32_encode(raw, ID_RAW, flat);
	size_t o = 0;
	for (int g = 0; g < 8; g++) {
		if (g)
			out[o++] = '-';
		memcpy(out + o, flat + g * 7, 7);
		o += 7;
	}
	out[o] = '\0';
}

int tr_nodeid_parse(const char *text, uint8_t pk[TR_PK_BYTES])
{
	uint8_t raw[ID_RAW];
	size_t nraw = 0, nchars = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (const char *s = text; *s; s++) {
		char c = *s;
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		const char *at =
		    (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7') ? strchr(b32, c) : NULL;
		if (!at || ++nchars > 56)
			return TR_EFORMAT;
		acc = (acc << 5) | (uint32_t)(at - b32);
		bits += 5;
		if (bits >= 8) {
			raw[nraw++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	if (nchars != 56)
		return TR_EFORMAT;
	uint8_t check[3];
	id_check(raw, check);
	if (memcmp(check, raw + TR_PK_BYTES, 3) != 0)
		return TR_EDIGEST;
	if (!crypto_core_ed25519_is_valid_point(raw))
		return TR_EFORMAT; /* right check, but no public key: made up, not mistyped */
	memcpy(pk, raw, TR_PK_BYTES);
	return 0;
}

int tr_key_curve_public(const uint8_t pk[TR_PK_BYTES], uint8_t curve[TR_PK_BYTES])
{
	return crypto_sign_ed25519_pk_to_curve25519(curve, pk) == 0 ? 0 : TR_EFORMAT;
}

int tr_key_curve_secret(const tr_key *k, uint8_t curve[TR_PK_BYTES])
{
	return crypto_sign_ed25519_sk_to_curve25519(curve, k->sk) == 0 ? 0 : TR_EFORMAT;
}

void tr_fingerprint_curve(const uint8_t curve[TR_PK_BYTES], char out[TR_FPR_TEXT_SIZE])
{
	static const char dom[] = "trestle.fingerprint.v2";
	uint8_t h[crypto_generichash_BYTES_MIN]; /* first 5 bytes used */
	char flat[8];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)dom, sizeof(dom));
	crypto_generichash_update(&st, curve, TR_PK_BYTES);
	crypto_generichash_final(&st, h, sizeof(h));
	b32_encode(h, 5, flat);
	memcpy(out, flat, 4);
	out[4] = '-';
	memcpy(out + 5, flat + 4, 4);
	out[9] = '\0';
}

void tr_fingerprint_format(const uint8_t pk[TR_PK_BYTES], char out[TR_FPR_TEXT_SIZE])
{
	/* over the X25519 form: the key a CURVE handshake (and ZAP) sees, so a node that
	 * dials in unknown can be shown by the fingerprint its admin reads out */
	uint8_t curve[TR_PK_BYTES];
	if (tr_key_curve_public(pk, curve) != 0)
		memset(curve, 0, sizeof(curve)); /* not a key (ids are checked on entry) */
	tr_fingerprint_curve(curve, out);
}
