/* test_mp: the canonical msgpack reader accepts exactly the smallest forms and never
 * reads past its input. */
#include "tests/tr_test.h"

#include <stdint.h>

#include "proto/error.h"
#include "proto/mp.h"

static int read_uint(const char *hex, size_t n, uint64_t *v)
{
	uint8_t b[16];
	for (size_t i = 0; i < n; i++) {
		unsigned x;
		sscanf(hex + 2 * i, "%2x", &x);
		b[i] = (uint8_t)x;
	}
	tr_mpr r;
	tr_mpr_init(&r, b, n);
	int rc = tr_mpr_uint(&r, v);
	if (!rc && tr_mpr_done(&r))
		return TR_EFORMAT;
	return rc;
}

static int read_int(const uint8_t *b, size_t n, int64_t *v)
{
	tr_mpr r;
	tr_mpr_init(&r, b, n);
	int rc = tr_mpr_int(&r, v);
	return rc ? rc : tr_mpr_done(&r);
}

int main(void)
{
	uint64_t u;
	int64_t i;
	CHECK_INT(read_uint("7f", 1, &u), 0);
	CHECK_INT(u, 127);
	CHECK_INT(read_uint("cc80", 2, &u), 0);
	CHECK_INT(u, 128);
	CHECK_INT(read_uint("cc7f", 2, &u), TR_ECANON);   /* 127 fits a fixint */
	CHECK_INT(read_uint("cd00ff", 3, &u), TR_ECANON); /* 255 fits uint8 */
	CHECK_INT(read_uint("ce0000ffff", 5, &u), TR_ECANON);
	CHECK_INT(read_uint("cf00000000ffffffff", 9, &u), TR_ECANON);
	CHECK_INT(read_uint("cf0000000100000000", 9, &u), 0);
	CHECK_INT(u, 0x100000000ull);
	CHECK_INT(read_uint("cd01", 2, &u), TR_EFORMAT); /* truncated */
	CHECK_INT(read_uint("d001", 2, &u), TR_ECANON);  /* int8 holding a positive value */
	CHECK_INT(read_uint("ff", 1, &u), TR_EFORMAT);   /* negative where uint expected */
	CHECK_INT(read_uint("c0", 1, &u), TR_EFORMAT);   /* nil */

	/* every integer written by the writer reads back, and is the smallest form */
	static const int64_t samples[] = {
	    0,      1,          127,       128,       255,           256,          65535,
	    65536,  4294967295, -1,        -32,       -33,           -128,         -129,
	    -32768, -32769,     INT64_MIN, INT64_MAX, -2147483648ll, -2147483649ll};
	for (size_t k = 0; k < sizeof(samples) / sizeof(samples[0]); k++) {
		tr_mpw w;
		tr_mpw_init(&w);
		tr_mpw_int(&w, samples[k]);
		CHECK_INT(read_int(tr_mpw_data(&w), tr_mpw_size(&w), &i), 0);
		CHECK_INT(i, samples[k]);
		tr_mpw_release(&w);
	}
	uint8_t neg_in_int16[] = {0xd1, 0xff, 0x80}; /* -128 fits int8 */
	CHECK_INT(read_int(neg_in_int16, 3, &i), TR_ECANON);
	uint8_t neg_fix_in_int8[] = {0xd0, 0xe0}; /* -32 fits a negative fixint */
	CHECK_INT(read_int(neg_fix_in_int8, 2, &i), TR_ECANON);

	/* strings: smallest header, valid UTF-8, cap before use, never past the end */
	tr_mpr r;
	tr_str s;
	uint8_t str8_short[] = {0xd9, 0x03, 'a', 'b', 'c'};
	tr_mpr_init(&r, str8_short, sizeof(str8_short));
	CHECK_INT(tr_mpr_str(&r, &s, 100), TR_ECANON);
	uint8_t fix[] = {0xa3, 'a', 'b', 'c'};
	tr_mpr_init(&r, fix, sizeof(fix));
	CHECK_INT(tr_mpr_str(&r, &s, 2), TR_ETOOBIG);
	CHECK_INT(tr_mpr_str(&r, &s, 3), 0);
	CHECK_INT(s.n, 3);
	CHECK_INT(tr_mpr_done(&r), 0);
	uint8_t lying[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'}; /* claims 2 GiB */
	tr_mpr_init(&r, lying, sizeof(lying));
	CHECK_INT(tr_mpr_str(&r, &s, SIZE_MAX), TR_EFORMAT);
	uint8_t bad_utf8[] = {0xa2, 0xc0, 0xaf}; /* overlong '/' */
	tr_mpr_init(&r, bad_utf8, sizeof(bad_utf8));
	CHECK_INT(tr_mpr_str(&r, &s, 100), TR_EFORMAT);
	CHECK(tr_utf8_valid("h\xc3\xa9llo", 6));
	CHECK(!tr_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	CHECK(!tr_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!tr_utf8_valid("\xe2\x82", 2));         /* truncated */

	/* arrays: a count larger than the bytes left is refused before anyone allocates */
	size_t n;
	uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	tr_mpr_init(&r, huge_array, sizeof(huge_array));
	CHECK_INT(tr_mpr_array(&r, &n, SIZE_MAX), TR_EFORMAT);
	uint8_t arr16_small[] = {0xdc, 0x00, 0x02, 0x01, 0x02};
	tr_mpr_init(&r, arr16_small, sizeof(arr16_small));
	CHECK_INT(tr_mpr_array(&r, &n, 100), TR_ECANON);

	/* bin: bin8 of length 0 is canonical (there is no fix form) */
	const uint8_t *bp;
	uint8_t bin0[] = {0xc4, 0x00};
	tr_mpr_init(&r, bin0, sizeof(bin0));
	CHECK_INT(tr_mpr_bin(&r, &bp, &n, 10), 0);
	CHECK_INT(n, 0);
	uint8_t bin16_small[] = {0xc5, 0x00, 0x01, 0x00};
	tr_mpr_init(&r, bin16_small, sizeof(bin16_small));
	CHECK_INT(tr_mpr_bin(&r, &bp, &n, 10), TR_ECANON);
	uint8_t map[] = {0x80};
	tr_mpr_init(&r, map, sizeof(map));
	CHECK_INT(tr_mpr_type(&r), TR_MP_OTHER);
	CHECK_INT(tr_mpr_array(&r, &n, 10), TR_EFORMAT);
	return tr_test_done();
}
