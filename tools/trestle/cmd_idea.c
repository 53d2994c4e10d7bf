/* cmd_idea.c: `trestle idea groups|merge|split`: the ideas this node holds, grouped
 * (node/group.c): the same idea raised by several user firms, in their own words, is one
 * group, with how many firms and distributors raised it, its products and categories,
 * its latest status and the assessments passed on with it. The producer merges groups
 * by hand (a signed "merged" status for each idea, which travels back down the way the
 * idea came) and splits an idea out of its group (kept at this node only). */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "group.h"
#include "lifecycle.h"
#include "../../proto/banned.h"

#define SPLIT_NOTE "idea-split:" /* + the idea's hex id: taken out of its group here */

struct member {
	uint8_t id[TR_ID_BYTES];
	uint8_t author[TR_PK_BYTES];
	uint32_t source, group;
	size_t index; /* arrival order */
	size_t assessments;
	char state[TR_MAX_NAME + 1]; /* by the lifecycle (tr_txn_state) */
	char title[201], product[65], category[65];
};

/* A "merged" status: two ideas that belong together. */
struct merge {
	uint8_t a[TR_ID_BYTES], b[TR_ID_BYTES];
};

struct view {
	tr_grouper *g;
	struct member *m;
	size_t n, cap;
	struct merge *mg;
	size_t nmg, mgcap;
	int err;
};

static int idea_cb(void *ctx, const tr_hit *h)
{
	struct view *v = ctx;
	const tr_record *rec = h->rec;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		struct member *nm = realloc(v->m, cap * sizeof(*nm));
		if (!nm)
			return ENOMEM;
		v->m = nm;
		v->cap = cap;
	}
	struct member *m = &v->m[v->n];
	memset(m, 0, sizeof(*m));
	memcpy(m->id, rec->id, TR_ID_BYTES);
	memcpy(m->author, rec->author, TR_PK_BYTES);
	m->source = h->source;
	m->index = v->n;
	tr_cli_field_text(rec, "title", m->title, sizeof(m->title), 0);
	tr_cli_field_text(rec, "product", m->product, sizeof(m->product), 0);
	tr_cli_field_text(rec, "category", m->category, sizeof(m->category), 0);
	/* the text it is grouped by: what this node was shown of title and text */
	char text[9000];
	const tr_field *tx = tr_record_field(rec, "text");
	int shown = tx && tx->disclosed && tx->value.type == TR_VAL_STR;
	int n = snprintf(text, sizeof(text), "%s %.*s", m->title, shown ? (int)tx->value.s.n : 0,
	                 shown ? tx->value.s.p : "");
	double like;
	int rc = tr_grouper_add(v->g, m->id, text, n > 0 ? (size_t)n : 0, &m->group, &like);
	if (rc && rc != TR_EEXIST)
		return rc;
	v->n++;
	return 0;
}

static int merge_cb(void *ctx, const tr_hit *h)
{
	struct view *v = ctx;
	const tr_field *st = tr_record_field(h->rec, "state");
	if (h->rec->nrefs != 2 || !st || !st->disclosed || st->value.type != TR_VAL_STR ||
	    !tr_str_eq(st->value.s, "merged"))
		return 0;
	if (v->nmg == v->mgcap) {
		size_t cap = v->mgcap ? v->mgcap * 2 : 64;
		struct merge *nm = realloc(v->mg, cap * sizeof(*nm));
		if (!nm)
			return ENOMEM;
		v->mg = nm;
		v->mgcap = cap;
	}
	memcpy(v->mg[v->nmg].a, h->rec->refs[0], TR_ID_BYTES);
	memcpy(v->mg[v->nmg++].b, h->rec->refs[1], TR_ID_BYTES);
	return 0;
}

static int count_hit(void *ctx, const tr_hit *h)
{
	(void)h;
	(*(size_t *)ctx)++;
	return 0;
}

static int cmp_id_of(const void *a, const void *b)
{
	return memcmp((*(const struct member *const *)a)->id,
	              (*(const struct member *const *)b)->id, TR_ID_BYTES);
}

/* The member with this id, by binary search over byid (sorted by id). */
static struct member *find_member(struct member **byid, size_t n, const uint8_t id[TR_ID_BYTES])
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(byid[mid]->id, id, TR_ID_BYTES);
		if (!c)
			return byid[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Reads the ideas, groups them, applies the merges ("merged" statuses this node holds)
 * and splits (notes of this node), and gives each idea its state and assessments. Each
 * idea costs its own index lookups: nothing here grows with ideas x statuses. */
static int view_fn(tr_txn *t, void *ctx)
{
	struct view *v = ctx;
	tr_query q;
	int rc;
	memset(&q, 0, sizeof(q));
	q.kind = "idea";
	if ((rc = tr_txn_scan(t, &q, idea_cb, v)) != 0)
		return rc;
	q.kind = "status";
	if ((rc = tr_txn_scan(t, &q, merge_cb, v)) != 0)
		return rc;
	struct member **byid = malloc((v->n ? v->n : 1) * sizeof(*byid));
	if (!byid)
		return ENOMEM;
	for (size_t i = 0; i < v->n; i++)
		byid[i] = &v->m[i];
	qsort(byid, v->n, sizeof(*byid), cmp_id_of);
	for (size_t i = 0; i < v->nmg; i++) {
		struct member *a = find_member(byid, v->n, v->mg[i].a),
		              *b = find_member(byid, v->n, v->mg[i].b);
		if (!a || !b)
			continue;
		uint32_t ga = tr_grouper_group_of(v->g, a->id),
		         gb = tr_grouper_group_of(v->g, b->id);
		if (ga != gb)
			tr_grouper_merge(v->g, gb, ga); /* either way round: one group */
	}
	free(byid);
	for (size_t i = 0; i < v->n && !rc; i++) {
		struct member *m = &v->m[i];
		char key[80], hex[TR_ID_HEX_SIZE];
		const void *val;
		size_t len;
		uint32_t ng;
		/* splits: taken out of their group at this node */
		tr_id_hex(m->id, hex);
		snprintf(key, sizeof(key), SPLIT_NOTE "%.40s", hex);
		if (tr_txn_note_get(t, key, &val, &len) == 0 && len == 1 &&
		    *(const char *)val == '1')
			tr_grouper_split(v->g, m->id, &ng);
		tr_query a;
		memset(&a, 0, sizeof(a));
		a.kind = "assessment";
		a.ref = m->id;
		if ((rc = tr_txn_scan(t, &a, count_hit, &m->assessments)) == 0)
			rc = tr_txn_state(t, m->id, "idea", m->state, sizeof(m->state));
	}
	for (size_t i = 0; i < v->n; i++)
		v->m[i].group = tr_grouper_group_of(v->g, v->m[i].id);
	return rc;
}

/* ---- groups ---- */

static int cmp_group_then_arrival(const void *a, const void *b)
{
	const struct member *x = *(const struct member *const *)a,
	                    *y = *(const struct member *const *)b;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

struct group_row {
	size_t a, b; /* its members: mv[a .. b) */
	size_t ideas, firms, distributors, assessments;
	const struct member *face, *decided;
	const char *product, *category;
};

static int cmp_rows(const void *a, const void *b)
{
	const struct group_row *x = a, *y = b;
	if (x->firms != y->firms)
		return x->firms > y->firms ? -1 : 1;
	if (x->ideas != y->ideas)
		return x->ideas > y->ideas ? -1 : 1;
	return x->face->index < y->face->index ? -1 : x->face->index > y->face->index;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The most frequent non-empty value among the members' field at off (ties: the first
 * in byte order). tmp holds b - a pointers. */
static const char *most(struct member **mv, size_t a, size_t b, size_t off, const char **tmp)
{
	size_t n = 0, bestn = 0;
	const char *best = "";
	for (size_t i = a; i < b; i++)
		if (*((const char *)mv[i] + off))
			tmp[n++] = (const char *)mv[i] + off;
	qsort(tmp, n, sizeof(*tmp), cmp_strp);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && !strcmp(tmp[j], tmp[i]))
			j++;
		if (j - i > bestn) {
			bestn = j - i;
			best = tmp[i];
		}
		i = j;
	}
	return best;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, TR_PK_BYTES);
}

/* How many distinct authors (by_source: partners they came from) among mv[a .. b). */
static size_t distinct_count(struct member **mv, size_t a, size_t b, int by_source,
                             uint8_t (*tmp)[TR_PK_BYTES])
{
	size_t n = b - a, d = 0;
	for (size_t i = 0; i < n; i++) {
		memset(tmp[i], 0, TR_PK_BYTES);
		if (by_source)
			memcpy(tmp[i], &mv[a + i]->source, sizeof(mv[a + i]->source));
		else
			memcpy(tmp[i], mv[a + i]->author, TR_PK_BYTES);
	}
	qsort(tmp, n, TR_PK_BYTES, cmp_key);
	for (size_t i = 0; i < n; i++)
		d += !i || memcmp(tmp[i], tmp[i - 1], TR_PK_BYTES) != 0;
	return d;
}

int tr_idea_groups(tr_cli *cli, const char *product, const char *category, uint64_t min,
                   json_t **out)
{
	struct view v;
	memset(&v, 0, sizeof(v));
	*out = NULL;
	if (tr_grouper_new(&v.g) != 0)
		return ENOMEM;
	int rc = tr_store_read(cli->store, view_fn, &v);
	size_t cap = v.n ? v.n : 1;
	struct member **mv = malloc(cap * sizeof(*mv));
	struct group_row *rows = malloc(cap * sizeof(*rows));
	const char **stmp = malloc(cap * sizeof(*stmp));
	uint8_t(*ktmp)[TR_PK_BYTES] = malloc(cap * TR_PK_BYTES);
	json_t *arr = json_array();
	size_t nrows = 0;
	if (!rc && (!mv || !rows || !stmp || !ktmp || !arr))
		rc = ENOMEM;
	for (size_t i = 0; !rc && i < v.n; i++)
		mv[i] = &v.m[i];
	if (!rc && v.n) /* by group, members in their arrival order */
		qsort(mv, v.n, sizeof(*mv), cmp_group_then_arrival);
	for (size_t a = 0; !rc && a < v.n;) {
		size_t b = a;
		while (b < v.n && mv[b]->group == mv[a]->group)
			b++;
		struct group_row *r = &rows[nrows];
		memset(r, 0, sizeof(*r));
		r->a = a;
		r->b = b;
		r->ideas = b - a;
		r->firms = distinct_count(mv, a, b, 0, ktmp);
		r->distributors = distinct_count(mv, a, b, 1, ktmp);
		r->product = most(mv, a, b, offsetof(struct member, product), stmp);
		r->category = most(mv, a, b, offsetof(struct member, category), stmp);
		/* its face: the first idea not merged away into another; its state: the first
		 * decided (not submitted) among those, by the lifecycle */
		for (size_t i = a; i < b; i++) {
			r->assessments += mv[i]->assessments;
			if (strcmp(mv[i]->state, "merged")) {
				if (!r->face)
					r->face = mv[i];
				if (!r->decided && strcmp(mv[i]->state, "submitted"))
					r->decided = mv[i];
			}
		}
		if (!r->face)
			r->face = mv[a];
		if (r->ideas >= min && (!product || !strcmp(product, r->product)) &&
		    (!category || !strcmp(category, r->category)))
			nrows++;
		a = b;
	}
	if (!rc && nrows)
		qsort(rows, nrows, sizeof(*rows), cmp_rows);
	for (size_t i = 0; !rc && i < nrows; i++) {
		const struct group_row *r = &rows[i];
		char hex[TR_ID_HEX_SIZE];
		json_t *ids = json_array();
		tr_id_hex(r->face->id, hex);
		for (size_t k = r->a; k < r->b; k++) {
			char h2[TR_ID_HEX_SIZE];
			tr_id_hex(mv[k]->id, h2);
			json_array_append_new(ids, json_string(h2));
		}
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:o}", "group", hex,
		              "title", r->face->title, "ideas", (json_int_t)r->ideas, "firms",
		              (json_int_t)r->firms, "distributors", (json_int_t)r->distributors,
		              "product", r->product, "category", r->category, "status",
		              r->decided ? r->decided->state : "submitted", "assessments",
		              (json_int_t)r->assessments, "members", ids));
	}
	free(mv);
	free(rows);
	free(stmp);
	free(ktmp);
	free(v.m);
	free(v.mg);
	tr_grouper_free(&v.g);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && *s ? s : "-";
}

static int idea_groups(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "idea groups", "",
	    "The ideas this node holds, grouped: near-duplicates raised by several user firms "
	    "in their own words are one group. Each group shows how many ideas, user firms and "
	    "distributors (the partners the ideas came from) raised it, its main product and "
	    "category, its latest status, and the assessments passed on with its ideas.",
	    "Groups follow the words of each idea's title and text (trestle(1), \"trestle "
	    "idea\");\n"
	    "`trestle idea merge` and `trestle idea split` correct them by hand.\n"
	    "User firms are counted by their node key, the only name a producer has for them."};
	const char *product = NULL, *category = NULL;
	int json = 0;
	uint64_t min = 1;
	const tr_opt opts[] = {
	    {"product", 'p', TR_OPT_STR, &product, "PRODUCT", "only groups about this product"},
	    {"category", 'c', TR_OPT_STR, &category, "CATEGORY", "only groups of this category"},
	    {"min", 0, TR_OPT_U64, &min, "N", "only groups of at least N ideas"},
	    {"json", 0, TR_OPT_FLAG, &json, NULL, "print a JSON array"},
	    {0}};
	const char *pos[1];
	size_t npos;
	json_t *arr;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	if ((rc = tr_idea_groups(cli, product, category, min, &arr)) != 0)
		return tr_cli_error("cannot group the ideas: %s", tr_strerror(rc));
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!json_array_size(arr) && cli->out_tty)
		fprintf(stderr, "no ideas here%s\n",
		        product || category || min > 1 ? " that match" : "");
	for (size_t i = 0; !json && i < json_array_size(arr); i++) {
		json_t *g = json_array_get(arr, i);
		if (!i)
			printf("%-12s %5s %5s %5s  %-10s %-12s %-12s %s\n", "GROUP", "IDEAS",
			       "FIRMS", "DISTR", "PRODUCT", "CATEGORY", "STATUS", "TITLE");
		printf("%.12s %5lld %5lld %5lld  %-10.10s %-12.12s %-12.12s %.60s\n",
		       jstr(g, "group"), (long long)json_integer_value(json_object_get(g, "ideas")),
		       (long long)json_integer_value(json_object_get(g, "firms")),
		       (long long)json_integer_value(json_object_get(g, "distributors")),
		       jstr(g, "product"), jstr(g, "category"), jstr(g, "status"),
		       jstr(g, "title"));
	}
	json_decref(arr);
	return 0;
}

/* ---- merge, split ---- */

struct change_ctx {
	tr_cli *cli;
	uint8_t id[TR_ID_BYTES], into[TR_ID_BYTES];
	const char *message;
	int split;
	size_t written;
	char why[400];
};

static int change_fn(tr_txn *t, void *vctx)
{
	struct change_ctx *c = vctx;
	char hex[TR_ID_HEX_SIZE], hex2[TR_ID_HEX_SIZE], detail[300];
	const uint8_t *env;
	size_t len;
	tr_record rec;
	int rc;
	c->written = 0;
	c->why[0] = '\0';
	tr_id_hex(c->id, hex);
	if ((rc = tr_txn_get(t, c->id, &env, &len, NULL, NULL)) != 0)
		return rc;
	if (tr_record_decode(env, len, &rec) != 0)
		return TR_ECORRUPT;
	if (!tr_str_eq(rec.kind, "idea")) {
		snprintf(c->why, sizeof(c->why), "%.12s is a %.*s, not an idea", hex,
		         (int)rec.kind.n, rec.kind.p);
		return TR_EINVAL;
	}
	if (c->split) {
		char key[80];
		snprintf(key, sizeof(key), SPLIT_NOTE "%.40s", hex);
		if ((rc = tr_txn_note_put(t, key, "1", 1)) != 0)
			return rc;
		snprintf(detail, sizeof(detail), "%.16s out of its group (by %s)", hex,
		         tr_cli_who());
		return tr_txn_audit(t, tr_now_ms(), "idea-split", detail);
	}
	tr_id_hex(c->into, hex2);
	if ((rc = tr_txn_get(t, c->into, &env, &len, NULL, NULL)) != 0)
		return rc;
	if (tr_record_decode(env, len, &rec) != 0)
		return TR_ECORRUPT;
	if (!tr_str_eq(rec.kind, "idea")) {
		snprintf(c->why, sizeof(c->why), "%.12s is a %.*s, not an idea", hex2,
		         (int)rec.kind.n, rec.kind.p);
		return TR_EINVAL;
	}
	if (!memcmp(c->id, c->into, TR_ID_BYTES)) {
		snprintf(c->why, sizeof(c->why), "an idea cannot be merged into itself");
		return TR_EINVAL;
	}
	char now[TR_MAX_NAME + 1];
	if ((rc = tr_txn_state(t, c->id, "idea", now, sizeof(now))) != 0 ||
	    (rc = tr_lifecycle_check("idea", now, "merged", c->why, sizeof(c->why))) != 0)
		return rc;
	/* a "merged" status for the idea, naming the idea it joins; it goes back down the
	 * way the idea came (the partner's rule for statuses with --replies), one hop
	 * beyond the distributor, to the user firm that wrote it */
	tr_record st;
	tr_mpw w;
	char msg[400];
	tr_record_init(&st);
	st.kind.p = "status";
	st.kind.n = 6;
	st.nrefs = 2;
	memcpy(st.refs[0], c->id, TR_ID_BYTES);
	memcpy(st.refs[1], c->into, TR_ID_BYTES);
	st.terms.hops = 1;
	st.terms.roles = TR_ROLE_USER;
	snprintf(msg, sizeof(msg), "%s", c->message ? c->message : "merged with a like idea");
	tr_record_add_str(&st, "state", "merged", 6);
	tr_record_add_str(&st, "message", msg, strlen(msg));
	tr_record_add_str(&st, "into", hex2, strlen(hex2));
	tr_mpw_init(&w);
	rc = tr_txn_create(t, c->cli->key, &st, tr_now_ms(), &w, c->why, sizeof(c->why));
	tr_mpw_release(&w);
	if (rc)
		return rc;
	c->written = 1;
	/* a merge by hand after a split by hand: the merge holds */
	char key[80];
	snprintf(key, sizeof(key), SPLIT_NOTE "%.40s", hex);
	const void *val;
	size_t vlen;
	if (tr_txn_note_get(t, key, &val, &vlen) == 0 &&
	    (rc = tr_txn_note_put(t, key, "0", 1)) != 0)
		return rc;
	snprintf(detail, sizeof(detail), "%.16s into %.16s (by %s)", hex, hex2, tr_cli_who());
	return tr_txn_audit(t, tr_now_ms(), "idea-merge", detail);
}

static int idea_change(tr_cli *cli, int argc, char **argv, int split)
{
	static const tr_cmd_help mh = {
	    "idea merge", "IDEA --into IDEA",
	    "Merge an idea into another's group, by hand: writes a signed status \"merged\" for "
	    "it, naming the idea it joins, which travels back down the way the idea came (with "
	    "the partners' rules for statuses), so the user firm that wrote it learns where it "
	    "went. Only a producer merges.",
	    "example:\n  trestle idea merge 9f3a2c --into 51c0e2 --message \"same as the dosing "
	    "idea\""};
	static const tr_cmd_help sh = {
	    "idea split", "IDEA",
	    "Take an idea out of its group into one of its own, at this node (nothing is sent).",
	    NULL};
	static struct change_ctx c;
	const char *into = NULL;
	memset(&c, 0, sizeof(c));
	const tr_opt mopts[] = {
	    {"into", 0, TR_OPT_STR, &into, "IDEA", "the idea whose group it joins (required)"},
	    {"message", 'm', TR_OPT_STR, &c.message, "TEXT", "for the firms that raised it"},
	    {0}};
	const tr_opt none[] = {{0}};
	const char *pos[1];
	size_t npos;
	const tr_cmd_help *h = split ? &sh : &mh;
	int rc = tr_cli_begin(cli, h, split ? none : mopts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1 || (!split && !into))
		return tr_opt_usage_error(h,
		                          split ? "give an IDEA" : "give an IDEA and --into IDEA");
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	if (!split && strcmp(cli->config.role, "producer"))
		return tr_cli_error(
		    "only a producer merges ideas (this node is a %s): its \"merged\" "
		    "status tells the firms that raised them",
		    cli->config.role);
	if ((rc = tr_cli_resolve(cli, pos[0], c.id)) != 0 ||
	    (!split && (rc = tr_cli_resolve(cli, into, c.into)) != 0))
		return rc;
	c.cli = cli;
	c.split = split;
	rc = tr_store_write(cli->store, change_fn, &c);
	if (rc && c.why[0])
		return tr_cli_error("%s; nothing changed", c.why);
	if (rc)
		return tr_cli_error("nothing changed: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	if (split)
		printf("%s is in a group of its own here\n", pos[0]);
	else
		printf(
		    "merged %s into %s's group; its \"merged\" status goes back to the firm that "
		    "raised it\n",
		    pos[0], into);
	return 0;
}

int cmd_idea(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "idea", "new|show|list|status|groups|merge|split ...",
	    "Ideas, their states, and grouped:\n"
	    "  new FIELD=VALUE... [options of record create]\n"
	    "  show IDEA                                 the idea, its state and its history\n"
	    "  list [--state S] [--json]                 ideas with their state now\n"
	    "  status IDEA STATE [--message TEXT]        a decision (a producer) or a note\n"
	    "  groups [--product P] [--category C] [--min N] [--json]\n"
	    "  merge IDEA --into IDEA [--message TEXT]   (a producer)\n"
	    "  split IDEA",
	    "`trestle idea SUBCOMMAND --help` tells more. Ideas are created with `trestle record "
	    "create idea`."};
	if (argc < 2)
		return tr_opt_usage_error(&h, "which subcommand?");
	if (!strcmp(argv[1], "groups"))
		return idea_groups(cli, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list") || !strcmp(argv[1], "status") || !strcmp(argv[1], "new") ||
	    !strcmp(argv[1], "show"))
		return tr_kind_verb(cli, argc, argv, &tr_verbs_idea);
	if (!strcmp(argv[1], "merge"))
		return idea_change(cli, argc - 1, argv + 1, 0);
	if (!strcmp(argv[1], "split"))
		return idea_change(cli, argc - 1, argv + 1, 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		const tr_opt none[] = {{0}};
		tr_opt_help(&h, none, stdout);
		return 0;
	}
	return tr_opt_usage_error(&h, "unknown subcommand \"%s\"", argv[1]);
}
