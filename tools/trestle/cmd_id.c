/* cmd_id.c: `trestle id`: the node id in a form people read out and compare. */
#include <string.h>

#include "cli.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {
    "id", "", "Show this node's id, its short fingerprint, name and role.",
    "Give the node id to a partner's admin (it is public); compare the fingerprint over\n"
    "the phone to make sure the id arrived intact. The id carries a check: a mistyped\n"
    "character is caught when it is entered."};

int cmd_id(tr_cli *cli, int argc, char **argv)
{
	int json = 0;
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &json, NULL, "print JSON"}, {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &help, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	char id[TR_NODEID_TEXT_SIZE], fpr[TR_FPR_TEXT_SIZE];
	tr_nodeid_format(tr_key_public(cli->key), id);
	tr_fingerprint_format(tr_key_public(cli->key), fpr);
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "fingerprint", fpr, "name",
		                      cli->config.name, "role", cli->config.role);
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		printf("node id:     %s\nfingerprint: %s\nname:        %s\nrole:        %s\n", id,
		       fpr, cli->config.name, cli->config.role);
	}
	return 0;
}
