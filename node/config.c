/* config.c: the config table and its file. Never prints; never exits. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "mp.h"
#include "banned.h"

static int check_role(const char *v)
{
	return !strcmp(v, "producer") || !strcmp(v, "distributor") || !strcmp(v, "user");
}

static int check_name(const char *v)
{
	if (!*v || !tr_utf8_valid(v, strlen(v)))
		return 0;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int check_endpoint(const char *v)
{
	return !strncmp(v, "tcp://", 6) || !strncmp(v, "ipc://", 6);
}

static const struct setting {
	const char *key;
	size_t offset, size;
	const char *def;
	int (*check)(const char *v);
	const char *help;
	const char *expect;
} settings[] = {
    {"name", offsetof(tr_config, name), sizeof(((tr_config *)0)->name), "unnamed firm", check_name,
     "The firm's name, as partners see it.", "a name of one line"},
    {"role", offsetof(tr_config, role), sizeof(((tr_config *)0)->role), "user", check_role,
     "The firm's role: producer, distributor or user.", "producer, distributor or user"},
    {"listen", offsetof(tr_config, listen), sizeof(((tr_config *)0)->listen),
     "tcp://127.0.0.1:7700", check_endpoint,
     "Where trestled listens for partners (a ZeroMQ endpoint).", "a tcp:// or ipc:// endpoint"},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

void tr_config_defaults(tr_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NSETTINGS; i++)
		snprintf((char *)c + settings[i].offset, settings[i].size, "%s", settings[i].def);
}

int tr_config_set(tr_config *c, const char *key, const char *value, char *why, size_t whylen)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		if (strcmp(s->key, key) != 0)
			continue;
		if (strlen(value) >= s->size || !s->check(value)) {
			snprintf(why, whylen, "%s must be %s (at most %zu bytes), not \"%.60s\"",
			         key, s->expect, s->size - 1, value);
			return TR_EINVAL;
		}
		snprintf((char *)c + s->offset, s->size, "%s", value);
		return 0;
	}
	snprintf(why, whylen, "unknown setting \"%.60s\" (known: name, role, listen)", key);
	return TR_EINVAL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

int tr_config_load(const char *path, tr_config *c, char *why, size_t whylen)
{
	tr_config_defaults(c);
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(e));
		return e;
	}
	char line[1024], sub[300];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(why, whylen, "%s line %d: expected key = value", path, lineno);
			rc = TR_EINVAL;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		size_t vn = strlen(val);
		if (vn >= 2 && val[0] == '"' && val[vn - 1] == '"') {
			val[vn - 1] = '\0';
			val++;
		}
		if ((rc = tr_config_set(c, key, val, sub, sizeof(sub))) != 0) {
			snprintf(why, whylen, "%s line %d: %s", path, lineno, sub);
			break;
		}
	}
	if (!rc && ferror(f)) {
		rc = EIO;
		snprintf(why, whylen, "cannot read %s", path);
	}
	fclose(f);
	return rc;
}

int tr_config_write(const char *path, const tr_config *c)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return errno;
	}
	fprintf(f, "# trestle node configuration. Lines are `key = value`; # starts a comment.\n"
	           "# `trestle init` wrote this file; edit it and restart trestled.\n");
	for (size_t i = 0; i < NSETTINGS; i++)
		fprintf(f, "\n# %s (default: %s)\n%s = \"%s\"\n", settings[i].help, settings[i].def,
		        settings[i].key, (const char *)c + settings[i].offset);
	int rc = 0;
	if (fflush(f) != 0 || fsync(fd) != 0)
		rc = errno;
	if (fclose(f) != 0 && !rc)
		rc = errno;
	if (!rc && rename(tmp, path) != 0)
		rc = errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int tr_home_resolve(const char *flag, char *out, size_t outlen)
{
	const char *v;
	int n;
	if (flag && *flag)
		n = snprintf(out, outlen, "%s", flag);
	else if ((v = getenv("TRESTLE_HOME")) && *v)
		n = snprintf(out, outlen, "%s", v);
	else if ((v = getenv("XDG_STATE_HOME")) && *v == '/')
		n = snprintf(out, outlen, "%s/trestle", v);
	else if ((v = getenv("HOME")) && *v)
		n = snprintf(out, outlen, "%s/.local/state/trestle", v);
	else
		return TR_EINVAL;
	return n < 0 || (size_t)n >= outlen ? ENAMETOOLONG : 0;
}
