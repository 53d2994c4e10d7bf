/* cli.h: what every `trestle` command shares: the node it works on, exit codes,
 * error printing, times, and the rendering of records for people and for JSON.
 * Only CLI code prints or ends the process; the libraries below it never do. */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "config.h"
#include "kind.h"
#include "key.h"
#include "opt.h"
#include "record.h"
#include "store.h"

/* Exit codes (documented in trestle(1) and README). */
enum {
	TR_EXIT_OK = 0,
	TR_EXIT_ERROR = 1,       /* the command failed; the message says why */
	TR_EXIT_USAGE = 2,       /* wrong options or arguments */
	TR_EXIT_NOT_RUNNING = 3, /* the daemon is not running (status, sync) */
	TR_EXIT_PROBLEMS = 4,    /* verify found damaged or inconsistent data */
	TR_EXIT_INVALID = 5      /* input data invalid: nothing was imported */
};

typedef struct tr_cli {
	const char *home_flag; /* --home, or NULL */
	char home[4096];
	char path_buf[4200]; /* scratch for tr_cli_path */
	tr_config config;
	tr_key *key;
	tr_store *store;
	int out_tty, err_tty;
} tr_cli;

/* The start of every command: parses argv against opts (tr_opt_parse), then, if
 * open_node, opens the node. Returns -1 when the command should go on; otherwise the
 * exit code the command returns (0 after --help, 2 for a usage error, 1 if the node
 * cannot be opened). */
int tr_cli_begin(tr_cli *cli, const tr_cmd_help *h, const tr_opt *opts, int argc, char **argv,
                 const char **pos, size_t maxpos, size_t *npos, int open_node);

/* Loads the config, key and store of the node at cli->home. On failure prints why and
 * returns an exit code. */
int tr_cli_open(tr_cli *cli);
void tr_cli_close(tr_cli *cli);
/* home/name; the result lives until the next call. */
const char *tr_cli_path(tr_cli *cli, const char *name);

/* Appends an entry to the store's audit log in a transaction of its own. */
int tr_cli_audit(tr_cli *cli, const char *action, const char *detail);

/* What a failed write most likely means for a person: " (the disk is full)" and the
 * like, or "". LMDB reports a write that only partly fitted as EIO. */
const char *tr_cli_write_hint(int err);

/* "trestle: error: ..." on stderr. Returns TR_EXIT_ERROR. */
int tr_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t tr_now_ms(void);
/* "2026-01-05T10:20:30.000Z" */
void tr_time_iso(uint64_t ms, char *out, size_t n);
/* "2026-01-05 10:20" (UTC) for tables */
void tr_time_short(uint64_t ms, char *out, size_t n);
/* YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.mmm]]Z. 0 or TR_EINVAL. */
int tr_time_parse(const char *s, uint64_t *ms);

/* A record as JSON: id, kind, author, seq, created, refs, terms, fields, withheld,
 * source; with the base64 envelope under "record" if with_envelope. Caller decrefs. */
json_t *tr_record_json(const tr_record *rec, const uint8_t *env, size_t len, uint32_t source,
                       int with_envelope);
/* Role bits as names: "producer,distributor". */
void tr_roles_format(uint64_t roles, char *out, size_t n);
int tr_roles_parse(const char *s, uint64_t *roles);
/* One line summary of a record's main fields, at most width bytes. */
void tr_record_summary(const tr_record *rec, char *out, size_t width);
/* A disclosed string field's text into out (at most n - 1 bytes), "" when the field is
 * absent, withheld or not a string; with one_line, line breaks become spaces. */
void tr_cli_field_text(const tr_record *rec, const char *name, char *out, size_t n, int one_line);

/* Decisions on ideas and test requests are the producer's: a status about one written
 * at another node is refused (TR_ESCHEMA with why), but for a note (a distributor gives
 * its judgement in an assessment). 0 for every other record. */
int tr_cli_status_authority(tr_txn *t, const tr_cli *cli, const tr_record *rec, char *why,
                            size_t whylen);
/* Who runs this command, for the audit log: the login name (and the sudo user). */
const char *tr_cli_who(void);
/* Splits "a,b,c" into field names (each a valid name, no repeats). 0, or TR_EINVAL
 * with why. */
int tr_cli_fields(const char *list, char out[][TR_MAX_NAME + 1], size_t *n, char *why,
                  size_t whylen);
/* The name of the partner with this index, or "#N (removed)". */
void tr_partner_name_of(tr_txn *t, uint32_t index, char *out, size_t n);
/* A partner role by name (producer, distributor, user): TR_ROLE_*, or 0. */
int tr_role_parse(const char *s);
const char *tr_role_name(int role);

/* The producer's view as one JSON document, as `trestle report --json` prints it
 * (cmd_report.c): node, ideas grouped, claims by month, product and problem, test
 * requests with their answers per partner. title NULL: the default. cli is open. */
int tr_report_build(tr_cli *cli, const char *title, json_t **out);

/* The ideas this node holds, grouped (cmd_idea.c): a JSON array as `trestle idea groups
 * --json` prints it, of the groups matching the filters (NULL, 0: all). cli is open. */
int tr_idea_groups(tr_cli *cli, const char *product, const char *category, uint64_t min,
                   json_t **out);

/* The verbs of a kind with states (cmd_states.c): `trestle NOUN new|show|list|status`. */
typedef struct tr_kind_verbs {
	const char *kind;     /* the record kind */
	const char *noun;     /* the command: idea, claim, test */
	const char *label;    /* for people: idea, claim, test request */
	const char *what;     /* the field shown as WHAT in lists */
	const char *second;   /* the field shown as PRODUCT */
	int producer_decides; /* status decisions only at a producer (others: notes) */
	uint64_t roles;       /* onward roles of its statuses (one hop past the first) */
} tr_kind_verbs;
extern const tr_kind_verbs tr_verbs_idea, tr_verbs_claim, tr_verbs_test;
/* argv[1] is new, show, list or status. */
int tr_kind_verb(tr_cli *cli, int argc, char **argv, const tr_kind_verbs *v);

/* Commands: one file each. argv[0] is the command's name. */
int cmd_init(tr_cli *cli, int argc, char **argv);
int cmd_id(tr_cli *cli, int argc, char **argv);
int cmd_record(tr_cli *cli, int argc, char **argv);
int cmd_import(tr_cli *cli, int argc, char **argv);
int cmd_export(tr_cli *cli, int argc, char **argv);
int cmd_verify(tr_cli *cli, int argc, char **argv);
int cmd_backup(tr_cli *cli, int argc, char **argv);
int cmd_restore(tr_cli *cli, int argc, char **argv);
int cmd_compact(tr_cli *cli, int argc, char **argv);
int cmd_audit(tr_cli *cli, int argc, char **argv);
int cmd_kinds(tr_cli *cli, int argc, char **argv);
int cmd_partner(tr_cli *cli, int argc, char **argv);
int cmd_policy(tr_cli *cli, int argc, char **argv);
int cmd_status(tr_cli *cli, int argc, char **argv);
int cmd_sync(tr_cli *cli, int argc, char **argv);
int cmd_share(tr_cli *cli, int argc, char **argv);
int cmd_inbox(tr_cli *cli, int argc, char **argv);
int cmd_consent(tr_cli *cli, int argc, char **argv);
int cmd_retract(tr_cli *cli, int argc, char **argv);
int cmd_retractions(tr_cli *cli, int argc, char **argv);
int cmd_idea(tr_cli *cli, int argc, char **argv);
int cmd_claim(tr_cli *cli, int argc, char **argv);
int cmd_test(tr_cli *cli, int argc, char **argv);
int cmd_report(tr_cli *cli, int argc, char **argv);

/* ---- shared by the record commands ---- */

/* Adds field name=text to rec, typed by the kind's field spec (numbers for number
 * fields). name and text are borrowed until rec is sealed. 0, or TR_ESCHEMA with why. */
int tr_cli_add_field(tr_record *rec, const tr_kind_spec *k, const char *name, const char *text,
                     size_t len, char *why, size_t whylen);

/* The filters list, search and export share, as options. */
typedef struct tr_filter {
	const char *kind, *author, *product, *ref, *since, *until, *text;
	uint64_t limit;
	uint8_t author_pk[TR_PK_BYTES], ref_id[TR_ID_BYTES];
} tr_filter;

#define TR_FILTER_OPTS(f)                                                                          \
	{"kind", 'k', TR_OPT_STR, &(f).kind, "KIND", "only records of this kind"},                 \
	    {"author",    0,        TR_OPT_STR,                                                    \
	     &(f).author, "NODEID", "only records by this node (or: self)"},                       \
	    {"product",    'p',       TR_OPT_STR,                                                  \
	     &(f).product, "PRODUCT", "only records about this product"},                          \
	    {"ref", 0, TR_OPT_STR, &(f).ref, "ID", "only records that refer to record ID"},        \
	    {"since",    0,      TR_OPT_STR,                                                       \
	     &(f).since, "TIME", "created at or after TIME (YYYY-MM-DD[THH:MMZ])"},                \
	    {"until", 0, TR_OPT_STR, &(f).until, "TIME", "created before TIME"},                   \
	    {"text", 't', TR_OPT_STR, &(f).text, "TEXT", "a field contains TEXT (any case)"},      \
	{                                                                                          \
		"limit", 'n', TR_OPT_U64, &(f).limit, "N", "at most N records"                     \
	}

/* Turns filter options into a query (resolving id prefixes and node ids). Prints the
 * error and returns an exit code on failure. cli must be open. */
int tr_cli_query(tr_cli *cli, const tr_cmd_help *h, tr_filter *f, tr_query *q);
/* Resolves an id prefix to a full id; prints the error and returns an exit code. */
int tr_cli_resolve(tr_cli *cli, const char *prefix, uint8_t id[TR_ID_BYTES]);

#endif
