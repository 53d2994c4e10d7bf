/* error.h: trestle's error codes and tr_strerror().
 *
 * Every trestle function that can fail returns an int: 0 on success, a positive errno
 * value (ENOMEM, ENOSPC, EACCES, ...) for system errors, or one of the TR_E* codes
 * below from trestle's own reserved negative block (as LMDB does). LMDB and ZeroMQ
 * errors are mapped to these where they enter trestle. tr_strerror() covers both.
 */
#ifndef TR_ERROR_H
#define TR_ERROR_H

enum {
	TR_OK = 0,
	TR_ERR_FIRST = -30900,
	TR_EFORMAT = TR_ERR_FIRST, /* malformed encoding: truncated, wrong type, bad length */
	TR_ECANON,                 /* well-formed but not the one canonical encoding */
	TR_ETOOBIG,                /* a length, count or size is over its documented cap */
	TR_EVERSION,               /* format version this build does not know */
	TR_ESIG,                   /* signature does not verify */
	TR_EDIGEST,                /* a disclosed field does not match its digest */
	TR_ESCHEMA,                /* record is not valid for its kind */
	TR_ENOTFOUND,              /* no such record, partner, key, ... */
	TR_EEXIST,                 /* already exists */
	TR_EAMBIG,                 /* an id prefix matches more than one record */
	TR_EREF,                   /* a referenced record is missing or of the wrong kind */
	TR_ESTORE,                 /* not a trestle store, or another schema version */
	TR_ECORRUPT,               /* store or file damaged */
	TR_EKEY,                   /* key file unusable (permissions, format) */
	TR_EBUSY,                  /* resource held by another process */
	TR_EINVAL,                 /* invalid argument from a user */
	TR_EPERM,                  /* not allowed by the sharing rules, terms or consent */
	TR_ERR_LAST = TR_EPERM
};

/* A static, human-readable message for err (a TR_E* code or an errno value). */
const char *tr_strerror(int err);

#endif
