/* group_bench.c: `trestle-bench group`: grouping the ideas a producer receives
 * (node/group.c), with issue 5's targets:
 *  - 100,000 ideas from 200 distributors grouped in under 10 s and under 256 MB;
 *  - a new idea joins its group in under 10 ms (incremental, not a rebuild).
 * The ideas are generated: 2,000 topics of 8 words each; an idea is 5 to 7 of its
 * topic's words, 2 to 4 of the trade's common words and some filler, in a random order,
 * written by one of 2,000 user firms under one of 200 distributors. So the program can
 * also say how well the groups find the topics. Beside the figures it prints the
 * machine's own limit in the same run: how fast one core merely reads the same texts
 * word by word. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "group.h"

#define TOPIC_WORDS 8

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const common[] = {
    "machine", "water",  "rinse",  "cycle",       "door",    "pump",    "detergent", "dishes",
    "glasses", "basket", "filter", "heater",      "program", "display", "customer",  "kitchen",
    "service", "time",   "energy", "temperature", "noise",   "steam",   "tank",      "spray"};
static const char *const filler[] = {"the", "is",  "we", "would", "like", "a",
                                     "for", "our", "it", "to",    "when", "please"};

/* A made-up word, 5 to 9 letters: the topics' own vocabulary. */
static void word(char *out, uint64_t seed)
{
	static const char cons[] = "bcdfghjklmnprstvz", vow[] = "aeiou";
	size_t n = 5 + seed % 5;
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		out[i] = i % 2 ? vow[(seed >> 33) % 5] : cons[(seed >> 33) % 17];
	}
	out[n] = '\0';
}

struct idea {
	uint32_t topic, firm, distributor;
	char text[400];
};

static void make_idea(struct idea *it, uint32_t topics, char vocab[][12])
{
	it->topic = (uint32_t)(next() % topics);
	it->firm = (uint32_t)(next() % 2000);
	it->distributor = it->firm / 10; /* 200 distributors of 10 firms each */
	const char *parts[32];
	size_t n = 0;
	int chosen[TOPIC_WORDS] = {0};
	size_t want = 5 + next() % 3;
	while (want) {
		size_t k = next() % TOPIC_WORDS;
		if (!chosen[k]) {
			chosen[k] = 1;
			parts[n++] = vocab[it->topic * TOPIC_WORDS + k];
			want--;
		}
	}
	for (size_t c = 2 + next() % 3; c; c--)
		parts[n++] = common[next() % (sizeof(common) / sizeof(common[0]))];
	for (size_t c = 2 + next() % 4; c; c--)
		parts[n++] = filler[next() % (sizeof(filler) / sizeof(filler[0]))];
	for (size_t i = n - 1; i > 0; i--) { /* shuffle */
		size_t j = next() % (i + 1);
		const char *t = parts[i];
		parts[i] = parts[j];
		parts[j] = t;
	}
	size_t o = 0;
	for (size_t i = 0; i < n && o < sizeof(it->text) - 20; i++)
		o += (size_t)snprintf(it->text + o, sizeof(it->text) - o, "%s%s", i ? " " : "",
		                      parts[i]);
}

static double peak_mb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (double)kb / 1024.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Distinct (group, who) pairs, counted per group into out: sorts keys. */
static void distinct(uint64_t *keys, uint64_t n, uint32_t *out)
{
	qsort(keys, n, sizeof(*keys), cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		if (!i || keys[i] != keys[i - 1])
			out[keys[i] >> 32]++;
}

struct tally {
	uint32_t *group_of; /* per idea */
	size_t n;
};

static int tally_cb(void *ctx, const uint8_t id[32], uint32_t group)
{
	struct tally *t = ctx;
	uint32_t i;
	memcpy(&i, id, sizeof(i));
	if (i < t->n)
		t->group_of[i] = group;
	return 0;
}

static void id_of(uint8_t id[32], uint32_t i)
{
	memset(id, 0, 32);
	memcpy(id, &i, sizeof(i));
	id[31] = 0xa5;
}

int group_main(int argc, char **argv)
{
	uint64_t ideas = 100000, extra = 1000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ideas") && i + 1 < argc)
			ideas = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr,
			        "usage: trestle-bench group [--ideas N]\n"
			        "Groups N generated ideas (default 100000) and then adds 1000 "
			        "more one by one.\n");
			return 2;
		}
	}
	if (ideas < 100)
		ideas = 100;
	uint32_t topics = (uint32_t)(ideas / 50);
	char(*vocab)[12] = malloc((size_t)topics * TOPIC_WORDS * sizeof(*vocab));
	struct idea *all = malloc((ideas + extra) * sizeof(*all));
	if (!vocab || !all)
		die("out of memory", 0);
	for (size_t i = 0; i < (size_t)topics * TOPIC_WORDS; i++)
		word(vocab[i], next());
	for (uint64_t i = 0; i < ideas + extra; i++)
		make_idea(&all[i], topics, vocab);
	double base_mb = peak_mb();
	printf("trestle-bench group: %" PRIu64 " ideas (%" PRIu32 " topics, 2000 user firms, 200 "
	       "distributors), then %" PRIu64 " more one by one\n\n",
	       ideas, topics, extra);

	/* the machine's own limit: reading the texts word by word, nothing else */
	double t0 = now();
	uint64_t sum = 0;
	for (uint64_t i = 0; i < ideas; i++)
		for (const char *p = all[i].text; *p; p++)
			sum = sum * 31 + (uint8_t)*p;
	double read_s = now() - t0;
	printf("machine limit  reading the %" PRIu64 " texts byte by byte on one core: %.3f s "
	       "(%.0f ideas/s)%s\n",
	       ideas, read_s, (double)ideas / read_s, sum == 42 ? " " : "");

	tr_grouper *g = NULL;
	if (tr_grouper_new(&g) != 0)
		die("out of memory", 0);
	t0 = now();
	for (uint64_t i = 0; i < ideas; i++) {
		uint8_t id[32];
		uint32_t grp;
		double like;
		id_of(id, (uint32_t)i);
		if (tr_grouper_add(g, id, all[i].text, strlen(all[i].text), &grp, &like) != 0)
			die("grouping failed", 0);
	}
	/* the producer's view of each group: how many firms and distributors raised it */
	struct tally t = {calloc(ideas + extra, sizeof(uint32_t)), ideas};
	size_t ngroups = tr_grouper_groups(g);
	if (!t.group_of)
		die("out of memory", 0);
	tr_grouper_scan(g, tally_cb, &t);
	size_t maxg = 0;
	for (uint64_t i = 0; i < ideas; i++)
		if (t.group_of[i] > maxg)
			maxg = t.group_of[i];
	uint32_t *firms = calloc(maxg + 1, sizeof(*firms)),
	         *dists = calloc(maxg + 1, sizeof(*dists));
	uint64_t *keys = malloc(ideas * sizeof(*keys));
	if (!firms || !dists || !keys)
		die("out of memory", 0);
	for (uint64_t i = 0; i < ideas; i++)
		keys[i] = (uint64_t)t.group_of[i] << 32 | all[i].firm;
	distinct(keys, ideas, firms);
	for (uint64_t i = 0; i < ideas; i++)
		keys[i] = (uint64_t)t.group_of[i] << 32 | all[i].distributor;
	distinct(keys, ideas, dists);
	size_t widest = 0;
	for (size_t gi = 1; gi <= maxg; gi++)
		if (firms[gi] > firms[widest])
			widest = gi;
	double group_s = now() - t0;
	double mb = peak_mb();
	printf("grouping       %" PRIu64 " ideas into %zu groups in %.2f s (%.0f ideas/s; %.1fx "
	       "the time to read them), with firm and distributor counts per group (target: "
	       "under 10 s)   %s\n",
	       ideas, ngroups, group_s, (double)ideas / group_s, group_s / read_s,
	       group_s < 10 ? "PASS" : "MISS");
	printf("views          the group raised by most firms: %" PRIu32 " firms under %" PRIu32
	       " distributors\n",
	       firms[widest], dists[widest]);
	printf("memory         peak RSS %.0f MB, of it %.0f MB the generated ideas; the grouper "
	       "holds %.0f MB (target: under 256 MB)   %s\n",
	       mb, base_mb, (double)tr_grouper_bytes(g) / (1024.0 * 1024.0),
	       mb < 256 ? "PASS" : "MISS");

	/* how well the groups find the topics: the share of each topic's ideas in its main
	 * group, and how many groups hold two topics */
	uint32_t *best = calloc(topics, sizeof(*best)), *bestn = calloc(topics, sizeof(*bestn));
	uint32_t *seen = calloc(maxg + 1, sizeof(*seen));
	if (!best || !bestn || !seen)
		die("out of memory", 0);
	uint64_t *by = keys; /* (topic, group) pairs, sorted */
	for (uint64_t i = 0; i < ideas; i++)
		by[i] = (uint64_t)all[i].topic << 32 | t.group_of[i];
	qsort(by, ideas, sizeof(*by), cmp_u64);
	uint64_t inmain = 0, mixed = 0;
	for (uint64_t i = 0; i < ideas;) {
		uint64_t j = i;
		while (j < ideas && by[j] == by[i])
			j++;
		uint32_t tp = (uint32_t)(by[i] >> 32), gp = (uint32_t)by[i];
		if (j - i > bestn[tp]) {
			bestn[tp] = (uint32_t)(j - i);
			best[tp] = gp;
		}
		if (seen[gp] && seen[gp] != tp + 1)
			mixed++;
		seen[gp] = tp + 1;
		i = j;
	}
	for (uint32_t tp = 0; tp < topics; tp++)
		inmain += bestn[tp];
	printf("quality        %.1f%% of the ideas are in their topic's main group; %" PRIu64
	       " groups hold ideas of more than one topic (of %zu)\n",
	       100.0 * (double)inmain / (double)ideas, mixed, ngroups);

	/* one at a time: a new idea joins its group */
	double *lat = malloc(extra * sizeof(*lat));
	uint64_t joined = 0;
	if (!lat)
		die("out of memory", 0);
	for (uint64_t k = 0; k < extra; k++) {
		uint64_t i = ideas + k;
		uint8_t id[32];
		uint32_t grp;
		double like;
		id_of(id, (uint32_t)i);
		double s = now();
		if (tr_grouper_add(g, id, all[i].text, strlen(all[i].text), &grp, &like) != 0)
			die("grouping failed", 0);
		lat[k] = (now() - s) * 1e3;
		joined += grp <= maxg && like > 0;
	}
	qsort(lat, extra, sizeof(*lat), cmp_double);
	printf("one more idea  %" PRIu64 " added one by one to the %" PRIu64 ": p50 %.3f ms, p99 "
	       "%.3f ms, max %.3f ms; %" PRIu64 " joined an existing group (target: p99 under "
	       "10 ms)   %s\n",
	       extra, ideas, lat[extra / 2], lat[extra * 99 / 100], lat[extra - 1], joined,
	       lat[extra * 99 / 100] < 10 ? "PASS" : "MISS");
	int misses = (group_s >= 10) + (mb >= 256) + (lat[extra * 99 / 100] >= 10);
	printf("\n%d figure%s missed %s target\n", misses, misses == 1 ? "" : "s",
	       misses == 1 ? "its" : "their");
	free(lat);
	free(keys);
	free(best);
	free(bestn);
	free(seen);
	free(firms);
	free(dists);
	free(t.group_of);
	tr_grouper_free(&g);
	free(all);
	free(vocab);
	return misses ? 1 : 0;
}
