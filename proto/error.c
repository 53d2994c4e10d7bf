/* error.c: messages for trestle's error codes; errno values go to strerror(). */
#include "error.h"

#include <string.h>

#include "banned.h"

const char *tr_strerror(int err)
{
	switch (err) {
	case TR_OK:
		return "success";
	case TR_EFORMAT:
		return "malformed encoding";
	case TR_ECANON:
		return "not in canonical encoding";
	case TR_ETOOBIG:
		return "size over the limit";
	case TR_EVERSION:
		return "unknown format version";
	case TR_ESIG:
		return "signature does not verify";
	case TR_EDIGEST:
		return "a disclosed field does not match its signed digest";
	case TR_ESCHEMA:
		return "record is not valid for its kind";
	case TR_ENOTFOUND:
		return "not found";
	case TR_EEXIST:
		return "already exists";
	case TR_EAMBIG:
		return "id prefix is ambiguous";
	case TR_EREF:
		return "referenced record missing or of the wrong kind";
	case TR_ESTORE:
		return "not a trestle store of this version";
	case TR_ECORRUPT:
		return "store or file is damaged";
	case TR_EKEY:
		return "key file unusable";
	case TR_EBUSY:
		return "in use by another process";
	case TR_EINVAL:
		return "invalid argument";
	case TR_EPERM:
		return "not allowed by the sharing rules, the author's terms or consent";
	}
	if (err > 0)
		return strerror(err);
	return "unknown error";
}
