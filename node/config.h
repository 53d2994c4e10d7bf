/* config.h: the node's config file and where its home directory is.
 *
 * One table (config.c) drives parsing, defaults, validation and the commented file that
 * `trestle init` writes, as Redis does with its config table.
 *
 * Home: --home, else $TRESTLE_HOME, else $XDG_STATE_HOME/trestle, else
 * ~/.local/state/trestle. It holds trestle.conf, node.key and store/.
 */
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include <stddef.h>

#define TR_CONFIG_FILE "trestle.conf"
#define TR_KEY_FILE "node.key"
#define TR_STORE_DIR "store"

typedef struct tr_config {
	char name[128];   /* the firm's name, as partners will see it */
	char role[16];    /* producer, distributor or user */
	char listen[256]; /* ZeroMQ endpoint trestled binds */
} tr_config;

void tr_config_defaults(tr_config *c);
/* Checks one setting; 0 or TR_EINVAL with why filled in. */
int tr_config_set(tr_config *c, const char *key, const char *value, char *why, size_t whylen);
/* Loads path over the defaults. Errors name the line. 0, TR_EINVAL, errno. */
int tr_config_load(const char *path, tr_config *c, char *why, size_t whylen);
/* Writes c to path (mode 0644, atomically via a temporary file), with comments. */
int tr_config_write(const char *path, const tr_config *c);

/* Resolves the home directory into out. flag is --home's value or NULL. 0, or
 * TR_EINVAL when no HOME can be found, or ENAMETOOLONG. */
int tr_home_resolve(const char *flag, char *out, size_t outlen);

#endif
