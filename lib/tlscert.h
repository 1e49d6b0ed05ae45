/*
 * tlscert.h - the certificate and key the controller's HTTPS /metrics
 * endpoint serves (httpserver.h): read from a directory holding a mounted
 * kubernetes.io/tls Secret, or made at start-up, self-signed, in memory (the
 * root filesystem is read-only in deploy/).
 *
 * Any thread; no state.
 */
#ifndef INFERMON_TLSCERT_H
#define INFERMON_TLSCERT_H

#include "buf.h"
#include "error.h"

/* Days a self-signed certificate is valid. A pod lives far shorter; a
 * restart makes a new one. */
#define TLSCERT_SELF_SIGNED_DAYS 365

/* A PEM certificate (chain) and its PEM private key. */
struct tlscert {
	struct buf cert;
	struct buf key;
};

void tlscert_init(struct tlscert *t);
/* Frees both; the key's bytes are wiped first. */
void tlscert_release(struct tlscert *t);

/* Reads dir/tls.crt and dir/tls.key (the keys of a kubernetes.io/tls
 * Secret) into t and checks that they parse and that the key is the
 * certificate's. On failure t is left empty and err gets one line naming
 * the file: `cannot use /certs/tls.key: the key does not match the
 * certificate in /certs/tls.crt`; IM_IO (unreadable) or IM_INVAL. */
im_result tlscert_load_dir(struct tlscert *t, const char *dir, struct buf *err);

/* Makes an ECDSA P-256 key and a self-signed certificate for it, valid from
 * an hour ago for TLSCERT_SELF_SIGNED_DAYS, with CN "infermon" and subject
 * alternative names "localhost", 127.0.0.1, ::1 and each of names (DNS
 * names or IP addresses; NULL-terminated list, may be NULL). IM_INTERNAL
 * with err set when OpenSSL fails. */
im_result tlscert_self_signed(struct tlscert *t, const char *const *names, struct buf *err);

#endif
