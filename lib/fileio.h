/*
 * fileio.h - reading whole small files (configs, certificates, tokens) with a
 * hard cap on their size.
 *
 * Any thread may call these; they block on the file system, so the event
 * loop calls them only at start-up or for files known to be small and local
 * (service-account tokens, kubeconfig).
 */
#ifndef INFERMON_FILEIO_H
#define INFERMON_FILEIO_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

/*
 * Reads the whole of path into out, which is emptied first. Fails with
 * IM_TOOBIG when the file holds more than max bytes (or more than out->max),
 * IM_NOTFOUND when path does not exist, IM_IO for any other error (a
 * directory, no permission, a read error). On failure out is empty and err
 * (when not NULL) is reset to one message naming the file, e.g.
 *   cannot read "/x/ca.crt": no such file or directory
 * The contents are NUL-terminated (out->ptr) but may contain NUL bytes;
 * out->len is the byte count. An empty file gives out->len == 0.
 */
im_result fileio_read(const char *path, size_t max, struct buf *out, struct buf *err);

#endif
