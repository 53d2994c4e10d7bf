/* cmd_policy.c: `trestle policy add|list|show|remove|test|allow|deny`: the rules that
 * say what goes to which partner. Default deny: nothing leaves this node until a rule
 * or a grant (`trestle share`) allows it, and then only what the author's terms and
 * consent allow (node/share.c decides). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "../../proto/banned.h"

static const tr_cmd_help policy_help = {
    "policy", "SUBCOMMAND ...",
    "Decide what goes to which partner. Nothing is shared unless a rule allows it. "
    "Subcommands:\n"
    "  add PARTNER KIND [--fields F,G] [--where FIELD=PATTERN]... [--forward] [--replies]\n"
    "                       a rule: share records of KIND with PARTNER\n"
    "  list [PARTNER]       the rules\n"
    "  show RULE            one rule\n"
    "  remove RULE [--retract]  drop a rule (and retract what no other rule allows)\n"
    "  test PARTNER [rule options]  dry run: what PARTNER would receive\n"
    "  allow PARTNER KIND   shorthand: add PARTNER KIND --forward (all fields)\n"
    "  deny PARTNER KIND    shorthand: remove every rule of PARTNER for KIND",
    "Whatever a rule says, a record never goes back to the partner it came from nor to\n"
    "its author, and a record written elsewhere goes only as far, to the roles and with\n"
    "the fields its author's terms allow, and (ideas, claims, trial answers) only with\n"
    "its author's consent. Kinds: `trestle kinds`. `trestle policy SUBCOMMAND --help`."};

#define RULE_OPTS(o)                                                                               \
	{"fields",   'f',                                                                          \
	 TR_OPT_STR, &(o).fields,                                                                  \
	 "F,G",      "disclose only these fields (default: all); the others travel as digests"},   \
	    {"where",                                                                              \
	     'w',                                                                                  \
	     TR_OPT_LIST,                                                                          \
	     &(o).where,                                                                           \
	     "FIELD=PATTERN",                                                                      \
	     "only records whose FIELD matches (glob * ?, alternatives a|b); repeat: all hold"},   \
	    {"forward",                                                                            \
	     0,                                                                                    \
	     TR_OPT_FLAG,                                                                          \
	     &(o).forward,                                                                         \
	     NULL,                                                                                 \
	     "also pass on records received from other nodes (else only this node's own)"},        \
	{                                                                                          \
		"replies", 0, TR_OPT_FLAG, &(o).replies, NULL,                                     \
		    "only records referring to a record that came from PARTNER or went to it "     \
		    "(statuses, answers)"                                                          \
	}

struct rule_opts {
	const char *fields;
	tr_strlist where;
	int forward, replies;
};

/* Builds a rule from its options (partner set later); prints a usage error. */
static int build_rule(const tr_cmd_help *h, const struct rule_opts *o, const char *kind, tr_rule *r)
{
	char why[300];
	memset(r, 0, sizeof(*r));
	if (strlen(kind) > TR_MAX_NAME || !tr_kind_find(kind, strlen(kind)))
		return tr_opt_usage_error(h, "\"%s\" is not a record kind (see `trestle kinds`)",
		                          kind);
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	r->all_fields = !o->fields;
	if (o->fields && tr_cli_fields(o->fields, r->fields, &r->nfields, why, sizeof(why)))
		return tr_opt_usage_error(h, "--fields: %s", why);
	if (o->where.n > TR_RULE_MAX_CONDS)
		return tr_opt_usage_error(h, "at most %d --where", TR_RULE_MAX_CONDS);
	for (size_t i = 0; i < o->where.n; i++)
		if (tr_cond_parse(o->where.v[i], &r->conds[r->nconds++], why, sizeof(why)))
			return tr_opt_usage_error(h, "--where: %s", why);
	r->flags = (o->forward ? TR_RULE_FORWARD : 0) | (o->replies ? TR_RULE_REPLIES : 0);
	if (tr_rule_check(r, why, sizeof(why)))
		return tr_opt_usage_error(h, "%s", why);
	return 0;
}

static json_t *rule_json(const tr_rule *r, const char *partner)
{
	char when[40];
	json_t *fields = json_null(), *where = json_array();
	if (!r->all_fields) {
		fields = json_array();
		for (size_t i = 0; i < r->nfields; i++)
			json_array_append_new(fields, json_string(r->fields[i]));
	}
	for (size_t i = 0; i < r->nconds; i++)
		json_array_append_new(where, json_pack("{s:s, s:s}", "field", r->conds[i].field,
		                                       "pattern", r->conds[i].pattern));
	tr_time_iso(r->created_ms, when, sizeof(when));
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:b, s:b, s:s, s:I}", "id", (json_int_t)r->id,
	                 "partner", partner, "kind", r->kind, "fields", fields, "where", where,
	                 "forward", (r->flags & TR_RULE_FORWARD) != 0, "replies",
	                 (r->flags & TR_RULE_REPLIES) != 0, "since", when, "version",
	                 (json_int_t)r->version);
}

/* ---- add, allow ---- */

struct add_ctx {
	const char *partner;
	tr_rule rule;
	int allow; /* the allow shorthand */
	tr_partner p;
	uint64_t backfilled, version;
	char why[300];
};

static int add_fn(tr_txn *t, void *vctx)
{
	struct add_ctx *c = vctx;
	char desc[600], detail[800];
	int rc = tr_txn_partner_find(t, c->partner, &c->p);
	if (rc)
		return rc;
	c->rule.partner = c->p.index;
	rc =
	    c->allow
	        ? tr_txn_policy_allow(t, c->p.index, c->rule.kind, tr_now_ms(), &c->backfilled)
	        : tr_txn_rule_add(t, &c->rule, tr_now_ms(), &c->backfilled, c->why, sizeof(c->why));
	if (rc)
		return rc;
	tr_txn_policy_version(t, &c->version);
	if (c->allow) {
		/* the id of the rule allow added: the last one */
		c->rule.id = 0;
		c->rule.all_fields = 1;
		c->rule.flags = TR_RULE_FORWARD;
	}
	tr_rule_describe(&c->rule, desc, sizeof(desc));
	snprintf(detail, sizeof(detail), "%s: %s (by %s, policy version %" PRIu64 ")", c->p.name,
	         desc, tr_cli_who(), c->version);
	return tr_txn_audit(t, tr_now_ms(), "policy-add", detail);
}

static int report_partner_error(int rc, const char *partner)
{
	if (rc == TR_ENOTFOUND)
		return tr_cli_error("no partner named %s (see `trestle partner list`)", partner);
	return -1;
}

static int policy_add(tr_cli *cli, int argc, char **argv, int allow)
{
	static const tr_cmd_help add_help = {
	    "policy add", "PARTNER KIND",
	    "Add a rule: share records of KIND with PARTNER, those written (or, with --forward, "
	    "received) from now on and those already here that it does not have yet.",
	    "Several rules for the same partner and kind add up: a record goes if any matches,\n"
	    "with the fields of every rule that matches. A condition on a field this node was\n"
	    "not shown never holds.\n"
	    "examples:\n"
	    "  trestle policy add acme idea --fields title,text,product,category --forward\n"
	    "  trestle policy add acme claim --where product=DW-* --fields product,problem,opened\n"
	    "  trestle policy add cafe-nord status --forward --replies"};
	static const tr_cmd_help allow_help = {
	    "policy allow", "PARTNER KIND",
	    "Shorthand for `policy add PARTNER KIND --forward`: all fields, own and received "
	    "records.",
	    "example:\n  trestle policy allow acme-dishwashers idea"};
	const tr_cmd_help *h = allow ? &allow_help : &add_help;
	struct rule_opts o;
	memset(&o, 0, sizeof(o));
	const tr_opt opts[] = {RULE_OPTS(o), {0}};
	const tr_opt none[] = {{0}};
	const char *pos[2];
	size_t npos;
	static struct add_ctx c;
	memset(&c, 0, sizeof(c));
	int rc = tr_cli_begin(cli, h, allow ? none : opts, argc, argv, pos, 2, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 2)
		return tr_opt_usage_error(h, "give a PARTNER (name or node id) and a KIND");
	if ((rc = build_rule(h, &o, pos[1], &c.rule)) != 0)
		return rc;
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	c.partner = pos[0];
	c.allow = allow;
	rc = tr_store_write(cli->store, add_fn, &c);
	if (rc == TR_ENOTFOUND && !c.p.name[0])
		return report_partner_error(rc, pos[0]);
	if (rc == TR_EEXIST)
		return tr_cli_error("%s is already allowed for %s; nothing changed", pos[1],
		                    c.p.name);
	if (rc == TR_EINVAL)
		return tr_cli_error("%s; nothing changed", c.why);
	if (rc)
		return tr_cli_error("the policy was not changed: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	char desc[600];
	tr_rule_describe(&c.rule, desc, sizeof(desc));
	if (allow)
		printf("allowed %s for %s", pos[1], c.p.name);
	else
		printf("added rule %" PRIu32 " for %s: %s", c.rule.id, c.p.name, desc);
	printf(" (policy version %" PRIu64 "; %" PRIu64 " record%s already here queued for it)\n",
	       c.version, c.backfilled, c.backfilled == 1 ? "" : "s");
	return 0;
}

/* ---- remove, deny ---- */

struct remove_ctx {
	uint32_t id;
	const char *partner, *kind; /* deny */
	int retract;
	tr_rule rule;
	tr_partner p;
	uint64_t narrowed, retracted, version;
};

static int remove_fn(tr_txn *t, void *vctx)
{
	struct remove_ctx *c = vctx;
	char desc[600], detail[900];
	int rc;
	c->narrowed = c->retracted = 0;
	if (c->partner) {
		if ((rc = tr_txn_partner_find(t, c->partner, &c->p)) != 0)
			return rc;
		if ((rc = tr_txn_policy_deny(t, c->p.index, c->kind)) != 0)
			return rc == TR_ENOTFOUND ? TR_EAMBIG : rc; /* "no rule" vs "no partner" */
		snprintf(desc, sizeof(desc), "every %s rule", c->kind);
	} else {
		if ((rc = tr_txn_rule_get(t, c->id, &c->rule)) != 0)
			return rc;
		tr_partner_name_of(t, c->rule.partner, c->p.name, sizeof(c->p.name));
		if ((rc = tr_txn_rule_remove(t, c->id, c->retract, tr_now_ms(), &c->narrowed,
		                             &c->retracted)) != 0)
			return rc;
		char d[500];
		tr_rule_describe(&c->rule, d, sizeof(d));
		snprintf(desc, sizeof(desc), "rule %" PRIu32 " (%s)", c->id, d);
	}
	tr_txn_policy_version(t, &c->version);
	snprintf(detail, sizeof(detail),
	         "%s: %s%s (by %s, policy version %" PRIu64 "; %" PRIu64 " retracted)", c->p.name,
	         desc, c->retract ? " --retract" : "", tr_cli_who(), c->version, c->retracted);
	return tr_txn_audit(t, tr_now_ms(), "policy-remove", detail);
}

static int policy_remove(tr_cli *cli, int argc, char **argv, int deny)
{
	static const tr_cmd_help remove_help = {
	    "policy remove", "RULE",
	    "Remove a rule (its number from `trestle policy list`). From the partner's next pull "
	    "on, what only this rule allowed no longer goes.",
	    "With --retract, what the partner already received and no other rule or grant\n"
	    "allows is retracted: a signed retraction goes to it, an honest node deletes those\n"
	    "fields (or the whole body) and answers with a receipt (`trestle retractions`)."};
	static const tr_cmd_help deny_help = {
	    "policy deny", "PARTNER KIND",
	    "Remove every rule of PARTNER for KIND. Takes effect on its next pull; what it "
	    "already received stays with it.",
	    NULL};
	const tr_cmd_help *h = deny ? &deny_help : &remove_help;
	static struct remove_ctx c;
	memset(&c, 0, sizeof(c));
	const tr_opt opts[] = {{"retract", 0, TR_OPT_FLAG, &c.retract, NULL,
	                        "retract what the partner received that no rule allows now"},
	                       {0}};
	const tr_opt none[] = {{0}};
	const char *pos[2];
	size_t npos;
	int rc = tr_cli_begin(cli, h, deny ? none : opts, argc, argv, pos, 2, &npos, 0);
	if (rc >= 0)
		return rc;
	if (deny) {
		if (npos != 2)
			return tr_opt_usage_error(h, "give a PARTNER and a KIND");
		c.partner = pos[0];
		c.kind = pos[1];
	} else {
		char *end;
		if (npos != 1)
			return tr_opt_usage_error(
			    h, "give one RULE number (see `trestle policy list`)");
		unsigned long v = strtoul(pos[0], &end, 10);
		if (*end || !*pos[0] || v == 0 || v > UINT32_MAX)
			return tr_opt_usage_error(h, "\"%s\" is not a rule number", pos[0]);
		c.id = (uint32_t)v;
	}
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	rc = tr_store_write(cli->store, remove_fn, &c);
	if (rc == TR_ENOTFOUND && deny)
		return report_partner_error(rc, pos[0]);
	if (rc == TR_EAMBIG)
		return tr_cli_error("%s had no rule for %s; nothing changed", c.p.name, c.kind);
	if (rc == TR_ENOTFOUND)
		return tr_cli_error("there is no rule %s (see `trestle policy list`)", pos[0]);
	if (rc)
		return tr_cli_error("the policy was not changed: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	if (deny)
		printf("denied %s for %s (policy version %" PRIu64 ")\n", c.kind, c.p.name,
		       c.version);
	else {
		printf("removed rule %" PRIu32 " for %s (policy version %" PRIu64 ")", c.id,
		       c.p.name, c.version);
		if (c.retract)
			printf("; %" PRIu64 " retraction%s queued", c.retracted,
			       c.retracted == 1 ? "" : "s");
		else if (c.narrowed)
			printf("; %" PRIu64 " record%s it already has no rule allows now (retract "
			       "with `trestle retract`)",
			       c.narrowed, c.narrowed == 1 ? "" : "s");
		printf("\n");
	}
	return 0;
}

/* ---- list, show ---- */

struct list_ctx {
	int json;
	uint32_t only, want; /* want: show one rule */
	json_t *arr;
	size_t rows;
	tr_txn *t;
};

static int list_row(void *vctx, const tr_rule *r)
{
	struct list_ctx *l = vctx;
	char name[TR_PARTNER_NAME_MAX + 1], desc[600], when[40];
	if (l->want && r->id != l->want)
		return 0;
	tr_partner_name_of(l->t, r->partner, name, sizeof(name));
	if (l->json) {
		json_array_append_new(l->arr, rule_json(r, name));
	} else if (l->want) {
		tr_time_iso(r->created_ms, when, sizeof(when));
		tr_rule_describe(r, desc, sizeof(desc));
		printf("rule     %" PRIu32 "\npartner  %s\nkind     %s\nfields   ", r->id, name,
		       r->kind);
		if (r->all_fields)
			printf("all\n");
		for (size_t i = 0; !r->all_fields && i < r->nfields; i++)
			printf("%s%s", r->fields[i], i + 1 < r->nfields ? ", " : "\n");
		if (!r->all_fields && !r->nfields)
			printf("none (only the signed header and digests)\n");
		printf("where    ");
		for (size_t i = 0; i < r->nconds; i++)
			printf("%s%s=%s", i ? " and " : "", r->conds[i].field, r->conds[i].pattern);
		printf("%s\nrecords  %s%s\nsince    %s (policy version %" PRIu64 ")\n",
		       r->nconds ? "" : "any",
		       (r->flags & TR_RULE_FORWARD) ? "own and received" : "own only",
		       (r->flags & TR_RULE_REPLIES) ? ", replies to what came from this partner"
		                                    : "",
		       when, r->version);
	} else {
		tr_time_short(r->created_ms, when, sizeof(when));
		tr_rule_describe(r, desc, sizeof(desc));
		if (!l->rows)
			printf("%-5s %-20s %-16s %s\n", "RULE", "PARTNER", "SINCE", "WHAT");
		printf("%-5" PRIu32 " %-20s %-16s %s\n", r->id, name, when, desc);
	}
	l->rows++;
	return 0;
}

struct list_fn_ctx {
	struct list_ctx *l;
	const char *partner;
	uint64_t version;
};

static int list_fn(tr_txn *t, void *vctx)
{
	struct list_fn_ctx *c = vctx;
	c->l->t = t;
	c->l->rows = 0;
	if (c->partner) {
		tr_partner p;
		int rc = tr_txn_partner_find(t, c->partner, &p);
		if (rc)
			return rc;
		c->l->only = p.index;
	}
	tr_txn_policy_version(t, &c->version);
	return tr_txn_rule_scan(t, c->l->only, list_row, c->l);
}

static int policy_list(tr_cli *cli, int argc, char **argv, int show)
{
	static const tr_cmd_help list_help = {
	    "policy list", "[PARTNER]",
	    "List the sharing rules, of every partner or of one: number, partner, since when, "
	    "kind, fields, conditions.",
	    NULL};
	static const tr_cmd_help show_help = {"policy show", "RULE", "Show one sharing rule.",
	                                      NULL};
	const tr_cmd_help *h = show ? &show_help : &list_help;
	struct list_ctx l;
	memset(&l, 0, sizeof(l));
	const tr_opt opts[] = {
	    {"json", 0, TR_OPT_FLAG, &l.json, NULL, show ? "print JSON" : "print a JSON array"},
	    {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, h, opts, argc, argv, pos, 1, &npos, 1);
	if (rc >= 0)
		return rc;
	if (show) {
		char *end;
		unsigned long v = npos ? strtoul(pos[0], &end, 10) : 0;
		if (!npos || *end || v == 0 || v > UINT32_MAX)
			return tr_opt_usage_error(
			    h, "give one RULE number (see `trestle policy list`)");
		l.want = (uint32_t)v;
	}
	struct list_fn_ctx c = {&l, show || !npos ? NULL : pos[0], 0};
	l.arr = json_array();
	rc = tr_store_read(cli->store, list_fn, &c);
	if (!rc && show && !l.rows)
		rc = TR_EAMBIG;
	if (!rc && l.json) {
		json_t *out = show ? json_array_get(l.arr, 0) : l.arr;
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!rc && !l.rows && cli->out_tty)
		fprintf(stderr, "nothing is shared: add a rule with `trestle policy add`\n");
	else if (!rc && !show && cli->out_tty)
		fprintf(stderr, "policy version %" PRIu64 "\n", c.version);
	json_decref(l.arr);
	if (rc == TR_EAMBIG)
		return tr_cli_error("there is no rule %s (see `trestle policy list`)", pos[0]);
	if (rc == TR_ENOTFOUND)
		return tr_cli_error("no partner named %s (see `trestle partner list`)", pos[0]);
	return rc ? tr_cli_error("cannot list the rules: %s", tr_strerror(rc)) : 0;
}

/* ---- test: a dry run ---- */

struct test_ctx {
	int json;
	json_t *arr;
	uint64_t fresh, more, has;
};

static json_t *bits_json(const tr_record *rec, uint32_t bits)
{
	json_t *a = json_array();
	for (size_t i = 0; i < rec->nfields; i++)
		if ((bits & (1u << i)) && rec->fields[i].disclosed)
			json_array_append_new(
			    a, json_stringn(rec->fields[i].name.p, rec->fields[i].name.n));
	return a;
}

static void bits_text(const tr_record *rec, uint32_t bits, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < rec->nfields && o + 1 < n; i++)
		if ((bits & (1u << i)) && rec->fields[i].disclosed)
			o += (size_t)snprintf(out + o, n - o, "%s%.*s", o ? "," : "",
			                      (int)rec->fields[i].name.n, rec->fields[i].name.p);
	if (!o)
		snprintf(out, n, "(header only)");
}

static int test_row(void *vctx, const tr_hit *h, uint32_t give, int held, uint32_t had)
{
	struct test_ctx *c = vctx;
	char hex[TR_ID_HEX_SIZE], fields[600], extra[600];
	const char *state = !held ? "new" : (give & ~had) ? "more fields" : "has it";
	tr_id_hex(h->rec->id, hex);
	if (!held)
		c->fresh++;
	else if (give & ~had)
		c->more++;
	else
		c->has++;
	if (c->json) {
		json_array_append_new(
		    c->arr, json_pack("{s:s, s:o, s:o, s:s, s:o}", "id", hex, "kind",
		                      json_stringn(h->rec->kind.p, h->rec->kind.n), "fields",
		                      bits_json(h->rec, give), "state", state, "had",
		                      held ? bits_json(h->rec, had) : json_null()));
		return 0;
	}
	bits_text(h->rec, give, fields, sizeof(fields));
	if (c->fresh + c->more + c->has == 1)
		printf("%-12s %-13s %-12s %s\n", "RECORD", "KIND", "STATE", "FIELDS IT WOULD SEE");
	printf("%.12s %-13.*s %-12s %s", hex, (int)h->rec->kind.n, h->rec->kind.p, state, fields);
	if (held && (give & ~had)) {
		bits_text(h->rec, give & ~had, extra, sizeof(extra));
		printf("  (+%s)", extra);
	}
	printf("\n");
	return 0;
}

struct test_fn_ctx {
	const char *partner;
	tr_rule *extra;
	struct test_ctx *c;
	tr_partner p;
};

static int test_fn(tr_txn *t, void *vctx)
{
	struct test_fn_ctx *f = vctx;
	int rc = tr_txn_partner_find(t, f->partner, &f->p);
	if (rc)
		return rc;
	if (f->extra)
		f->extra->partner = f->p.index;
	f->c->fresh = f->c->more = f->c->has = 0;
	return tr_txn_policy_test(t, f->p.index, f->extra, test_row, f->c);
}

static int policy_test(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "policy test", "PARTNER [--kind KIND [rule options]]",
	    "Dry run: list what PARTNER would receive under this node's rules and grants, with "
	    "the fields it would see, and whether it has that already. With --kind and the "
	    "options of `policy add`, as if that rule were added too. Nothing is changed.",
	    "STATE: new (it does not hold the record yet, or has not pulled its newest copy),\n"
	    "more fields (it holds it and would see more of it), has it. What it holds is what\n"
	    "it pulled, as the daemon wrote it down (once a second).\n"
	    "example:\n  trestle policy test acme --kind claim --where product=DW-* --fields "
	    "product,problem"};
	struct rule_opts o;
	struct test_ctx c;
	const char *kind = NULL;
	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	const tr_opt opts[] = {{"kind", 'k', TR_OPT_STR, &kind, "KIND", "a rule to try: its kind"},
	                       RULE_OPTS(o),
	                       {"json", 0, TR_OPT_FLAG, &c.json, NULL, "print a JSON array"},
	                       {0}};
	const char *pos[1];
	size_t npos;
	static tr_rule extra;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1)
		return tr_opt_usage_error(&h, "give a PARTNER");
	if (!kind && (o.fields || o.where.n || o.forward || o.replies))
		return tr_opt_usage_error(&h, "rule options need --kind");
	if (kind && (rc = build_rule(&h, &o, kind, &extra)) != 0)
		return rc;
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	struct test_fn_ctx f;
	memset(&f, 0, sizeof(f));
	f.partner = pos[0];
	f.extra = kind ? &extra : NULL;
	f.c = &c;
	c.arr = json_array();
	rc = tr_store_read(cli->store, test_fn, &f);
	if (!rc && c.json) {
		json_dumpf(c.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(c.arr);
	if (rc == TR_ENOTFOUND)
		return report_partner_error(rc, pos[0]);
	if (rc)
		return tr_cli_error("cannot run the dry run: %s", tr_strerror(rc));
	if (!c.json)
		printf("%s would receive %" PRIu64 " record%s: %" PRIu64 " new, %" PRIu64
		       " with more fields, %" PRIu64 " it has%s\n",
		       f.p.name, c.fresh + c.more + c.has, c.fresh + c.more + c.has == 1 ? "" : "s",
		       c.fresh, c.more, c.has, kind ? " (with the rule tried)" : "");
	return 0;
}

int cmd_policy(tr_cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return tr_opt_usage_error(&policy_help, "which subcommand?");
	const char *sub = argv[1];
	if (!strcmp(sub, "add"))
		return policy_add(cli, argc - 1, argv + 1, 0);
	if (!strcmp(sub, "allow"))
		return policy_add(cli, argc - 1, argv + 1, 1);
	if (!strcmp(sub, "remove"))
		return policy_remove(cli, argc - 1, argv + 1, 0);
	if (!strcmp(sub, "deny"))
		return policy_remove(cli, argc - 1, argv + 1, 1);
	if (!strcmp(sub, "list"))
		return policy_list(cli, argc - 1, argv + 1, 0);
	if (!strcmp(sub, "show"))
		return policy_list(cli, argc - 1, argv + 1, 1);
	if (!strcmp(sub, "test"))
		return policy_test(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		const tr_opt none[] = {{0}};
		tr_opt_help(&policy_help, none, stdout);
		return 0;
	}
	return tr_opt_usage_error(&policy_help, "unknown subcommand \"%s\"", sub);
}
