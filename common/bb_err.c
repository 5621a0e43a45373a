/* common/bb_err.c — the one table of error messages (DESIGN.md §5.2). */
#include "bb.h"

static const struct {
	const char *name;
	const char *msg;
} bb_err_table[BB_ERR_COUNT] = {
	[BB_OK] = {"BB_OK", "ok"},
	[BB_ENOMEM] = {"BB_ENOMEM", "out of memory"},
	[BB_EINVAL] = {"BB_EINVAL", "invalid argument"},
	[BB_ENOTFOUND] = {"BB_ENOTFOUND", "not found"},
	[BB_EEXIST] = {"BB_EEXIST", "already exists"},
	[BB_ECONFLICT] = {"BB_ECONFLICT", "precondition failed (concurrent modification)"},
	[BB_ENOTLEADER] = {"BB_ENOTLEADER", "not the raft leader"},
	[BB_ETIMEDOUT] = {"BB_ETIMEDOUT", "timed out"},
	[BB_EBUSY] = {"BB_EBUSY", "too many requests in flight"},
	[BB_EIO] = {"BB_EIO", "I/O error"},
	[BB_ENOSPC] = {"BB_ENOSPC", "no space left on device"},
	[BB_ECORRUPT] = {"BB_ECORRUPT", "data is corrupt"},
	[BB_ESHUTDOWN] = {"BB_ESHUTDOWN", "shutting down"},
	[BB_ETOOBIG] = {"BB_ETOOBIG", "input exceeds a limit"},
	[BB_EAUTHMISSING] = {"BB_EAUTHMISSING", "missing authentication token"},
	[BB_EAUTHINCOMPLETE] = {"BB_EAUTHINCOMPLETE", "incomplete signature"},
	[BB_EAUTHUNKNOWN] = {"BB_EAUTHUNKNOWN", "unrecognized access key"},
	[BB_EAUTHSIG] = {"BB_EAUTHSIG", "signature does not match"},
	[BB_EAUTHEXPIRED] = {"BB_EAUTHEXPIRED", "signature expired"},
	[BB_EPATTERN] = {"BB_EPATTERN", "event pattern is not valid"},
	[BB_EINTERNAL] = {"BB_EINTERNAL", "internal error"},
};

const char *bb_strerror(bb_err e)
{
	if ((unsigned)e >= BB_ERR_COUNT || !bb_err_table[e].msg)
		return "unknown error";
	return bb_err_table[e].msg;
}

const char *bb_errname(bb_err e)
{
	if ((unsigned)e >= BB_ERR_COUNT || !bb_err_table[e].name)
		return "BB_E?";
	return bb_err_table[e].name;
}
