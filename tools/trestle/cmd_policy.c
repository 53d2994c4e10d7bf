/* cmd_policy.c: `trestle policy allow|deny|list`: which record kinds go to which
 * partner. Default deny: nothing leaves this node until a kind is allowed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "../../proto/banned.h"

static const tr_cmd_help policy_help = {
    "policy", "SUBCOMMAND ...",
    "Decide what goes to which partner. Nothing is shared unless allowed. Subcommands:\n"
    "  allow PARTNER KIND   share records of KIND with PARTNER (those already here too)\n"
    "  deny PARTNER KIND    stop sharing them (from its next pull on)\n"
    "  list [PARTNER]       what is allowed",
    "A record never goes back to the partner it came from, nor to its author.\n"
    "Kinds: `trestle kinds`. `trestle policy SUBCOMMAND --help` tells more."};

struct pol_ctx {
	const char *partner, *kind;
	int allow;
	tr_partner p;
	uint64_t backfilled;
	char detail[200];
};

static int change_fn(tr_txn *t, void *vctx)
{
	struct pol_ctx *c = vctx;
	int rc = tr_txn_partner_find(t, c->partner, &c->p);
	if (rc)
		return rc;
	rc = c->allow ? tr_txn_policy_allow(t, c->p.index, c->kind, tr_now_ms(), &c->backfilled)
	              : tr_txn_policy_deny(t, c->p.index, c->kind);
	if (rc)
		return rc;
	snprintf(c->detail, sizeof(c->detail), "%s %s", c->p.name, c->kind);
	return tr_txn_audit(t, tr_now_ms(), c->allow ? "policy-allow" : "policy-deny", c->detail);
}

static int policy_change(tr_cli *cli, int argc, char **argv, int allow)
{
	static const tr_cmd_help helps[2] = {
	    {"policy deny", "PARTNER KIND",
	     "Stop sharing records of KIND with PARTNER. Takes effect on its next pull; what it "
	     "already received stays with it.",
	     NULL},
	    {"policy allow", "PARTNER KIND",
	     "Share records of KIND with PARTNER: those written or received from now on, and "
	     "those already in the store.",
	     "example:\n  trestle policy allow acme-dishwashers idea"}};
	const tr_cmd_help *h = &helps[allow];
	const tr_opt none[] = {{0}};
	const char *pos[2];
	size_t npos;
	int rc = tr_cli_begin(cli, h, none, argc, argv, pos, 2, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 2)
		return tr_opt_usage_error(h, "give a PARTNER (name or node id) and a KIND");
	if (!tr_kind_find(pos[1], strlen(pos[1])))
		return tr_opt_usage_error(h, "\"%s\" is not a record kind (see `trestle kinds`)",
		                          pos[1]);
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	static struct pol_ctx c;
	memset(&c, 0, sizeof(c));
	c.partner = pos[0];
	c.kind = pos[1];
	c.allow = allow;
	rc = tr_store_write(cli->store, change_fn, &c);
	if (rc == TR_ENOTFOUND && !c.p.name[0])
		return tr_cli_error("no partner named %s (see `trestle partner list`)", pos[0]);
	if (rc == TR_ENOTFOUND)
		return tr_cli_error("%s was not allowed for %s; nothing changed", pos[1], c.p.name);
	if (rc == TR_EEXIST)
		return tr_cli_error("%s is already allowed for %s; nothing changed", pos[1],
		                    c.p.name);
	if (rc)
		return tr_cli_error("the policy was not changed: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	if (allow)
		printf("allowed %s for %s (%llu record%s already here queued for it)\n", pos[1],
		       c.p.name, (unsigned long long)c.backfilled, c.backfilled == 1 ? "" : "s");
	else
		printf("denied %s for %s\n", pos[1], c.p.name);
	return 0;
}

struct list_ctx {
	int json;
	uint32_t only;
	json_t *arr;
	tr_partner *partners;
	size_t n, cap, rows;
};

static int collect_partner(void *vctx, const tr_partner *p)
{
	struct list_ctx *l = vctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		tr_partner *nv = realloc(l->partners, cap * sizeof(*nv));
		if (!nv)
			return ENOMEM;
		l->partners = nv;
		l->cap = cap;
	}
	l->partners[l->n++] = *p;
	return 0;
}

static int list_row(void *vctx, uint32_t partner, const char *kind, uint64_t since_ms)
{
	struct list_ctx *l = vctx;
	const char *name = "?";
	char when[40];
	for (size_t i = 0; i < l->n; i++)
		if (l->partners[i].index == partner)
			name = l->partners[i].name;
	tr_time_iso(since_ms, when, sizeof(when));
	if (l->json) {
		json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s}", "partner", name, "kind",
		                                        kind, "since", when));
	} else {
		if (!l->rows)
			printf("%-20s %-16s %s\n", "PARTNER", "KIND", "SINCE");
		printf("%-20s %-16s %s\n", name, kind, when);
	}
	l->rows++;
	return 0;
}

struct list_fn_ctx {
	struct list_ctx *l;
	const char *partner;
};

static int list_fn(tr_txn *t, void *vctx)
{
	struct list_fn_ctx *c = vctx;
	c->l->n = 0;
	int rc = tr_txn_partner_scan(t, collect_partner, c->l);
	if (rc)
		return rc;
	if (c->partner) {
		tr_partner p;
		if ((rc = tr_txn_partner_find(t, c->partner, &p)) != 0)
			return rc;
		c->l->only = p.index;
	}
	return tr_txn_policy_scan(t, c->l->only, list_row, c->l);
}

static int policy_list(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {"policy list", "[PARTNER]",
	                              "List the kinds allowed for each partner (or for one).",
	                              NULL};
	struct list_ctx l;
	memset(&l, 0, sizeof(l));
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &l.json, NULL, "print a JSON array"}, {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 1, &npos, 1);
	if (rc >= 0)
		return rc;
	struct list_fn_ctx c = {&l, npos ? pos[0] : NULL};
	l.arr = json_array();
	rc = tr_store_read(cli->store, list_fn, &c);
	if (!rc && l.json) {
		json_dumpf(l.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!rc && !l.rows && cli->out_tty)
		fprintf(stderr, "nothing is shared: allow a kind with `trestle policy allow`\n");
	json_decref(l.arr);
	free(l.partners);
	if (rc == TR_ENOTFOUND)
		return tr_cli_error("no partner named %s (see `trestle partner list`)", pos[0]);
	return rc ? tr_cli_error("cannot list policies: %s", tr_strerror(rc)) : 0;
}

int cmd_policy(tr_cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return tr_opt_usage_error(&policy_help, "which subcommand?");
	const char *sub = argv[1];
	if (!strcmp(sub, "allow"))
		return policy_change(cli, argc - 1, argv + 1, 1);
	if (!strcmp(sub, "deny"))
		return policy_change(cli, argc - 1, argv + 1, 0);
	if (!strcmp(sub, "list"))
		return policy_list(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		const tr_opt none[] = {{0}};
		tr_opt_help(&policy_help, none, stdout);
		return 0;
	}
	return tr_opt_usage_error(&policy_help, "unknown subcommand \"%s\"", sub);
}
