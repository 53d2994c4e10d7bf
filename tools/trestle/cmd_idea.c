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
	uint64_t created_ms;
	char title[201], product[65], category[65];
};

struct status {
	uint8_t target[TR_ID_BYTES], into[TR_ID_BYTES];
	int has_into;
	uint64_t created_ms;
	char state[33];
	char joined[TR_ID_HEX_SIZE]; /* merged: the "into" field, the idea joined */
};

struct view {
	tr_grouper *g;
	struct member *m;
	size_t n, cap;
	struct status *st;
	size_t nst, stcap;
	size_t *assess; /* per member */
	tr_txn *t;
	int err;
};

static void field_copy(const tr_record *rec, const char *name, char *out, size_t n)
{
	const tr_field *f = tr_record_field(rec, name);
	out[0] = '\0';
	if (f && f->disclosed && f->value.type == TR_VAL_STR)
		snprintf(out, n, "%.*s", (int)f->value.s.n, f->value.s.p);
}

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
	memcpy(m->id, rec->id, TR_ID_BYTES);
	memcpy(m->author, rec->author, TR_PK_BYTES);
	m->source = h->source;
	m->created_ms = rec->created_ms;
	field_copy(rec, "title", m->title, sizeof(m->title));
	field_copy(rec, "product", m->product, sizeof(m->product));
	field_copy(rec, "category", m->category, sizeof(m->category));
	/* the text it is grouped by: what this node was shown of title and text */
	char text[9000];
	const tr_field *tx = tr_record_field(rec, "text");
	int n =
	    snprintf(text, sizeof(text), "%s %.*s", m->title,
	             tx && tx->disclosed && tx->value.type == TR_VAL_STR ? (int)tx->value.s.n : 0,
	             tx && tx->disclosed && tx->value.type == TR_VAL_STR ? tx->value.s.p : "");
	double like;
	int rc = tr_grouper_add(v->g, m->id, text, n > 0 ? (size_t)n : 0, &m->group, &like);
	if (rc && rc != TR_EEXIST)
		return rc;
	v->n++;
	return 0;
}

static int status_cb(void *ctx, const tr_hit *h)
{
	struct view *v = ctx;
	const tr_record *rec = h->rec;
	const tr_field *st = tr_record_field(rec, "state");
	if (!st || !st->disclosed || st->value.type != TR_VAL_STR || rec->nrefs == 0)
		return 0;
	if (v->nst == v->stcap) {
		size_t cap = v->stcap ? v->stcap * 2 : 256;
		struct status *ns = realloc(v->st, cap * sizeof(*ns));
		if (!ns)
			return ENOMEM;
		v->st = ns;
		v->stcap = cap;
	}
	/* refs are sorted in the record: which one is the idea and which the target of a
	 * merge is for the caller to tell, by which of them is an idea here */
	struct status *s = &v->st[v->nst++];
	memset(s, 0, sizeof(*s));
	memcpy(s->target, rec->refs[0], TR_ID_BYTES);
	if (rec->nrefs > 1) {
		memcpy(s->into, rec->refs[1], TR_ID_BYTES);
		s->has_into = 1;
	}
	s->created_ms = rec->created_ms;
	snprintf(s->state, sizeof(s->state), "%.*s", (int)st->value.s.n, st->value.s.p);
	const tr_field *into = tr_record_field(rec, "into");
	if (into && into->disclosed && into->value.type == TR_VAL_STR)
		snprintf(s->joined, sizeof(s->joined), "%.*s", (int)into->value.s.n,
		         into->value.s.p);
	return 0;
}

static int count_hit(void *ctx, const tr_hit *h)
{
	(void)h;
	(*(size_t *)ctx)++;
	return 0;
}

static int member_of(const struct view *v, const uint8_t id[TR_ID_BYTES])
{
	for (size_t i = 0; i < v->n; i++)
		if (!memcmp(v->m[i].id, id, TR_ID_BYTES))
			return (int)i;
	return -1;
}

/* Reads the ideas, statuses and assessments, groups the ideas, and applies the merges
 * (statuses "merged" this node holds) and splits (notes of this node). */
static int view_fn(tr_txn *t, void *ctx)
{
	struct view *v = ctx;
	tr_query q;
	int rc;
	v->t = t;
	memset(&q, 0, sizeof(q));
	q.kind = "idea";
	if ((rc = tr_txn_scan(t, &q, idea_cb, v)) != 0)
		return rc;
	q.kind = "status";
	if ((rc = tr_txn_scan(t, &q, status_cb, v)) != 0)
		return rc;
	v->assess = calloc(v->n ? v->n : 1, sizeof(*v->assess));
	if (!v->assess)
		return ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		tr_query a;
		memset(&a, 0, sizeof(a));
		a.kind = "assessment";
		a.ref = v->m[i].id;
		if ((rc = tr_txn_scan(t, &a, count_hit, &v->assess[i])) != 0)
			return rc;
	}
	/* merges: "merged" statuses, the idea into the other idea it names */
	for (size_t i = 0; i < v->nst; i++) {
		const struct status *s = &v->st[i];
		if (strcmp(s->state, "merged") || !s->has_into)
			continue;
		int a = member_of(v, s->target), b = member_of(v, s->into);
		if (a < 0 || b < 0)
			continue;
		/* refs are sorted: the idea merged is the one whose group moves; either order
		 * ends in one group, which is all a merge means here */
		uint32_t ga = tr_grouper_group_of(v->g, v->m[a].id),
		         gb = tr_grouper_group_of(v->g, v->m[b].id);
		if (ga != gb)
			tr_grouper_merge(v->g, gb, ga);
	}
	/* splits: taken out of their group at this node */
	for (size_t i = 0; i < v->n; i++) {
		char key[80], hex[TR_ID_HEX_SIZE];
		const void *val;
		size_t len;
		uint32_t ng;
		tr_id_hex(v->m[i].id, hex);
		snprintf(key, sizeof(key), SPLIT_NOTE "%.40s", hex);
		if (tr_txn_note_get(t, key, &val, &len) == 0 && len == 1 &&
		    *(const char *)val == '1')
			tr_grouper_split(v->g, v->m[i].id, &ng);
	}
	for (size_t i = 0; i < v->n; i++)
		v->m[i].group = tr_grouper_group_of(v->g, v->m[i].id);
	return 0;
}

/* ---- groups ---- */

struct group_row {
	uint32_t group;
	size_t ideas, firms, distributors, assessments;
	size_t first; /* its first idea (member index) */
	int latest;   /* index of its latest status, -1 none */
	const char *product, *category;
};

static int cmp_u32p(const void *a, const void *b)
{
	const struct member *x = *(const struct member *const *)a,
	                    *y = *(const struct member *const *)b;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return 0;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct group_row *x = a, *y = b;
	if (x->firms != y->firms)
		return x->firms > y->firms ? -1 : 1;
	if (x->ideas != y->ideas)
		return x->ideas > y->ideas ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* The most frequent non-empty value of a text field among members [a, b). */
static const char *most(struct member **mv, size_t a, size_t b, size_t off)
{
	const char *best = "";
	size_t bestn = 0;
	for (size_t i = a; i < b; i++) {
		const char *x = (const char *)mv[i] + off;
		if (!*x)
			continue;
		size_t n = 0;
		for (size_t j = a; j < b; j++)
			n += !strcmp(x, (const char *)mv[j] + off);
		if (n > bestn) {
			bestn = n;
			best = x;
		}
	}
	return best;
}

static size_t distinct_count(struct member **mv, size_t a, size_t b, int by_source)
{
	size_t n = 0;
	for (size_t i = a; i < b; i++) {
		size_t j;
		for (j = a; j < i; j++)
			if (by_source ? mv[j]->source == mv[i]->source
			              : !memcmp(mv[j]->author, mv[i]->author, TR_PK_BYTES))
				break;
		n += j == i;
	}
	return n;
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
	struct member **mv = malloc((v.n ? v.n : 1) * sizeof(*mv));
	struct group_row *rows = malloc((v.n ? v.n : 1) * sizeof(*rows));
	json_t *arr = json_array();
	size_t nrows = 0;
	if (!rc && (!mv || !rows || !arr))
		rc = ENOMEM;
	for (size_t i = 0; !rc && i < v.n; i++)
		mv[i] = &v.m[i];
	/* members keep their arrival order within a group (insertion sort: stable) */
	for (size_t i = 1; !rc && i < v.n; i++)
		for (size_t j = i; j > 0 && cmp_u32p(&mv[j - 1], &mv[j]) > 0; j--) {
			struct member *x = mv[j];
			mv[j] = mv[j - 1];
			mv[j - 1] = x;
		}
	for (size_t a = 0; !rc && a < v.n;) {
		size_t b = a;
		while (b < v.n && mv[b]->group == mv[a]->group)
			b++;
		struct group_row *r = &rows[nrows];
		r->group = mv[a]->group;
		r->ideas = b - a;
		r->firms = distinct_count(mv, a, b, 0);
		r->distributors = distinct_count(mv, a, b, 1);
		/* the group's face: its first idea that was not merged away into another */
		r->first = (size_t)(mv[a] - v.m);
		for (size_t i = a; i < b; i++) {
			char hex[TR_ID_HEX_SIZE];
			int away = 0;
			tr_id_hex(mv[i]->id, hex);
			for (size_t k = 0; k < v.nst && !away; k++)
				away = !strcmp(v.st[k].state, "merged") && v.st[k].joined[0] &&
				       strcmp(v.st[k].joined, hex) &&
				       (!memcmp(v.st[k].target, mv[i]->id, TR_ID_BYTES) ||
				        (v.st[k].has_into &&
				         !memcmp(v.st[k].into, mv[i]->id, TR_ID_BYTES)));
			if (!away) {
				r->first = (size_t)(mv[i] - v.m);
				break;
			}
		}
		r->product = most(mv, a, b, offsetof(struct member, product));
		r->category = most(mv, a, b, offsetof(struct member, category));
		r->assessments = 0;
		r->latest = -1;
		for (size_t i = a; i < b; i++) {
			size_t mi = (size_t)(mv[i] - v.m);
			r->assessments += v.assess[mi];
			/* the group's own lifecycle: a "merged" status moves an idea into a
			 * group, it is not a state of the group */
			for (size_t k = 0; k < v.nst; k++)
				if (strcmp(v.st[k].state, "merged") &&
				    strcmp(v.st[k].state, "note") &&
				    (!memcmp(v.st[k].target, mv[i]->id, TR_ID_BYTES) ||
				     (v.st[k].has_into &&
				      !memcmp(v.st[k].into, mv[i]->id, TR_ID_BYTES))) &&
				    (r->latest < 0 ||
				     v.st[k].created_ms >= v.st[r->latest].created_ms))
					r->latest = (int)k;
		}
		if (r->ideas >= min && (!product || !strcmp(product, r->product)) &&
		    (!category || !strcmp(category, r->category)))
			nrows++;
		a = b;
	}
	if (!rc && nrows)
		qsort(rows, nrows, sizeof(*rows), cmp_rows);
	for (size_t i = 0; !rc && i < nrows; i++) {
		const struct group_row *r = &rows[i];
		const struct member *f = &v.m[r->first];
		char hex[TR_ID_HEX_SIZE];
		json_t *ids = json_array();
		tr_id_hex(f->id, hex);
		for (size_t k = 0; k < v.n; k++)
			if (v.m[k].group == r->group) {
				char h2[TR_ID_HEX_SIZE];
				tr_id_hex(v.m[k].id, h2);
				json_array_append_new(ids, json_string(h2));
			}
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:o}", "group", hex,
		              "title", f->title, "ideas", (json_int_t)r->ideas, "firms",
		              (json_int_t)r->firms, "distributors", (json_int_t)r->distributors,
		              "product", r->product, "category", r->category, "status",
		              r->latest >= 0 ? v.st[r->latest].state : "submitted", "assessments",
		              (json_int_t)r->assessments, "members", ids));
	}
	free(mv);
	free(rows);
	free(v.m);
	free(v.st);
	free(v.assess);
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
