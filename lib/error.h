/*
 * error.h - the one error enum of infermon.
 *
 * Every fallible function returns an im_result; the variable holding it is
 * called `result`. IM_OK is zero, so `if (result)` tests for failure. The
 * enum, the names and the messages come from one X-macro list so that they
 * cannot drift apart (libuv's UV_ERRNO_MAP).
 */
#ifndef INFERMON_ERROR_H
#define INFERMON_ERROR_H

#define IM_ERRNO_MAP(X)                                \
	X(OK, "success")                               \
	X(NOMEM, "out of memory")                      \
	X(TOOBIG, "value exceeds its size limit")      \
	X(INVAL, "invalid argument")                   \
	X(PARSE, "cannot parse input")                 \
	X(IO, "input/output error")                    \
	X(NOTFOUND, "not found")                       \
	X(CONFIG, "invalid configuration")             \
	X(TLS, "TLS setup failed")                     \
	X(CONNECT, "cannot connect")                   \
	X(TIMEOUT, "timed out")                        \
	X(HTTP, "unexpected HTTP status")              \
	X(GONE, "resource version too old (410 Gone)") \
	X(CONFLICT, "conflict")                        \
	X(FORBIDDEN, "forbidden")                      \
	X(CANCELED, "canceled")                        \
	X(INTERNAL, "internal error")

typedef enum {
#define IM_ERR_ENUM(name, msg) IM_##name,
	IM_ERRNO_MAP(IM_ERR_ENUM)
#undef IM_ERR_ENUM
		IM_ERR_MAX
} im_result;

/* "IM_NOMEM" etc.; never NULL, "IM_UNKNOWN" for out-of-range values. */
const char *im_err_name(im_result result);
/* Lower-case human message; never NULL. */
const char *im_strerror(im_result result);

#endif
