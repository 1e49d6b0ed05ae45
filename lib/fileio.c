#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

im_result fileio_read(const char *path, size_t max, struct buf *out, struct buf *err)
{
	im_result result = IM_OK;
	int fd = -1, e = 0;
	char chunk[16384];

	buf_reset(out);
	if (err)
		buf_reset(err);
	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		e = errno;
		result = e == ENOENT || e == ENOTDIR ? IM_NOTFOUND : IM_IO;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			result = IM_IO;
			goto out;
		}
		if (n == 0)
			break;
		if ((size_t)n > max - out->len || buf_add(out, chunk, (size_t)n)) {
			result = IM_TOOBIG;
			goto out;
		}
	}
	/* An empty buffer has no allocation; give callers a "" they can use. */
	if (!out->ptr && buf_add(out, "", 0))
		result = IM_TOOBIG;
out:
	if (fd >= 0)
		close(fd);
	if (result) {
		buf_release(out);
		if (err) {
			buf_printf(err, "cannot read \"%s\": ", path);
			if (result == IM_TOOBIG)
				buf_printf(err, "larger than %zu bytes", max);
			else
				buf_add_errno(err, e);
		}
	}
	return result;
}
