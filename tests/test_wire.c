/* test_wire: the partner messages (proto/SPEC.md 12.2): each one round-trips, and what
 * a hostile peer could send instead is refused with a reason. */
#include "tests/tr_test.h"

#include <string.h>

#include "proto/error.h"
#include "proto/wire.h"

static tr_msg m;

static int decode(const tr_mpw *w, char *why, size_t n)
{
	return tr_msg_decode(tr_mpw_data(w), tr_mpw_size(w), &m, why, n);
}

static int decode_bytes(const void *p, size_t len, char *why, size_t n)
{
	return tr_msg_decode(p, len, &m, why, n);
}

int main(void)
{
	tr_mpw w, recs;
	char why[160];
	tr_mpw_init(&w);
	tr_mpw_init(&recs);

	tr_msg_hello(&w);
	CHECK_INT(decode(&w, why, sizeof(why)), 0);
	CHECK_INT(m.type, TR_MSG_HELLO);

	tr_mpw_reset(&w);
	tr_msg_pull(&w, 42, 1024, 1u << 20);
	CHECK_INT(decode(&w, why, sizeof(why)), 0);
	CHECK_INT(m.type, TR_MSG_PULL);
	CHECK_INT(m.after, 42);
	CHECK_INT(m.max, 1024);
	CHECK_INT(m.maxbytes, 1u << 20);

	tr_msg_batch_item(&recs, 0, "abc", 3);
	tr_msg_batch_item(&recs, 7, "", 0);
	tr_mpw_reset(&w);
	tr_msg_batch(&w, 0xfeedbeef, 7, 9, 1, 2, tr_mpw_data(&recs), tr_mpw_size(&recs));
	CHECK_INT(decode(&w, why, sizeof(why)), 0);
	CHECK_INT(m.type, TR_MSG_BATCH);
	CHECK_INT(m.epoch, 0xfeedbeef);
	CHECK_INT(m.after, 7);
	CHECK_INT(m.next, 9);
	CHECK_INT(m.more, 1);
	CHECK_INT(m.nrec, 2);
	CHECK_INT(m.reclen[0], 3);
	CHECK(!memcmp(m.rec[0], "abc", 3));
	CHECK_INT(m.reclen[1], 0);
	CHECK_INT(m.depth[0], 0);
	CHECK_INT(m.depth[1], 7);

	tr_mpw_reset(&w);
	tr_msg_notify(&w, 1000);
	CHECK_INT(decode(&w, why, sizeof(why)), 0);
	CHECK_INT(m.head, 1000);

	tr_mpw_reset(&w);
	tr_msg_error(&w, TR_WERR_THROTTLED, "slow down");
	CHECK_INT(decode(&w, why, sizeof(why)), 0);
	CHECK_INT(m.code, TR_WERR_THROTTLED);
	CHECK(tr_str_eq(m.text, "slow down"));

	/* refused, each with a reason */
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
		const char *says;
	} bad[] = {
	    {"empty", "", 0, "not a message"},
	    {"not an array", "\x01", 1, "not a message"},
	    {"version 1", "\x92\x01\x01", 3, "wire version 1; this node speaks version 2"},
	    {"unknown type", "\x92\x02\x09", 3, "unknown message type 9"},
	    {"HELLO with an argument", "\x93\x02\x01\x00", 4, "HELLO has no arguments"},
	    {"PULL short", "\x94\x02\x02\x00\x00", 5, "PULL is"},
	    {"PULL negative", "\x95\x02\x02\xff\x00\x00", 6, "PULL is"},
	    {"BATCH backwards", "\x97\x02\x03\x07\x05\x04\x00\x90", 8, "next < after"},
	    {"BATCH more=2", "\x97\x02\x03\x07\x00\x01\x02\x90", 8, "BATCH is"},
	    {"BATCH without epoch", "\x96\x02\x03\x00\x01\x00\x90", 7, "BATCH is"},
	    {"BATCH records not bin", "\x97\x02\x03\x07\x00\x01\x00\x91\xa1x", 10, "bin"},
	    {"BATCH record cut short",
	     "\x97\x02\x03\x07\x00\x01\x00\x91\x92\x01\xc4\x05"
	     "ab",
	     13, "bin"},
	    {"BATCH record without depth", "\x97\x02\x03\x07\x00\x01\x00\x91\xc4\x01x", 11,
	     "depth"},
	    {"BATCH depth 31", "\x97\x02\x03\x07\x00\x01\x00\x91\x92\x1f\xc4\x01x", 13,
	     "depth 0..30"},
	    {"BATCH too many", "\x97\x02\x03\x07\x00\x01\x00\xdd\x00\x00\x04\x01", 12,
	     "at most 1024"},
	    {"trailing bytes", "\x92\x02\x01\x00", 4, "bytes after the end"},
	    {"non-canonical uint", "\x92\xcc\x02\x01", 4, "unsigned integers"},
	    {"ERROR text not UTF-8", "\x94\x02\x05\x01\xa1\xff", 6, "ERROR is"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		int rc = decode_bytes(bad[i].bytes, bad[i].len, why, sizeof(why));
		if (rc != TR_EFORMAT || !strstr(why, bad[i].says)) {
			CHECK_STR(why, bad[i].says);
			CHECK_INT(rc, TR_EFORMAT);
			fprintf(stderr, "  case: %s\n", bad[i].name);
		} else {
			CHECK(1);
		}
	}

	tr_mpw_release(&w);
	tr_mpw_release(&recs);
	return tr_test_done();
}
