/* test_group.c: near-duplicate grouping of ideas (node/group.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_test.h"
#include "../node/group.h"
#include "../proto/error.h"
#include "../proto/banned.h"

static uint8_t ids[64][32];

static uint32_t add(tr_grouper *g, int n, const char *text, double *like)
{
	uint32_t grp = 0;
	double l = 0;
	CHECK_INT(tr_grouper_add(g, ids[n], text, strlen(text), &grp, &l), 0);
	if (like)
		*like = l;
	return grp;
}

struct seen {
	size_t n;
	uint32_t groups[64];
};

static int scan_cb(void *ctx, const uint8_t id[32], uint32_t group)
{
	struct seen *s = ctx;
	(void)id;
	if (s->n < 64)
		s->groups[s->n++] = group;
	return 0;
}

int main(void)
{
	for (int i = 0; i < 64; i++)
		memset(ids[i], i + 1, 32);
	tr_grouper *g = NULL;
	CHECK_INT(tr_grouper_new(&g), 0);
	if (!g)
		return tr_test_done();

	/* the same idea in other words, from other firms: one group */
	double like;
	uint32_t a = add(g, 0,
	                 "Detergent dosing: the machine doses too much detergent for "
	                 "small loads",
	                 &like);
	CHECK_INT(like * 100, 0); /* the first starts a group */
	uint32_t a2 =
	    add(g, 1, "Too much detergent dosed on small loads, please adjust the dosing", &like);
	CHECK_INT(a2, a);
	CHECK(like >= 0.3);
	uint32_t a3 = add(g, 2, "DETERGENT DOSES: small loads get too much detergent!", NULL);
	CHECK_INT(a3, a);
	/* unrelated ideas: groups of their own */
	uint32_t b = add(g, 3, "Hygiene report should show the rinse temperature per cycle", NULL);
	CHECK(b != a);
	uint32_t c = add(g, 4, "A quieter drain pump for night shifts in hotels", NULL);
	CHECK(c != a && c != b);
	/* plurals and -ing forms meet: pumps, draining */
	uint32_t c2 = add(g, 5, "Quieter drain pumps for the night shift at hotels", NULL);
	CHECK_INT(c2, c);
	uint32_t b2 =
	    add(g, 6, "Show rinse temperatures for each cycle in the hygiene reports", NULL);
	CHECK_INT(b2, b);
	/* stop words and short words alone make no likeness */
	uint32_t d = add(g, 7, "it is the way we do it", NULL);
	CHECK(d != a && d != b && d != c);
	uint32_t e = add(g, 8, "it is the way they do it", NULL);
	CHECK(e != d); /* no words left: nothing to be alike on */
	CHECK_INT(tr_grouper_ideas(g), 9);
	CHECK_INT(tr_grouper_groups(g), 5);

	/* an id added twice: refused, and says where it is */
	uint32_t where = 0;
	CHECK_INT(tr_grouper_add(g, ids[1], "anything", 8, &where, &like), TR_EEXIST);
	CHECK_INT(where, a);
	CHECK_INT(tr_grouper_group_of(g, ids[2]), a);
	CHECK_INT(tr_grouper_group_of(g, ids[60]), 0);

	/* merging by hand: b's ideas join a, and later look-alikes of b join a too */
	CHECK_INT(tr_grouper_merge(g, a, b), 0);
	CHECK_INT(tr_grouper_group_of(g, ids[3]), a);
	CHECK_INT(tr_grouper_group_of(g, ids[6]), a);
	CHECK_INT(tr_grouper_groups(g), 4);
	CHECK_INT(tr_grouper_merge(g, a, b), TR_ENOTFOUND); /* b is gone */
	CHECK_INT(tr_grouper_merge(g, a, a), TR_EINVAL);
	CHECK_INT(tr_grouper_merge(g, a, 999), TR_ENOTFOUND);
	CHECK_INT(add(g, 9, "The hygiene report: rinse temperature of every cycle", NULL), a);

	/* splitting by hand: the idea leaves, the rest stays */
	uint32_t alone = 0;
	CHECK_INT(tr_grouper_split(g, ids[3], &alone), 0);
	CHECK(alone != a);
	CHECK_INT(tr_grouper_group_of(g, ids[3]), alone);
	CHECK_INT(tr_grouper_group_of(g, ids[6]), a);
	CHECK_INT(tr_grouper_groups(g), 5);
	uint32_t again = 0;
	CHECK_INT(tr_grouper_split(g, ids[3], &again), 0); /* alone already */
	CHECK_INT(again, alone);
	CHECK_INT(tr_grouper_split(g, ids[61], &again), TR_ENOTFOUND);

	/* scan: every idea with its group, in the order added */
	struct seen s = {0, {0}};
	CHECK_INT(tr_grouper_scan(g, scan_cb, &s), 0);
	CHECK_INT(s.n, 10);
	CHECK_INT(s.groups[0], a);
	CHECK_INT(s.groups[3], alone);
	CHECK_INT(s.groups[4], c);
	CHECK(tr_grouper_bytes(g) > 0);

	/* the same ideas in the same order: the same groups */
	tr_grouper *h = NULL;
	CHECK_INT(tr_grouper_new(&h), 0);
	const char *texts[] = {
	    "Detergent dosing: the machine doses too much detergent for small loads",
	    "Too much detergent dosed on small loads, please adjust the dosing",
	    "Hygiene report should show the rinse temperature per cycle"};
	for (int i = 0; h && i < 3; i++) {
		uint32_t grp;
		CHECK_INT(tr_grouper_add(h, ids[i], texts[i], strlen(texts[i]), &grp, &like), 0);
		CHECK_INT(grp, i < 2 ? 1 : 2);
	}
	/* bytes that are not UTF-8 or are empty do no harm */
	uint32_t grp;
	CHECK_INT(tr_grouper_add(h, ids[40], "", 0, &grp, &like), 0);
	CHECK_INT(
	    tr_grouper_add(h, ids[41], "\xff\xfe\x00\x80 caf\xc3\xa9 caf\xc3\xa9", 13, &grp, &like),
	    0);
	tr_grouper_free(&h);
	tr_grouper_free(&g);
	tr_grouper_free(&g); /* NULL-safe */
	return tr_test_done();
}
