/* opt.h: the one option parser every trestle command uses.
 *
 * A command declares its options as a table; the same table parses argv, rejects
 * unknown or malformed options with a usage error, and prints --help. Options and
 * positional arguments may be mixed; "--" ends options. Repeatable options collect
 * into a tr_strlist.
 */
#ifndef TR_OPT_H
#define TR_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum tr_opt_type {
	TR_OPT_FLAG = 1, /* int, set to 1 */
	TR_OPT_STR,      /* const char *, the last one given wins */
	TR_OPT_LIST,     /* tr_strlist, every one given */
	TR_OPT_U64       /* uint64_t, decimal */
};

typedef struct tr_strlist {
	const char *v[64];
	size_t n;
} tr_strlist;

typedef struct tr_opt {
	const char *name; /* long name without "--" */
	char shortc;      /* 0 for none */
	int type;
	void *dst;
	const char *arg; /* name of the argument in help, e.g. "DIR" */
	const char *help;
} tr_opt;

typedef struct tr_cmd_help {
	const char *name;    /* "record create" */
	const char *usage;   /* "KIND FIELD=VALUE..." */
	const char *summary; /* one line */
	const char *details; /* paragraphs after the options, or NULL */
} tr_cmd_help;

/* Parses argv[1..argc-1] (argv[0] is the command's name) against opts, which ends with
 * a zero entry. Positional arguments go to pos (at most maxpos, else a usage error).
 * Returns 0; 2 after printing a usage error to stderr; or -1 if --help was given and
 * help was printed to stdout (the command then exits 0). */
int tr_opt_parse(const tr_cmd_help *h, const tr_opt *opts, int argc, char **argv, const char **pos,
                 size_t maxpos, size_t *npos);
void tr_opt_help(const tr_cmd_help *h, const tr_opt *opts, FILE *out);
/* Prints "trestle CMD: msg" and the usage line to stderr; returns 2 (usage error). */
int tr_opt_usage_error(const tr_cmd_help *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
