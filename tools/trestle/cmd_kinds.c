/* cmd_kinds.c: `trestle kinds [KIND]`: the record kinds and their fields, from the
 * kind table itself (proto/kind.c), so this can never disagree with validation. */
#include <string.h>

#include "cli.h"
#include "kind.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {"kinds", "[KIND]", "List record kinds, or one kind's fields.",
                                 NULL};

static const char *type_name(int t)
{
	switch (t) {
	case TR_FT_STR:
		return "text";
	case TR_FT_TEXT:
		return "long text";
	case TR_FT_INT:
		return "number";
	case TR_FT_DATE:
		return "date";
	case TR_FT_ENUM:
		return "choice";
	}
	return "?";
}

static json_t *kind_json(const tr_kind_spec *k)
{
	json_t *fields = json_array(), *refs = json_array();
	for (const tr_field_spec *f = k->fields; f->name; f++) {
		json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "name", f->name, "type",
		                      type_name(f->type), "required", f->required, "help", f->help);
		if (f->type == TR_FT_INT) {
			json_object_set_new(o, "min", json_integer(f->min));
			json_object_set_new(o, "max", json_integer(f->max));
		} else if (f->type == TR_FT_STR || f->type == TR_FT_TEXT) {
			json_object_set_new(o, "max_bytes", json_integer(f->max));
		} else if (f->type == TR_FT_ENUM) {
			json_t *ch = json_array();
			for (const char *const *c = f->choices; *c; c++)
				json_array_append_new(ch, json_string(*c));
			json_object_set_new(o, "choices", ch);
		}
		json_array_append_new(fields, o);
	}
	for (const char *const *r = k->ref_kinds; r && *r; r++)
		json_array_append_new(refs, json_string(*r));
	return json_pack("{s:s, s:s, s:o, s:i, s:i, s:o}", "kind", k->name, "help", k->help,
	                 "fields", fields, "min_refs", (int)k->min_refs, "max_refs",
	                 (int)k->max_refs, "ref_kinds", refs);
}

static void print_kind(const tr_kind_spec *k)
{
	printf("%s: %s\n", k->name, k->help);
	if (k->max_refs)
		printf("  refers to %zu..%zu record(s)%s", k->min_refs, k->max_refs,
		       k->ref_kinds ? " of kind " : "\n");
	for (const char *const *r = k->ref_kinds; k->max_refs && r && *r; r++)
		printf("%s%s", *r, r[1] ? ", " : "\n");
	for (const tr_field_spec *f = k->fields; f->name; f++) {
		printf("  %-12s %-9s %s %s", f->name, type_name(f->type),
		       f->required ? "required" : "optional", f->help);
		if (f->type == TR_FT_INT)
			printf(" [%lld..%lld]", (long long)f->min, (long long)f->max);
		else if (f->type == TR_FT_STR || f->type == TR_FT_TEXT)
			printf(" [max %lld bytes]", (long long)f->max);
		putchar('\n');
	}
	printf("  %-12s %-9s optional your own field (number or up to %d bytes)\n", "x_*", "custom",
	       TR_CUSTOM_FIELD_MAX);
}

int cmd_kinds(tr_cli *cli, int argc, char **argv)
{
	int json = 0;
	const tr_opt opts[] = {
	    {"json", 0, TR_OPT_FLAG, &json, NULL, "print the kinds and their fields as JSON"}, {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &help, opts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	const tr_kind_spec *one = NULL;
	if (npos == 1 && !(one = tr_kind_find(pos[0], strlen(pos[0]))))
		return tr_opt_usage_error(&help, "unknown kind \"%s\"", pos[0]);
	if (json) {
		json_t *out = one ? kind_json(one) : json_array();
		for (const tr_kind_spec *k = tr_kinds; !one && k->name; k++)
			json_array_append_new(out, kind_json(k));
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
		return 0;
	}
	if (one) {
		print_kind(one);
		return 0;
	}
	for (const tr_kind_spec *k = tr_kinds; k->name; k++)
		printf("  %-14s %s\n", k->name, k->help);
	printf("\n`trestle kinds KIND` lists a kind's fields.\n");
	return 0;
}
