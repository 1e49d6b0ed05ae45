#include "error.h"

const char *im_err_name(im_result result)
{
	switch (result) {
#define IM_ERR_NAME(name, msg) \
	case IM_##name:        \
		return "IM_" #name;
		IM_ERRNO_MAP(IM_ERR_NAME)
#undef IM_ERR_NAME
	default:
		return "IM_UNKNOWN";
	}
}

const char *im_strerror(im_result result)
{
	switch (result) {
#define IM_ERR_MSG(name, msg) \
	case IM_##name:       \
		return msg;
		IM_ERRNO_MAP(IM_ERR_MSG)
#undef IM_ERR_MSG
	default:
		return "unknown error";
	}
}
