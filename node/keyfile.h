/* keyfile.h: the node key on disk.
 *
 * The file holds the 32-byte Ed25519 seed, base64, after a comment line:
 *     # trestle node key: secret. ...
 *     ed25519-seed <base64>
 * It is created with mode 0600 and O_EXCL (never overwriting a key), fsynced, and
 * refused when loading if anyone but its owner can read or write it (as ssh does).
 * The seed is read into guarded memory and wiped; it is never printed.
 */
#ifndef TR_KEYFILE_H
#define TR_KEYFILE_H

#include <stddef.h>

#include "key.h"

/* Creates a new key and writes it to path. TR_EEXIST if path exists. *out is the
 * caller's. */
int tr_keyfile_create(const char *path, tr_key **out);
/* Loads the key at path. TR_EKEY with why filled in (permissions, format), or errno. */
int tr_keyfile_load(const char *path, tr_key **out, char *why, size_t whylen);

#endif
