/* main.c: `trestle`, the admin CLI of a trestle node. Finds the node's home, picks the
 * command from the table and runs it. One file per command (cmd_*.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "error.h"
#include "../../proto/banned.h"

static const struct command {
	const char *name;
	int (*run)(tr_cli *cli, int argc, char **argv);
	const char *summary;
} commands[] = {
    {"init", cmd_init, "create a node: key, config and store"},
    {"id", cmd_id, "show this node's id and fingerprint"},
    {"record", cmd_record, "create, show, list and search records"},
    {"import", cmd_import, "import records from CSV or JSON lines"},
    {"export", cmd_export, "export records as JSON lines"},
    {"verify", cmd_verify, "re-check every record's signature and the store's consistency"},
    {"backup", cmd_backup, "write a consistent hot copy of the store"},
    {"restore", cmd_restore, "put a backup copy in place of the store (trestled stopped)"},
    {"compact", cmd_compact, "erase freed pages (retracted data) from the store file"},
    {"audit", cmd_audit, "show the audit log of admin actions"},
    {"kinds", cmd_kinds, "list record kinds and their fields"},
    {"partner", cmd_partner,
     "pair with partner nodes: add, list, show, pending, ignore, suspend, resume, "
     "remove"},
    {"policy", cmd_policy, "what goes to which partner: add, list, show, remove, test"},
    {"claim", cmd_claim, "claims and their states: new, show, list, status"},
    {"test", cmd_test, "test requests and their states: new, show, list, status"},
    {"idea", cmd_idea, "ideas: new, show, list, status, and grouped (groups, merge, split)"},
    {"report", cmd_report, "the view of ideas, claims and trials as an HTML page or JSON"},
    {"share", cmd_share, "grant one record to a partner (or revoke the grant)"},
    {"inbox", cmd_inbox, "received records waiting to be forwarded or declined"},
    {"consent", cmd_consent, "consent to a partner passing this firm's records on"},
    {"retract", cmd_retract, "take back a record sent to partners"},
    {"retractions", cmd_retractions, "retractions sent and their receipts"},
    {"status", cmd_status, "is the daemon running, and how is each partner"},
    {"sync", cmd_sync, "ask the daemon to pull from a partner now"},
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: trestle [--home DIR] COMMAND [OPTIONS] [ARGS]\n\n"
	        "trestle is the admin tool of a trestle node: a firm's own store of signed CRM\n"
	        "records, shared with partner firms under the firm's own policies.\n\n"
	        "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n`trestle COMMAND --help` tells more; trestle(1) has it all.\n"
	             "exit status: 0 ok, 1 error, 2 usage error, 3 daemon not running,\n"
	             "4 verify found problems, 5 invalid input (nothing imported).\n");
}

int main(int argc, char **argv)
{
	tr_cli cli;
	memset(&cli, 0, sizeof(cli));
	if (sodium_init() < 0) {
		fprintf(stderr, "trestle: error: libsodium could not start\n");
		return TR_EXIT_ERROR;
	}
	signal(SIGXFSZ, SIG_IGN); /* a file size limit shows as EFBIG, reported like ENOSPC */
	cli.out_tty = isatty(1);
	cli.err_tty = isatty(2);

	/* --home is global: take it from anywhere before "--", and drop it from argv */
	int n = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], "--home")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "trestle: --home needs a directory\n");
				return TR_EXIT_USAGE;
			}
			cli.home_flag = argv[++i];
			continue;
		}
		if (!strncmp(argv[i], "--home=", 7)) {
			cli.home_flag = argv[i] + 7;
			if (!*cli.home_flag) {
				fprintf(stderr, "trestle: --home needs a directory\n");
				return TR_EXIT_USAGE;
			}
			continue;
		}
		argv[n++] = argv[i];
	}
	argc = n;
	argv[argc] = NULL;

	if (argc < 2) {
		usage(stderr);
		return TR_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return TR_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("trestle %s\n", TR_VERSION);
		return TR_EXIT_OK;
	}
	if (tr_home_resolve(cli.home_flag, cli.home, sizeof(cli.home)) != 0) {
		fprintf(stderr, "trestle: error: cannot tell where the node lives: set --home or "
		                "TRESTLE_HOME\n");
		return TR_EXIT_ERROR;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			int rc = commands[i].run(&cli, argc - 1, argv + 1);
			tr_cli_close(&cli);
			if (fflush(stdout) != 0 || ferror(stdout)) {
				fprintf(stderr, "trestle: error: could not write the output\n");
				return TR_EXIT_ERROR;
			}
			return rc;
		}
	fprintf(stderr, "trestle: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return TR_EXIT_USAGE;
}
