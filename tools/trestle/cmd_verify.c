/* cmd_verify.c: `trestle verify`: re-check every stored record's signature and field
 * digests, and that the indexes agree with the log. Reads only. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {
    "verify", "",
    "Re-check every stored record (signature, every disclosed field against its digest,\n"
    "canonical encoding) and the store's internal consistency (id and query indexes).",
    "Exit status 4 if any problem was found; each is printed on stderr. Safe while\n"
    "trestled runs (one read transaction)."};

struct verify_ctx {
	uint64_t problems;
	uint64_t records;
};

static void problem(void *ctx, const char *msg)
{
	struct verify_ctx *v = ctx;
	if (v->problems++ < 100)
		fprintf(stderr, "trestle: problem: %s\n", msg);
}

static int check(tr_txn *t, void *ctx)
{
	struct verify_ctx *v = ctx;
	return tr_txn_check(t, problem, v, &v->records);
}

int cmd_verify(tr_cli *cli, int argc, char **argv)
{
	int json = 0;
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &json, NULL, "print the result as JSON"},
	                       {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &help, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	struct verify_ctx v = {0, 0};
	rc = tr_store_read(cli->store, check, &v);
	if (rc)
		return tr_cli_error("the check could not finish: %s (the store is damaged; restore "
		                    "it from a backup)",
		                    tr_strerror(rc));
	if (json)
		printf("{\"records\":%" PRIu64 ",\"problems\":%" PRIu64 "}\n", v.records,
		       v.problems);
	else if (v.problems)
		printf("%" PRIu64 " records checked: %" PRIu64 " problem%s\n", v.records,
		       v.problems, v.problems == 1 ? "" : "s");
	else
		printf("%" PRIu64 " records checked: all signatures and fields verify, indexes "
		       "consistent\n",
		       v.records);
	return v.problems ? TR_EXIT_PROBLEMS : 0;
}
