/* cmd_partner.c: `trestle partner add|list|show|suspend|resume|remove`: the nodes this
 * node pairs with. Pairing is by node id, as WireGuard and Syncthing do it: each admin
 * adds the other's id. Names are local; the id is the identity. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "../../proto/banned.h"

static const tr_cmd_help partner_help = {
    "partner", "SUBCOMMAND ...",
    "Manage partner nodes. Subcommands:\n"
    "  add NAME NODEID --relation upstream|downstream [--role ROLE] [--endpoint URL]\n"
    "  list                        all partners\n"
    "  show NAME|NODEID            one partner\n"
    "  pending                     nodes that dialed in and are no partner\n"
    "  ignore FINGERPRINT          forget a pending node (it is refused all the same)\n"
    "  suspend NAME|NODEID         stop exchanging records with it, keep it\n"
    "  resume NAME|NODEID          undo suspend\n"
    "  remove NAME|NODEID          forget it (the records it sent stay)\n"
    "  role NAME|NODEID ROLE       set its role: producer, distributor or user",
    "Records flow only once the daemon (trestled) runs and a policy allows them.\n"
    "`trestle partner SUBCOMMAND --help` tells more."};

static const tr_cmd_help add_help = {
    "partner add", "NAME NODEID",
    "Pair with the node NODEID (from `trestle id` on that node), under a local NAME.",
    "NAME: 1 to 64 of letters, digits, '.', '_' and '-'. --relation says which way the\n"
    "partner stands: upstream (towards the producer, e.g. a distributor's producer) or\n"
    "downstream (towards user firms). --endpoint is where this node dials it; leave it\n"
    "out for a partner that dials in (a user firm behind a firewall). --role is the\n"
    "partner's role (producer, distributor or user), which authors' onward terms name;\n"
    "without it the role follows from this node's own role and the relation (a\n"
    "distributor's upstream is a producer, its downstream users, ...).\n\n"
    "example:\n  trestle partner add acme-dishwashers "
    "ce47vlm-ldegai7-j7qjmq6-pd7mqiy-d6ek2ur-vg2j3ta-mkeleya-d6cdsds \\\n"
    "      --relation upstream --endpoint tcp://sync.acme.example:7700"};

struct put_ctx {
	tr_partner *p;
	int replace;
	const char *action;
	char detail[512];
	int was_pending;
	tr_pending pending;
};

/* what a scan callback returns to stop at a match: no errno and no TR_E* code */
enum { FOUND = -1 };

static int pending_match(void *ctx, const tr_pending *p)
{
	struct put_ctx *c = ctx;
	uint8_t curve[TR_PK_BYTES];
	if (tr_key_curve_public(c->p->id, curve) == 0 && !memcmp(curve, p->curve, TR_PK_BYTES)) {
		c->pending = *p;
		c->was_pending = 1;
		return FOUND;
	}
	return 0;
}

static int put_fn(tr_txn *t, void *ctx)
{
	struct put_ctx *c = ctx;
	c->was_pending = 0;
	int rc = tr_txn_partner_put(t, c->p, c->replace);
	if (!rc && !c->replace) {
		/* it dialed in before it was added: it is no longer pending */
		rc = tr_txn_pending_scan(t, pending_match, c);
		if (rc == FOUND)
			rc = tr_txn_pending_del(t, c->pending.curve);
	}
	return rc ? rc : tr_txn_audit(t, tr_now_ms(), c->action, c->detail);
}

static const char *relation_name(int r)
{
	return r == TR_REL_UPSTREAM ? "upstream" : r == TR_REL_DOWNSTREAM ? "downstream" : "?";
}

static int partner_add(tr_cli *cli, int argc, char **argv)
{
	const char *relation = NULL, *endpoint = NULL, *role = NULL;
	const tr_opt opts[] = {
	    {"relation", 'r', TR_OPT_STR, &relation, "REL", "upstream or downstream (required)"},
	    {"role", 0, TR_OPT_STR, &role, "ROLE", "producer, distributor or user"},
	    {"endpoint", 'e', TR_OPT_STR, &endpoint, "ENDPOINT",
	     "where to dial it: tcp://HOST:PORT (optional)"},
	    {0}};
	const char *pos[2];
	size_t npos;
	int rc = tr_cli_begin(cli, &add_help, opts, argc, argv, pos, 2, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 2)
		return tr_opt_usage_error(&add_help, "give a local NAME and the partner's NODEID");
	static tr_partner p;
	memset(&p, 0, sizeof(p));
	if (!tr_partner_name_valid(pos[0]))
		return tr_opt_usage_error(
		    &add_help,
		    "\"%s\" is not a partner name (1 to 64 of letters, digits, "
		    ". _ -)",
		    pos[0]);
	snprintf(p.name, sizeof(p.name), "%s", pos[0]);
	rc = tr_nodeid_parse(pos[1], p.id);
	if (rc)
		return tr_opt_usage_error(&add_help, "\"%s\" is not a node id%s", pos[1],
		                          rc == TR_EDIGEST ? ": its check does not match (a typo?)"
		                                           : " (8 groups of 7 letters and digits)");
	if (!relation)
		return tr_opt_usage_error(&add_help,
		                          "--relation upstream or downstream is required");
	if (!strcmp(relation, "upstream"))
		p.relation = TR_REL_UPSTREAM;
	else if (!strcmp(relation, "downstream"))
		p.relation = TR_REL_DOWNSTREAM;
	else
		return tr_opt_usage_error(&add_help, "--relation must be upstream or downstream");
	if (role && !(p.role = tr_role_parse(role)))
		return tr_opt_usage_error(&add_help,
		                          "--role must be producer, distributor or user");
	if (endpoint) {
		int printable = 1;
		for (const char *e = endpoint; *e; e++)
			printable &= *e > ' ' && *e <= '~';
		int tcp = !strncmp(endpoint, "tcp://", 6), ipc = !strncmp(endpoint, "ipc://", 6);
		if ((!tcp && !ipc) || strlen(endpoint) > TR_ENDPOINT_MAX ||
		    (tcp && !strchr(endpoint + 6, ':')) || (ipc && !endpoint[6]) || !printable)
			return tr_opt_usage_error(
			    &add_help, "--endpoint must be tcp://HOST:PORT (or ipc://PATH "
			               "for a node on this machine)");
		snprintf(p.endpoint, sizeof(p.endpoint), "%s", endpoint);
	}
	p.added_ms = tr_now_ms();
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	if (!memcmp(p.id, tr_key_public(cli->key), TR_PK_BYTES))
		return tr_cli_error("%s is this node's own id", pos[1]);
	if (!p.role) {
		/* what the relation means for a node of this role */
		const char *me = cli->config.role;
		int up = p.relation == TR_REL_UPSTREAM;
		p.role = !strcmp(me, "distributor") ? (up ? TR_ROLE_PRODUCER : TR_ROLE_USER)
		         : !strcmp(me, "user")      ? (up ? TR_ROLE_DISTRIBUTOR : 0)
		         : !strcmp(me, "producer")  ? (up ? 0 : TR_ROLE_DISTRIBUTOR)
		                                    : 0;
	}
	static struct put_ctx c;
	memset(&c, 0, sizeof(c));
	c.p = &p;
	c.action = "partner-add";
	char fpr[TR_FPR_TEXT_SIZE];
	tr_fingerprint_format(p.id, fpr);
	snprintf(c.detail, sizeof(c.detail), "%s %s %s %s %s", p.name, fpr,
	         relation_name(p.relation), tr_role_name(p.role), p.endpoint[0] ? p.endpoint : "-");
	rc = tr_store_write(cli->store, put_fn, &c);
	if (rc == TR_EEXIST)
		return tr_cli_error(
		    "that node id or the name %s is already a partner (see `trestle "
		    "partner list`)",
		    p.name);
	if (rc)
		return tr_cli_error("the partner was not added: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	printf("added partner %s (fingerprint %s, %s, role %s)\n", p.name, fpr,
	       relation_name(p.relation), tr_role_name(p.role));
	if (c.was_pending) {
		char when[40];
		tr_time_short(c.pending.first_ms, when, sizeof(when));
		printf(
		    "it had dialed in from %s (first %s, %llu time%s); it is let in from now on\n",
		    c.pending.addr[0] ? c.pending.addr : "?", when,
		    (unsigned long long)c.pending.count, c.pending.count == 1 ? "" : "s");
	}
	printf("compare the fingerprint with the partner's admin, and ask them to add this node:\n"
	       "  trestle partner add NAME ");
	char me[TR_NODEID_TEXT_SIZE];
	tr_nodeid_format(tr_key_public(cli->key), me);
	printf("%s --relation %s\n", me, p.relation == TR_REL_UPSTREAM ? "downstream" : "upstream");
	return 0;
}

struct list_ctx {
	int json;
	size_t n;
	json_t *arr;
};

static json_t *partner_json(const tr_partner *p)
{
	char id[TR_NODEID_TEXT_SIZE], fpr[TR_FPR_TEXT_SIZE], when[40];
	tr_nodeid_format(p->id, id);
	tr_fingerprint_format(p->id, fpr);
	tr_time_iso(p->added_ms, when, sizeof(when));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", p->name, "id", id,
	                 "fingerprint", fpr, "relation", relation_name(p->relation), "role",
	                 tr_role_name(p->role), "endpoint", p->endpoint, "state",
	                 p->suspended ? "suspended" : "active", "added", when);
}

static int list_row(void *ctx, const tr_partner *p)
{
	struct list_ctx *l = ctx;
	if (l->json) {
		json_array_append_new(l->arr, partner_json(p));
	} else {
		char fpr[TR_FPR_TEXT_SIZE];
		tr_fingerprint_format(p->id, fpr);
		if (!l->n)
			printf("%-20s %-11s %-12s %-10s %-9s  %s\n", "NAME", "RELATION", "ROLE",
			       "STATE", "FINGERPR.", "ENDPOINT");
		printf("%-20s %-11s %-12s %-10s %-9s  %s\n", p->name, relation_name(p->relation),
		       tr_role_name(p->role), p->suspended ? "suspended" : "active", fpr,
		       p->endpoint[0] ? p->endpoint : "(dials in)");
	}
	l->n++;
	return 0;
}

static int list_fn(tr_txn *t, void *ctx)
{
	return tr_txn_partner_scan(t, list_row, ctx);
}

static int partner_list(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {"partner list", "", "List the partners, by name.", NULL};
	struct list_ctx l = {0, 0, NULL};
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &l.json, NULL, "print a JSON array"}, {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	l.arr = json_array();
	rc = tr_store_read(cli->store, list_fn, &l);
	if (!rc && l.json) {
		json_dumpf(l.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!rc && !l.n && cli->out_tty) {
		fprintf(stderr, "no partners yet: add one with `trestle partner add`\n");
	}
	json_decref(l.arr);
	return rc ? tr_cli_error("cannot list partners: %s", tr_strerror(rc)) : 0;
}

/* show, suspend, resume and remove name one partner */
struct one_ctx {
	const char *which;
	tr_partner p;
	int op; /* 0 show, 1 suspend, 2 resume, 3 remove, 4 role */
	int role;
	uint64_t queued;
	char detail[300];
};

static int one_fn(tr_txn *t, void *ctx)
{
	struct one_ctx *o = ctx;
	int rc = tr_txn_partner_find(t, o->which, &o->p);
	if (rc || o->op == 0)
		return rc;
	static const char *const actions[] = {"", "partner-suspend", "partner-resume",
	                                      "partner-remove", "partner-role"};
	if (o->op == 3) {
		rc = tr_txn_partner_del(t, o->p.id);
	} else if (o->op == 4) {
		o->p.role = o->role;
		if ((rc = tr_txn_partner_put(t, &o->p, 1)) == 0)
			rc = tr_txn_share_refresh(t, o->p.index, &o->queued);
		snprintf(o->detail, sizeof(o->detail), "%s %s", o->p.name, tr_role_name(o->role));
		return rc ? rc : tr_txn_audit(t, tr_now_ms(), actions[o->op], o->detail);
	} else {
		o->p.suspended = o->op == 1;
		rc = tr_txn_partner_put(t, &o->p, 1);
	}
	snprintf(o->detail, sizeof(o->detail), "%s", o->p.name);
	return rc ? rc : tr_txn_audit(t, tr_now_ms(), actions[o->op], o->detail);
}

static int partner_one(tr_cli *cli, int argc, char **argv, int op)
{
	static const tr_cmd_help helps[] = {
	    {"partner show", "NAME|NODEID", "Show one partner.", NULL},
	    {"partner suspend", "NAME|NODEID",
	     "Suspend a partner: nothing is exchanged with it until `partner resume`.", NULL},
	    {"partner resume", "NAME|NODEID", "Resume a suspended partner.", NULL},
	    {"partner remove", "NAME|NODEID",
	     "Forget a partner. The records it sent stay in the store.", NULL},
	    {"partner role", "NAME|NODEID ROLE",
	     "Set a partner's role: producer, distributor or user. Authors' onward terms name "
	     "roles; records written elsewhere go to a partner only if their author allows its "
	     "role. What its rules now let go is queued for it.",
	     "example:\n  trestle partner role acme producer"}};
	const tr_cmd_help *h = &helps[op];
	int json = 0;
	const tr_opt show_opts[] = {{"json", 0, TR_OPT_FLAG, &json, NULL, "print JSON"}, {0}};
	const tr_opt none[] = {{0}};
	const char *pos[2];
	size_t npos;
	int rc = tr_cli_begin(cli, h, op == 0 ? show_opts : none, argc, argv, pos, op == 4 ? 2 : 1,
	                      &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos < 1)
		return tr_opt_usage_error(h, "which partner?");
	int role = 0;
	if (op == 4 && (npos != 2 || !(role = tr_role_parse(pos[1]))))
		return tr_opt_usage_error(h, "give the partner and its role: producer, distributor "
		                             "or user");
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	static struct one_ctx o;
	memset(&o, 0, sizeof(o));
	o.which = pos[0];
	o.op = op;
	o.role = role;
	rc = op == 0 ? tr_store_read(cli->store, one_fn, &o)
	             : tr_store_write(cli->store, one_fn, &o);
	if (rc == TR_ENOTFOUND)
		return tr_cli_error("no partner named %s (see `trestle partner list`)", pos[0]);
	if (rc)
		return tr_cli_error("%s failed: %s%s", h->name, tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	if (op == 0) {
		json_t *j = partner_json(&o.p);
		if (json) {
			json_dumpf(j, stdout, JSON_INDENT(2));
			putchar('\n');
		} else {
			printf(
			    "name         %s\nnode id      %s\nfingerprint  %s\nrelation     %s\n"
			    "role         %s\nendpoint     %s\nstate        %s\nadded        %s\n",
			    o.p.name, json_string_value(json_object_get(j, "id")),
			    json_string_value(json_object_get(j, "fingerprint")),
			    relation_name(o.p.relation), tr_role_name(o.p.role),
			    o.p.endpoint[0] ? o.p.endpoint : "(none: it dials in)",
			    o.p.suspended ? "suspended" : "active",
			    json_string_value(json_object_get(j, "added")));
		}
		json_decref(j);
	} else {
		static const char *const done[] = {"", "suspended", "resumed", "removed", "set"};
		tr_control_kick(cli->home); /* a running daemon cuts or lets in at once */
		if (op == 4)
			printf("partner %s is a %s (%" PRIu64 " record%s queued for it)\n",
			       o.p.name, tr_role_name(o.p.role), o.queued,
			       o.queued == 1 ? "" : "s");
		else
			printf("%s partner %s\n", done[op], o.p.name);
	}
	return 0;
}

struct pending_list {
	int json;
	size_t n;
	json_t *arr;
};

static int pending_row(void *ctx, const tr_pending *p)
{
	struct pending_list *l = ctx;
	char fpr[TR_FPR_TEXT_SIZE], first[40], last[40];
	tr_fingerprint_curve(p->curve, fpr);
	tr_time_iso(p->first_ms, first, sizeof(first));
	tr_time_iso(p->last_ms, last, sizeof(last));
	if (l->json) {
		char hex[2 * TR_PK_BYTES + 1];
		for (int i = 0; i < TR_PK_BYTES; i++)
			snprintf(hex + 2 * i, 3, "%02x", p->curve[i]);
		json_array_append_new(
		    l->arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "fingerprint", fpr,
		                      "curve_key", hex, "address", p->addr, "first_seen", first,
		                      "last_seen", last, "attempts", (json_int_t)p->count));
	} else {
		if (!l->n)
			printf("%-10s %-24s %-24s %-24s %s\n", "FINGERPR.", "ADDRESS", "FIRST SEEN",
			       "LAST SEEN", "ATTEMPTS");
		printf("%-10s %-24s %-24s %-24s %llu\n", fpr, p->addr[0] ? p->addr : "?", first,
		       last, (unsigned long long)p->count);
	}
	l->n++;
	return 0;
}

static int pending_fn(tr_txn *t, void *ctx)
{
	return tr_txn_pending_scan(t, pending_row, ctx);
}

/* "MMQV-MMVI", "mmqvmmvi" and "mmqv-mmvi" name the same fingerprint */
static void fpr_flat(const char *in, char *out, size_t n)
{
	size_t j = 0;
	for (; *in && j + 1 < n; in++)
		if (*in != '-' && *in != ' ')
			out[j++] = (char)(*in >= 'A' && *in <= 'Z' ? *in - 'A' + 'a' : *in);
	out[j] = '\0';
}

struct forget_ctx {
	const char *fpr;
	uint8_t curve[TR_PK_BYTES];
};

static int forget_find(void *ctx, const tr_pending *p)
{
	struct forget_ctx *f = ctx;
	char fpr[TR_FPR_TEXT_SIZE], a[TR_FPR_TEXT_SIZE], b[32];
	tr_fingerprint_curve(p->curve, fpr);
	fpr_flat(fpr, a, sizeof(a));
	fpr_flat(f->fpr, b, sizeof(b));
	if (!strcmp(a, b)) {
		memcpy(f->curve, p->curve, TR_PK_BYTES);
		return FOUND;
	}
	return 0;
}

static int forget_fn(tr_txn *t, void *ctx)
{
	struct forget_ctx *f = ctx;
	int rc = tr_txn_pending_scan(t, forget_find, f);
	if (rc == 0)
		return TR_ENOTFOUND;
	if (rc != FOUND)
		return rc;
	rc = tr_txn_pending_del(t, f->curve);
	return rc ? rc : tr_txn_audit(t, tr_now_ms(), "partner-ignore", f->fpr);
}

static int partner_pending(tr_cli *cli, int argc, char **argv, int ignore)
{
	static const tr_cmd_help helps[2] = {
	    {"partner pending", "",
	     "Nodes that dialed in with a key that is no partner: refused, and listed here with "
	     "their key's fingerprint, address, and when they were first and last seen.",
	     "To let one in, get its node id from its admin, check that the fingerprint matches,\n"
	     "and add it: trestle partner add NAME NODEID --relation downstream"},
	    {"partner ignore", "FINGERPRINT",
	     "Forget a pending node. It stays refused; if it dials again it is listed again.",
	     NULL}};
	const tr_cmd_help *h = &helps[ignore];
	struct pending_list l = {0, 0, NULL};
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &l.json, NULL, "print a JSON array"}, {0}};
	const tr_opt none[] = {{0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, h, ignore ? none : opts, argc, argv, pos, ignore, &npos, 1);
	if (rc >= 0)
		return rc;
	if (ignore) {
		if (npos != 1)
			return tr_opt_usage_error(
			    h, "which fingerprint (from `trestle partner pending`)?");
		struct forget_ctx f = {pos[0], {0}};
		rc = tr_store_write(cli->store, forget_fn, &f);
		if (rc == TR_ENOTFOUND)
			return tr_cli_error("no pending node has fingerprint %s", pos[0]);
		if (rc)
			return tr_cli_error("cannot forget it: %s%s", tr_strerror(rc),
			                    tr_cli_write_hint(rc));
		printf("forgot pending node %s\n", pos[0]);
		return 0;
	}
	l.arr = json_array();
	rc = tr_store_read(cli->store, pending_fn, &l);
	if (!rc && l.json) {
		json_dumpf(l.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!rc && !l.n && cli->out_tty)
		fprintf(stderr, "no node is waiting to be let in\n");
	json_decref(l.arr);
	return rc ? tr_cli_error("cannot list pending nodes: %s", tr_strerror(rc)) : 0;
}

int cmd_partner(tr_cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return tr_opt_usage_error(&partner_help, "which subcommand?");
	const char *sub = argv[1];
	static const char *const ones[] = {"show", "suspend", "resume", "remove", "role"};
	if (!strcmp(sub, "add"))
		return partner_add(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "list"))
		return partner_list(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "pending"))
		return partner_pending(cli, argc - 1, argv + 1, 0);
	if (!strcmp(sub, "ignore"))
		return partner_pending(cli, argc - 1, argv + 1, 1);
	for (int i = 0; i < 5; i++)
		if (!strcmp(sub, ones[i]))
			return partner_one(cli, argc - 1, argv + 1, i);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		const tr_opt none[] = {{0}};
		tr_opt_help(&partner_help, none, stdout);
		return 0;
	}
	return tr_opt_usage_error(&partner_help, "unknown subcommand \"%s\"", sub);
}
