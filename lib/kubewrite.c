#include "kubewrite.h"

#include <string.h>

#include "alloc.h"
#include "kube.h"

struct kube_write {
	kubewrite_done_cb cb;
	void *data;
};

static void kube_done(struct http_call *c, im_result transport, void *data)
{
	struct kube_write *kw = data;
	struct buf err;
	im_result result;

	buf_init(&err, 2048);
	result = kubeclient_result(c, transport, &err);
	http_call_free(c);
	kw->cb(kw->data, result, buf_str(&err));
	buf_release(&err);
	im_free(kw);
}

static void write_path(struct buf *b, const struct kubewrite *w)
{
	if (w->op == KUBEWRITE_STATUS) {
		buf_adds(b, KUBE_PATH(KUBE_GV_INFERMON) "/namespaces/");
		kubeclient_escape(b, w->namespace);
		buf_adds(b, "/inferenceworkloads/");
		kubeclient_escape(b, w->name);
		buf_adds(b, "/status?fieldManager=infermon-status&force=true");
		return;
	}
	buf_adds(b, kube_owned[w->kind].path);
	buf_adds(b, "/namespaces/");
	kubeclient_escape(b, w->namespace);
	buf_printf(b, "/%s/", kube_owned[w->kind].resource);
	kubeclient_escape(b, w->name);
	if (w->op == KUBEWRITE_APPLY)
		buf_adds(b, "?fieldManager=infermon&force=true");
}

static im_result kube_send(void *ctx, const struct kubewrite *w, kubewrite_done_cb cb, void *data)
{
	struct buf path;
	struct http_call *c;
	struct kube_write *kw;
	im_result result = IM_OK;

	buf_init(&path, BUF_MAX_SMALL);
	write_path(&path, w);
	if (path.overflow) {
		result = IM_TOOBIG;
		goto out;
	}
	c = kubeclient_call(ctx, w->op == KUBEWRITE_DELETE ? "DELETE" : "PATCH", buf_str(&path));
	if (w->op != KUBEWRITE_DELETE) {
		char *body = cJSON_PrintUnformatted(w->body);
		kubeclient_set_body(c, "application/apply-patch+yaml", body, strlen(body));
		im_free(body);
	}
	http_call_timeouts(c, 10000, 30000, 0);
	kw = im_xcalloc(1, sizeof(*kw));
	kw->cb = cb;
	kw->data = data;
	result = http_call_start(c, kube_done, kw);
	if (result) {
		http_call_free(c);
		im_free(kw);
	}
out:
	buf_release(&path);
	return result;
}

void kubewrite_client_kube(struct kubewrite_client *wc, struct kubeclient *kc)
{
	wc->send = kube_send;
	wc->ctx = kc;
}
