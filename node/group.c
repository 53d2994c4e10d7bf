/* group.c: near-duplicate grouping of ideas (group.h). In memory, no I/O.
 *
 * Words are kept as 64-bit hashes (a collision merges two words, harmlessly rare).
 * Each idea keeps its word ids sorted; each word keeps the list of ideas that have it
 * (postings) and their number (df). Groups are a union-find forest over group numbers,
 * so that merging two groups by hand costs nothing for their members. */
#include "group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

struct idea {
	uint8_t id[32];
	uint32_t tok; /* its word ids are toks[tok .. tok + ntok) */
	uint32_t ntok;
	uint32_t group; /* a group number; its root (find) is the idea's group */
};

struct postings {
	uint32_t *v; /* ideas, in the order added */
	uint32_t n, cap;
};

struct tr_grouper {
	struct idea *ideas;
	size_t n, cap;
	uint32_t *toks;
	size_t ntoks, tokcap;
	uint32_t *idmap; /* open addressing: idea index + 1, 0 empty */
	size_t idcap;
	uint64_t *wkey; /* open addressing: word hash -> word id + 1 in wval */
	uint32_t *wval;
	size_t wcap, nwords;
	struct postings *post; /* per word id */
	size_t postcap;
	uint32_t *parent; /* per group number (index 0 unused) */
	uint32_t *gsize;  /* members of a root group */
	size_t ngroups, gcap, live;
	uint32_t *stamp, *count, *cand; /* scratch per idea while adding one */
	size_t scap, gscap;
	uint32_t cur;
	size_t bytes;
};

/* ---- small things ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t *bytes)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *np = realloc(*p, n * elem);
	if (!np)
		return ENOMEM;
	*bytes += (n - *cap) * elem;
	*p = np;
	*cap = n;
	return 0;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static uint64_t id_hash(const uint8_t id[32])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return mix(h);
}

static const char *const stop[] = {
    "about",   "after", "again", "all",    "also",  "and",   "any",    "are",   "because", "been",
    "before",  "being", "but",   "can",    "could", "did",   "does",   "doing", "down",    "during",
    "each",    "for",   "from",  "get",    "gets",  "had",   "has",    "have",  "having",  "her",
    "here",    "him",   "his",   "how",    "into",  "its",   "just",   "like",  "more",    "most",
    "much",    "must",  "not",   "now",    "off",   "once",  "one",    "only",  "other",   "our",
    "out",     "over",  "own",   "please", "same",  "she",   "should", "some",  "such",    "than",
    "that",    "the",   "their", "them",   "then",  "there", "these",  "they",  "this",    "those",
    "through", "too",   "under", "until",  "use",   "very",  "was",    "way",   "were",    "what",
    "when",    "where", "which", "while",  "who",   "why",   "will",   "with",  "would",   "you",
    "your"};

static int is_stop(const char *w, size_t n)
{
	size_t lo = 0, hi = sizeof(stop) / sizeof(stop[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(w, stop[mid], n);
		if (c == 0 && stop[mid][n] != '\0')
			c = -1;
		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* A light English stemming: plural and -ing/-ed forms meet their stem. */
static size_t stem(const char *w, size_t n)
{
	if (n > 5 && !memcmp(w + n - 3, "ing", 3))
		return n - 3;
	if (n > 4 && !memcmp(w + n - 2, "ed", 2))
		return n - 2;
	if (n > 4 && !memcmp(w + n - 3, "ies", 3))
		return n - 3; /* batteries and battery: batter */
	if (n > 4 && w[n - 1] == 'y')
		return n - 1;
	if (n > 4 && !memcmp(w + n - 2, "es", 2) && w[n - 3] != 's')
		return n - 2;
	if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's')
		return n - 1;
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The distinct word hashes of text, at most max. */
static size_t words(const char *text, size_t len, uint64_t *out, size_t max)
{
	char w[64];
	size_t n = 0, i = 0;
	while (i < len && n < max) {
		size_t wn = 0;
		while (i < len) {
			unsigned char c = (unsigned char)text[i];
			int word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
			if (c >= 'A' && c <= 'Z') {
				c = (unsigned char)(c - 'A' + 'a');
				word = 1;
			}
			if (!word)
				break;
			if (wn < sizeof(w))
				w[wn++] = (char)c;
			i++;
		}
		i++;
		if (wn < 3 || is_stop(w, wn))
			continue;
		wn = stem(w, wn);
		uint64_t h = 1469598103934665603ull;
		for (size_t k = 0; k < wn; k++)
			h = (h ^ (uint8_t)w[k]) * 1099511628211ull;
		out[n++] = h | 1; /* never 0: 0 marks an empty slot */
	}
	qsort(out, n, sizeof(*out), cmp_u64);
	size_t u = 0;
	for (size_t k = 0; k < n; k++)
		if (!u || out[u - 1] != out[k])
			out[u++] = out[k];
	return u;
}

/* ---- maps ---- */

static int wmap_grow(tr_grouper *g)
{
	size_t cap = g->wcap ? g->wcap * 2 : 1024;
	uint64_t *k = calloc(cap, sizeof(*k));
	uint32_t *v = calloc(cap, sizeof(*v));
	if (!k || !v) {
		free(k);
		free(v);
		return ENOMEM;
	}
	for (size_t i = 0; i < g->wcap; i++)
		if (g->wkey[i]) {
			size_t h = (size_t)mix(g->wkey[i]) & (cap - 1);
			while (k[h])
				h = (h + 1) & (cap - 1);
			k[h] = g->wkey[i];
			v[h] = g->wval[i];
		}
	g->bytes += (cap - g->wcap) * (sizeof(*k) + sizeof(*v));
	free(g->wkey);
	free(g->wval);
	g->wkey = k;
	g->wval = v;
	g->wcap = cap;
	return 0;
}

/* The word id of hash w, made if new. */
static int word_id(tr_grouper *g, uint64_t w, uint32_t *id)
{
	if (2 * (g->nwords + 1) > g->wcap) {
		int rc = wmap_grow(g);
		if (rc)
			return rc;
	}
	size_t h = (size_t)mix(w) & (g->wcap - 1);
	while (g->wkey[h] && g->wkey[h] != w)
		h = (h + 1) & (g->wcap - 1);
	if (g->wkey[h]) {
		*id = g->wval[h] - 1;
		return 0;
	}
	int rc = grow((void **)&g->post, &g->postcap, g->nwords + 1, sizeof(*g->post), &g->bytes);
	if (rc)
		return rc;
	memset(&g->post[g->nwords], 0, sizeof(*g->post));
	g->wkey[h] = w;
	g->wval[h] = (uint32_t)++g->nwords;
	*id = (uint32_t)(g->nwords - 1);
	return 0;
}

static int idmap_grow(tr_grouper *g)
{
	size_t cap = g->idcap ? g->idcap * 2 : 1024;
	uint32_t *m = calloc(cap, sizeof(*m));
	if (!m)
		return ENOMEM;
	for (size_t i = 0; i < g->idcap; i++)
		if (g->idmap[i]) {
			size_t h = (size_t)id_hash(g->ideas[g->idmap[i] - 1].id) & (cap - 1);
			while (m[h])
				h = (h + 1) & (cap - 1);
			m[h] = g->idmap[i];
		}
	g->bytes += (cap - g->idcap) * sizeof(*m);
	free(g->idmap);
	g->idmap = m;
	g->idcap = cap;
	return 0;
}

/* The index of an idea + 1, or 0; *slot: where it is or would go. */
static uint32_t idea_find(const tr_grouper *g, const uint8_t id[32], size_t *slot)
{
	if (!g->idcap)
		return 0;
	size_t h = (size_t)id_hash(id) & (g->idcap - 1);
	while (g->idmap[h] && memcmp(g->ideas[g->idmap[h] - 1].id, id, 32) != 0)
		h = (h + 1) & (g->idcap - 1);
	if (slot)
		*slot = h;
	return g->idmap[h];
}

static uint32_t find(tr_grouper *g, uint32_t x)
{
	uint32_t r = x;
	while (g->parent[r] != r)
		r = g->parent[r];
	while (g->parent[x] != r) { /* path compression */
		uint32_t next = g->parent[x];
		g->parent[x] = r;
		x = next;
	}
	return r;
}

static int new_group(tr_grouper *g, uint32_t *out)
{
	int rc = grow((void **)&g->parent, &g->gcap, g->ngroups + 2, sizeof(*g->parent), &g->bytes);
	if (rc)
		return rc;
	if (g->gscap < g->gcap) { /* gsize follows parent's capacity */
		uint32_t *gs = realloc(g->gsize, g->gcap * sizeof(*gs));
		if (!gs)
			return ENOMEM;
		g->gsize = gs;
		g->gscap = g->gcap;
	}
	uint32_t n = (uint32_t)++g->ngroups;
	g->parent[n] = n;
	g->gsize[n] = 0;
	*out = n;
	return 0;
}

/* ---- the public part ---- */

int tr_grouper_new(tr_grouper **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : ENOMEM;
}

void tr_grouper_free(tr_grouper **g)
{
	if (!g || !*g)
		return;
	for (size_t i = 0; i < (*g)->nwords; i++)
		free((*g)->post[i].v);
	free((*g)->post);
	free((*g)->ideas);
	free((*g)->toks);
	free((*g)->idmap);
	free((*g)->wkey);
	free((*g)->wval);
	free((*g)->parent);
	free((*g)->gsize);
	free((*g)->stamp);
	free((*g)->count);
	free((*g)->cand);
	free(*g);
	*g = NULL;
}

static double jaccard(const tr_grouper *g, const uint32_t *a, size_t na, const struct idea *b)
{
	const uint32_t *bt = g->toks + b->tok;
	size_t i = 0, j = 0, both = 0;
	while (i < na && j < b->ntok) {
		if (a[i] == bt[j]) {
			both++;
			i++;
			j++;
		} else if (a[i] < bt[j])
			i++;
		else
			j++;
	}
	size_t uni = na + b->ntok - both;
	return uni ? (double)both / (double)uni : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int tr_grouper_add(tr_grouper *g, const uint8_t id[32], const char *text, size_t len,
                   uint32_t *group, double *like)
{
	uint64_t hw[256];
	uint32_t wid[256];
	size_t slot;
	int rc;
	*like = 0;
	if (2 * (g->n + 1) > g->idcap && (rc = idmap_grow(g)) != 0)
		return rc;
	uint32_t known = idea_find(g, id, &slot);
	if (known) {
		*group = find(g, g->ideas[known - 1].group);
		return TR_EEXIST;
	}
	size_t nw = words(text, len, hw, sizeof(hw) / sizeof(hw[0]));
	for (size_t i = 0; i < nw; i++)
		if ((rc = word_id(g, hw[i], &wid[i])) != 0)
			return rc;
	qsort(wid, nw, sizeof(*wid), cmp_u32);
	if ((rc = grow((void **)&g->ideas, &g->cap, g->n + 1, sizeof(*g->ideas), &g->bytes)) != 0 ||
	    (rc = grow((void **)&g->toks, &g->tokcap, g->ntoks + nw, sizeof(*g->toks),
	               &g->bytes)) != 0)
		return rc;
	if (g->scap < g->cap) {
		/* scratch per idea: sized with the ideas array; new stamps are 0 (not seen) */
		uint32_t *s = realloc(g->stamp, g->cap * sizeof(*s));
		if (s) {
			memset(s + g->scap, 0, (g->cap - g->scap) * sizeof(*s));
			g->stamp = s;
		}
		uint32_t *c = realloc(g->count, g->cap * sizeof(*c));
		if (c)
			g->count = c;
		uint32_t *d = realloc(g->cand, g->cap * sizeof(*d));
		if (d)
			g->cand = d;
		if (!s || !c || !d)
			return ENOMEM;
		if (s)
			g->scap = g->cap;
	}
	if (g->cur == 0) /* the stamps start over (first use, or after 2^32 adds) */
		memset(g->stamp, 0, g->cap * sizeof(*g->stamp));
	g->cur++;

	/* candidates: ideas sharing a word that is not common; shared counts those words */
	size_t common_df = g->n / 20 > 50 ? g->n / 20 : 50, ncand = 0, common = 0;
	for (size_t i = 0; i < nw; i++) {
		const struct postings *p = &g->post[wid[i]];
		if (p->n > common_df) {
			common++;
			continue;
		}
		for (uint32_t k = 0; k < p->n; k++) {
			uint32_t j = p->v[k];
			if (g->stamp[j] != g->cur) {
				g->stamp[j] = g->cur;
				g->count[j] = 0;
				g->cand[ncand++] = j;
			}
			g->count[j]++;
		}
	}
	uint32_t best = UINT32_MAX;
	double bestj = 0;
	for (size_t c = 0; c < ncand; c++) {
		const struct idea *b = &g->ideas[g->cand[c]];
		size_t bigger = nw > b->ntok ? nw : b->ntok;
		/* shared words can be at most the rare ones counted and the common ones */
		if ((double)(g->count[g->cand[c]] + common) < TR_GROUP_THRESHOLD * (double)bigger)
			continue;
		double j = jaccard(g, wid, nw, b);
		if (j > bestj || (j == bestj && g->cand[c] < best)) {
			bestj = j;
			best = g->cand[c];
		}
	}
	uint32_t grp;
	if (best != UINT32_MAX && bestj >= TR_GROUP_THRESHOLD) {
		grp = find(g, g->ideas[best].group);
		*like = bestj;
	} else {
		if ((rc = new_group(g, &grp)) != 0)
			return rc;
		g->live++;
	}
	/* the idea, its words, and the postings of each */
	uint32_t me = (uint32_t)g->n;
	for (size_t i = 0; i < nw; i++) {
		struct postings *p = &g->post[wid[i]];
		size_t cap = p->cap;
		if ((rc = grow((void **)&p->v, &cap, p->n + 1, sizeof(*p->v), &g->bytes)) != 0)
			return rc;
		p->cap = (uint32_t)cap;
		p->v[p->n++] = me;
	}
	struct idea *it = &g->ideas[g->n++];
	memcpy(it->id, id, 32);
	it->tok = (uint32_t)g->ntoks;
	it->ntok = (uint32_t)nw;
	it->group = grp;
	memcpy(g->toks + g->ntoks, wid, nw * sizeof(*wid));
	g->ntoks += nw;
	g->idmap[slot] = me + 1;
	g->gsize[grp]++;
	*group = grp;
	return 0;
}

uint32_t tr_grouper_group_of(tr_grouper *g, const uint8_t id[32])
{
	uint32_t i = idea_find(g, id, NULL);
	return i ? find(g, g->ideas[i - 1].group) : 0;
}

static int live_root(tr_grouper *g, uint32_t x)
{
	return x >= 1 && x <= g->ngroups && g->parent[x] == x && g->gsize[x] > 0;
}

int tr_grouper_merge(tr_grouper *g, uint32_t into, uint32_t from)
{
	if (!live_root(g, into) || !live_root(g, from))
		return TR_ENOTFOUND;
	if (into == from)
		return TR_EINVAL;
	g->parent[from] = into;
	g->gsize[into] += g->gsize[from];
	g->gsize[from] = 0;
	g->live--;
	return 0;
}

int tr_grouper_split(tr_grouper *g, const uint8_t id[32], uint32_t *group)
{
	uint32_t i = idea_find(g, id, NULL), ng;
	if (!i)
		return TR_ENOTFOUND;
	struct idea *it = &g->ideas[i - 1];
	uint32_t old = find(g, it->group);
	if (g->gsize[old] == 1) { /* alone already */
		*group = old;
		return 0;
	}
	int rc = new_group(g, &ng);
	if (rc)
		return rc;
	/* the other members may point at the idea's own group number: they keep theirs by
	 * the root, which stays; the idea gets a number of its own */
	g->gsize[old]--;
	g->gsize[ng] = 1;
	g->live++;
	it->group = ng;
	*group = ng;
	return 0;
}

size_t tr_grouper_ideas(const tr_grouper *g)
{
	return g->n;
}

size_t tr_grouper_groups(tr_grouper *g)
{
	return g->live;
}

int tr_grouper_scan(tr_grouper *g, int (*cb)(void *ctx, const uint8_t id[32], uint32_t group),
                    void *ctx)
{
	for (size_t i = 0; i < g->n; i++) {
		int rc = cb(ctx, g->ideas[i].id, find(g, g->ideas[i].group));
		if (rc)
			return rc;
	}
	return 0;
}

size_t tr_grouper_bytes(const tr_grouper *g)
{
	return sizeof(*g) + g->bytes + 3 * g->scap * sizeof(uint32_t) + g->gscap * sizeof(uint32_t);
}
