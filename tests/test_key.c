/* test_key: node ids round-trip through their text form, and a typo is caught. */
#include "tests/tr_test.h"

#include <sodium.h>

#include "proto/error.h"
#include "proto/key.h"

#include <stdlib.h>

#define TR_TEST_NODEID "aoqqpp7-tzyil4h-lq3umoo-s6atft6-jvrqtos-q2xy53s-dgiesvg-g4ldwbq"
#define TR_TEST_FPR "jt3i-z2zo"

int main(void)
{
	uint8_t seed[TR_SEED_BYTES];
	for (int i = 0; i < TR_SEED_BYTES; i++)
		seed[i] = (uint8_t)i;
	tr_key *k = NULL;
	CHECK_INT(tr_key_from_seed(seed, &k), 0);
	char id[TR_NODEID_TEXT_SIZE], fpr[TR_FPR_TEXT_SIZE];
	tr_nodeid_format(tr_key_public(k), id);
	tr_fingerprint_format(tr_key_public(k), fpr);
	/* known answers (proto/SPEC.md, "Node ids"): seed 00 01 .. 1f */
	if (getenv("TR_PRINT"))
		printf("%s %s\n", id, fpr);
	CHECK_STR(id, TR_TEST_NODEID);
	CHECK_STR(fpr, TR_TEST_FPR);
	CHECK_INT(strlen(id), 63);

	uint8_t pk[TR_PK_BYTES];
	CHECK_INT(tr_nodeid_parse(id, pk), 0);
	CHECK(memcmp(pk, tr_key_public(k), TR_PK_BYTES) == 0);

	char upper[TR_NODEID_TEXT_SIZE];
	for (size_t i = 0; i < sizeof(upper); i++)
		upper[i] = (char)((id[i] >= 'a' && id[i] <= 'z') ? id[i] - 32 : id[i]);
	CHECK_INT(tr_nodeid_parse(upper, pk), 0);

	char typo[TR_NODEID_TEXT_SIZE];
	memcpy(typo, id, sizeof(typo));
	typo[10] = typo[10] == 'a' ? 'b' : 'a';
	CHECK_INT(tr_nodeid_parse(typo, pk), TR_EDIGEST);
	CHECK_INT(tr_nodeid_parse("abc", pk), TR_EFORMAT);
	CHECK_INT(
	    tr_nodeid_parse("0000000-0000000-0000000-0000000-0000000-0000000-0000000-0000000", pk),
	    TR_EFORMAT); /* 0 is not in the alphabet */

	/* the fingerprint is the same from the X25519 form a CURVE peer presents */
	uint8_t curve[TR_PK_BYTES];
	char fpr2[TR_FPR_TEXT_SIZE];
	CHECK_INT(tr_key_curve_public(tr_key_public(k), curve), 0);
	tr_fingerprint_curve(curve, fpr2);
	CHECK_STR(fpr2, fpr);

	/* 32 bytes with a right check that are no public key: refused, not a typo */
	uint8_t notkey[TR_PK_BYTES];
	char madeup[TR_NODEID_TEXT_SIZE];
	do
		randombytes_buf(notkey, sizeof(notkey));
	while (crypto_core_ed25519_is_valid_point(notkey));
	tr_nodeid_format(notkey, madeup);
	CHECK_INT(tr_nodeid_parse(madeup, pk), TR_EFORMAT);
	CHECK(tr_key_curve_public(notkey, curve) != 0);

	uint8_t back[TR_SEED_BYTES];
	tr_key_seed(k, back);
	CHECK(memcmp(back, seed, sizeof(seed)) == 0);

	uint8_t sig[TR_SIG_BYTES];
	tr_key_sign(k, "msg", 3, sig);
	CHECK_INT(crypto_sign_verify_detached(sig, (const uint8_t *)"msg", 3, tr_key_public(k)), 0);
	tr_key_destroy(&k);
	CHECK(k == NULL);
	return tr_test_done();
}
