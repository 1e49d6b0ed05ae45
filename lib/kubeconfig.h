/*
 * kubeconfig.h - where the API client gets its connection settings: a
 * kubeconfig file (read with yamljson) or the in-cluster service account.
 *
 * Supported in a kubeconfig (docs/yaml-and-kubeconfig.md has the details):
 *   clusters[].cluster: server, certificate-authority(-data)
 *   users[].user: client-certificate(-data), client-key(-data), token,
 *                 tokenFile
 *   contexts[].context: cluster, user, namespace;  current-context
 * Refused with a clear error, because ignoring them would connect in a way the
 * file did not ask for: insecure-skip-tls-verify: true (TLS is always
 * verified), tls-server-name, proxy-url, exec and auth-provider plugins,
 * username/password, impersonation (as, as-groups, as-uid, as-user-extra).
 * Unknown fields are ignored. Only the selected context, its cluster and its
 * user are interpreted.
 *
 * The server must be https://, or http:// to a loopback host (127.0.0.0/8,
 * ::1, localhost: `kubectl proxy`). It is normalised to
 * scheme://host:port[/path] with the default port written out, IPv6 hosts in
 * brackets and no trailing slash, so callers append "/api/v1/...".
 *
 * PEM data is checked with OpenSSL: the CA bundle and the client certificate
 * must hold at least one certificate, the key must be an unencrypted private
 * key that matches the certificate.
 *
 * Messages are one lower-case line naming the file and the subject, e.g.
 *   kubeconfig "/root/.kube/config": context "dev" not found
 * and never contain a token or key material.
 *
 * Not thread-safe per struct: one owner at a time (the loop thread once it is
 * handed to the API client).
 */
#ifndef INFERMON_KUBECONFIG_H
#define INFERMON_KUBECONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define KUBECONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kubeconfig {
	char *server; /* "https://host:port" without trailing slash; IPv6 literal hosts in brackets */
	char *ca_pem; /* CA bundle contents (PEM), or NULL for the system store */
	size_t ca_pem_len;
	char *cert_pem; /* client certificate (PEM) or NULL */
	size_t cert_pem_len;
	char *key_pem; /* client private key (PEM) or NULL */
	size_t key_pem_len;
	char *token;            /* bearer token or NULL */
	char *token_file;       /* when set, the token is (re-)read from this file */
	uint64_t token_read_ms; /* monotonic ms when token was last read from token_file */
	char *namespace; /* namespace of the context / in-cluster namespace; "default" if none */
	char *context;   /* context name used, or "in-cluster" */
	char *source;    /* path it was loaded from, or "in-cluster" (for messages) */
};

/* In place, cannot fail: all fields NULL/0. */
void kubeconfig_init(struct kubeconfig *c);
/* Frees the contents (token and key are wiped first) and re-initialises. */
void kubeconfig_release(struct kubeconfig *c);

/*
 * All loaders: c must be initialised. On success c's previous contents are
 * released and replaced; on failure c is unchanged and err (when not NULL) is
 * reset to one message. Results: IM_NOTFOUND (a file, context, cluster or
 * user does not exist), IM_PARSE (bad YAML, base64 or PEM), IM_CONFIG
 * (refused or missing settings), IM_TOOBIG, IM_IO.
 */

/* path's contents; context NULL = current-context. Relative file paths in it
 * are relative to path's directory. */
im_result kubeconfig_load_file(struct kubeconfig *c, const char *path, const char *context,
			       struct buf *err);

/* Same from memory; base_dir resolves relative file paths (certificate-authority,
 * client-certificate, client-key, tokenFile) as kubectl does: relative to the
 * kubeconfig file's directory. base_dir NULL: relative to the working
 * directory. source names the data in messages (NULL: "<memory>"). */
im_result kubeconfig_load_data(struct kubeconfig *c, const char *data, size_t len,
			       const char *source, const char *base_dir, const char *context,
			       struct buf *err);

/* In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, sa_dir
 * (NULL = KUBECONFIG_SA_DIR) token, ca.crt, namespace. IPv6 host → brackets.
 * The namespace is $POD_NAMESPACE when set, else the namespace file, else
 * "default" (as client-go). A missing ca.crt is an error (the system store
 * cannot verify a cluster's own CA). */
im_result kubeconfig_load_incluster(struct kubeconfig *c, const char *sa_dir, struct buf *err);

/* --kubeconfig path if non-NULL; else $KUBECONFIG when set and non-empty:
 * the first file of its colon-separated list that exists (files are not
 * merged as kubectl does), an error if none exists; else in-cluster when
 * KUBERNETES_SERVICE_HOST is set; else $HOME/.kube/config when it exists
 * (as controller-runtime); else an error. context is honoured for files;
 * a context with in-cluster configuration is an error. */
im_result kubeconfig_load_default(struct kubeconfig *c, const char *path, const char *context,
				  struct buf *err);

/* Re-reads token_file when it was read more than max_age_ms before now_ms
 * (bound service-account tokens rotate; client-go re-reads every minute).
 * now_ms is monotonic milliseconds (CLOCK_MONOTONIC, as the loop's clock).
 * Keeps the old token if the re-read fails, and reports the failure; the
 * attempt still counts as a read, so a missing file is retried (and reported)
 * once per max_age_ms, not on every call. IM_OK with nothing done when there
 * is no token_file or the token is fresh. Surrounding whitespace is trimmed;
 * an empty file is a failure. */
im_result kubeconfig_refresh_token(struct kubeconfig *c, uint64_t now_ms, uint64_t max_age_ms,
				   struct buf *err);

#endif
