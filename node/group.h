/* group.h: near-duplicate grouping of ideas, incremental.
 *
 * The producer sees ideas from every distributor; the same idea, raised by several user
 * firms in their own words, should land in one group. An idea's text (title and body)
 * becomes a set of normalised words (lower case, stop words dropped, a light English
 * stemming); two ideas are alike when the Jaccard similarity of their word sets reaches
 * a threshold. A new idea joins the group of the existing idea most like it, or starts
 * a group of its own: groups never merge by themselves (no chains of look-alikes
 * swallowing everything), only by hand (tr_grouper_merge), and an idea can be taken
 * out of its group by hand (tr_grouper_split).
 *
 * Finding the ideas alike is an inverted index from word to ideas: only ideas sharing a
 * word that is not common (in at most a set share of all ideas) are compared, so adding
 * an idea costs about what its rarer words' lists hold, not the number of ideas.
 *
 * Everything is in memory and deterministic: the same ideas in the same order give the
 * same groups. Nothing here does I/O. Group numbers start at 1.
 */
#ifndef TR_GROUP_H
#define TR_GROUP_H

#include <stddef.h>
#include <stdint.h>

#define TR_GROUP_THRESHOLD 0.3 /* Jaccard similarity from which two ideas are alike */

typedef struct tr_grouper tr_grouper;

int tr_grouper_new(tr_grouper **out);
void tr_grouper_free(tr_grouper **g); /* NULL-safe */

/* Adds an idea (id: its record id) with its text, and puts it in a group: *group is the
 * group it joined or started, *like the similarity to the idea it was found alike to
 * (0 when it started a group). TR_EEXIST if the id was added before (*group then says
 * where it is), ENOMEM. */
int tr_grouper_add(tr_grouper *g, const uint8_t id[32], const char *text, size_t len,
                   uint32_t *group, double *like);

/* The group of an idea, 0 if it was never added. */
uint32_t tr_grouper_group_of(tr_grouper *g, const uint8_t id[32]);

/* Moves every idea of group from into group into. TR_ENOTFOUND for a group that does not
 * exist (or no longer: merged away), TR_EINVAL when they are the same. */
int tr_grouper_merge(tr_grouper *g, uint32_t into, uint32_t from);

/* Takes an idea out of its group into a new one of its own (*group). Ideas added later
 * may join it. TR_ENOTFOUND for an id never added. */
int tr_grouper_split(tr_grouper *g, const uint8_t id[32], uint32_t *group);

/* Ideas added, and groups that hold at least one idea. */
size_t tr_grouper_ideas(const tr_grouper *g);
size_t tr_grouper_groups(tr_grouper *g);

/* Calls cb for each idea with its group, in the order ideas were added. */
int tr_grouper_scan(tr_grouper *g, int (*cb)(void *ctx, const uint8_t id[32], uint32_t group),
                    void *ctx);

/* Bytes of memory the grouper holds (for the benchmark). */
size_t tr_grouper_bytes(const tr_grouper *g);

#endif
