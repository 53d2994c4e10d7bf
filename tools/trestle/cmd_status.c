/* cmd_status.c: `trestle status` and `trestle sync`: ask the running daemon
 * (control.h). Exit 3 when no daemon runs on this home. */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "../../proto/banned.h"

#define CALL_TIMEOUT_MS 5000

static int call(tr_cli *cli, tr_mpw *w, int *ok, char *text, size_t textlen)
{
	if (tr_mpw_error(w))
		return tr_cli_error("out of memory");
	int rc = tr_control_call(cli->home, tr_mpw_data(w), tr_mpw_size(w), CALL_TIMEOUT_MS, ok,
	                         text, textlen);
	if (rc == TR_ENOTFOUND) {
		fprintf(stderr,
		        "trestle: trestled is not running on %s (start it: trestled --home "
		        "%s, or systemctl start trestled)\n",
		        cli->home, cli->home);
		return TR_EXIT_NOT_RUNNING;
	}
	if (rc == ETIMEDOUT)
		return tr_cli_error("trestled runs but did not answer within %d s",
		                    CALL_TIMEOUT_MS / 1000);
	if (rc)
		return tr_cli_error("cannot reach trestled: %s", tr_strerror(rc));
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void print_table(json_t *doc)
{
	char when[40];
	tr_time_short((uint64_t)num(doc, "started_ms"), when, sizeof(when));
	printf("trestled running (pid %lld) since %s, node %s, listening on %s\n", num(doc, "pid"),
	       when, str(doc, "name"), str(doc, "listen"));
	json_t *arr = json_object_get(doc, "partners");
	if (!json_array_size(arr)) {
		printf("no partners yet: add one with `trestle partner add`\n");
		return;
	}
	printf("%-20s %-10s %-9s %-16s %9s %9s %8s  %s\n", "PARTNER", "STATE", "VIA", "SINCE",
	       "SENT", "RECEIVED", "TO SEND", "LAST ERROR");
	size_t i;
	json_t *p;
	json_array_foreach(arr, i, p)
	{
		const char *state = json_is_true(json_object_get(p, "suspended"))   ? "suspended"
		                    : json_is_true(json_object_get(p, "connected")) ? "connected"
		                                                                    : "down";
		json_t *since = json_object_get(p, "connected_since_ms");
		if (json_is_integer(since))
			tr_time_short((uint64_t)json_integer_value(since), when, sizeof(when));
		else
			snprintf(when, sizeof(when), "-");
		char tosend[24];
		json_t *ts = json_object_get(p, "to_send");
		if (json_is_integer(ts))
			snprintf(tosend, sizeof(tosend), "%lld", (long long)json_integer_value(ts));
		else
			snprintf(tosend, sizeof(tosend), "?");
		const char *err = str(p, "last_error");
		printf("%-20s %-10s %-9s %-16s %9lld %9lld %8s  %s\n", str(p, "name"), state,
		       str(p, "via"), when, num(p, "sent"), num(p, "received"), tosend,
		       *err ? err : "-");
	}
}

int cmd_status(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "status", "",
	    "Is trestled running, and how is each partner: connected since when and how (it "
	    "dialed in, or this node dialed it), records sent and received, what it still has "
	    "to pull, the last error.",
	    "TO SEND is '?' until the partner has pulled since the daemon started.\n"
	    "Exit status 3 when no trestled runs on this node's home."};
	int json = 0;
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &json, NULL, "print a JSON object"}, {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 0, &npos, 0);
	if (rc >= 0)
		return rc;
	tr_mpw w;
	tr_mpw_init(&w);
	tr_mpw_array(&w, 1);
	tr_mpw_str(&w, "status", 6);
	static char text[1 << 20];
	int ok = 0;
	rc = call(cli, &w, &ok, text, sizeof(text));
	tr_mpw_release(&w);
	if (rc)
		return rc;
	if (!ok)
		return tr_cli_error("trestled: %s", text);
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);
	if (!doc)
		return tr_cli_error("trestled sent a status that is not JSON: %s", err.text);
	if (json) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		print_table(doc);
	json_decref(doc);
	return 0;
}

struct find_ctx {
	const char *which;
	tr_partner p;
};

static int find_fn(tr_txn *t, void *vctx)
{
	struct find_ctx *f = vctx;
	return tr_txn_partner_find(t, f->which, &f->p);
}

int cmd_sync(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "sync", "NAME|NODEID",
	    "Ask the daemon to pull from PARTNER now (and to forget any back-off after errors).",
	    "Records normally arrive within milliseconds without this; it is for after a fault.\n"
	    "Exit status 3 when no trestled runs on this node's home."};
	const tr_opt none[] = {{0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, none, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1)
		return tr_opt_usage_error(&h, "which partner?");
	/* a name or a node id, as everywhere else; the daemon knows partners by name */
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	static struct find_ctx f;
	memset(&f, 0, sizeof(f));
	f.which = pos[0];
	rc = tr_store_read(cli->store, find_fn, &f);
	if (rc == TR_ENOTFOUND)
		return tr_cli_error("no partner named %s (see `trestle partner list`)", pos[0]);
	if (rc)
		return tr_cli_error("cannot read the partner table: %s", tr_strerror(rc));
	tr_mpw w;
	tr_mpw_init(&w);
	tr_mpw_array(&w, 2);
	tr_mpw_str(&w, "sync", 4);
	tr_mpw_str(&w, f.p.name, strlen(f.p.name));
	char text[512];
	int ok = 0;
	rc = call(cli, &w, &ok, text, sizeof(text));
	tr_mpw_release(&w);
	if (rc)
		return rc;
	if (!ok)
		return tr_cli_error("cannot sync with %s: %s", f.p.name, text);
	printf("pulling from %s\n", f.p.name);
	return 0;
}
