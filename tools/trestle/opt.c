/* opt.c: table-driven option parsing and help for trestle's commands. */
#include "opt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/banned.h"

void tr_opt_help(const tr_cmd_help *h, const tr_opt *opts, FILE *out)
{
	fprintf(out, "usage: trestle %s [OPTIONS] %s\n\n%s\n", h->name, h->usage, h->summary);
	fprintf(out, "\noptions:\n");
	for (const tr_opt *o = opts; o->name; o++) {
		char left[64];
		if (o->shortc)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shortc, o->name,
			         o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
			         o->arg ? o->arg : "");
		fprintf(out, "  %-28s %s%s\n", left, o->help,
		        o->type == TR_OPT_LIST ? " (repeatable)" : "");
	}
	fprintf(out, "  %-28s %s\n", "    --home DIR",
	        "node directory (default: $TRESTLE_HOME, else $XDG_STATE_HOME/trestle, else "
	        "~/.local/state/trestle)");
	fprintf(out, "  %-28s %s\n", "-h, --help", "show this help");
	if (h->details)
		fprintf(out, "\n%s\n", h->details);
	fprintf(out, "\nexit status: 0 ok, 1 error, 2 usage error; see trestle(1).\n");
}

int tr_opt_usage_error(const tr_cmd_help *h, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "trestle %s: ", h->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: trestle %s [OPTIONS] %s\n(see trestle %s --help)\n", h->name,
	        h->usage, h->name);
	return 2;
}

static const tr_opt *find_long(const tr_opt *opts, const char *name, size_t n)
{
	for (const tr_opt *o = opts; o->name; o++)
		if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

static const tr_opt *find_short(const tr_opt *opts, char c)
{
	for (const tr_opt *o = opts; o->name; o++)
		if (o->shortc == c)
			return o;
	return NULL;
}

static int assign(const tr_cmd_help *h, const tr_opt *o, const char *val)
{
	switch (o->type) {
	case TR_OPT_FLAG:
		*(int *)o->dst = 1;
		return 0;
	case TR_OPT_STR:
		*(const char **)o->dst = val;
		return 0;
	case TR_OPT_LIST: {
		tr_strlist *l = o->dst;
		if (l->n >= sizeof(l->v) / sizeof(l->v[0]))
			return tr_opt_usage_error(h, "--%s given more than %zu times", o->name,
			                          sizeof(l->v) / sizeof(l->v[0]));
		l->v[l->n++] = val;
		return 0;
	}
	case TR_OPT_U64: {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(val, &end, 10);
		if (errno || end == val || *end || val[0] == '-')
			return tr_opt_usage_error(h, "--%s needs a whole number, not \"%s\"",
			                          o->name, val);
		*(uint64_t *)o->dst = v;
		return 0;
	}
	}
	return 2;
}

int tr_opt_parse(const tr_cmd_help *h, const tr_opt *opts, int argc, char **argv, const char **pos,
                 size_t maxpos, size_t *npos)
{
	int only_pos = 0;
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (*npos >= maxpos)
				return tr_opt_usage_error(h, "unexpected argument \"%s\"", a);
			pos[(*npos)++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			tr_opt_help(h, opts, stdout);
			return -1;
		}
		const tr_opt *o;
		const char *val = NULL;
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			o = find_long(opts, name, n);
			if (!o)
				return tr_opt_usage_error(h, "unknown option --%.*s", (int)n, name);
			if (eq) {
				if (o->type == TR_OPT_FLAG)
					return tr_opt_usage_error(h, "--%s takes no value",
					                          o->name);
				val = eq + 1;
			}
		} else {
			o = find_short(opts, a[1]);
			if (!o)
				return tr_opt_usage_error(h, "unknown option -%c", a[1]);
			if (a[2]) {
				if (o->type == TR_OPT_FLAG)
					return tr_opt_usage_error(h, "-%c takes no value", a[1]);
				val = a + 2;
			}
		}
		if (o->type != TR_OPT_FLAG && !val) {
			if (++i >= argc)
				return tr_opt_usage_error(h, "--%s needs %s", o->name,
				                          o->arg ? o->arg : "a value");
			val = argv[i];
		}
		int rc = assign(h, o, val);
		if (rc)
			return rc;
	}
	return 0;
}
