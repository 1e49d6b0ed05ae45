#include "t_kube.h"

#include "buf.h"
#include "t.h"

cJSON *t_json(const char *text)
{
	cJSON *o = cJSON_Parse(text);

	if (!o)
		t_fail(__FILE__, __LINE__, "bad fixture JSON: %s", text);
	return o;
}

cJSON *t_cr(const char *name, const char *workload, const char *created, const char *uid,
	    const char *spec)
{
	struct buf b;
	cJSON *o;

	buf_init(&b, 4096);
	buf_printf(&b,
		   "{\"apiVersion\":\"infermon.io/v1alpha1\",\"kind\":\"InferenceWorkload\","
		   "\"metadata\":{\"name\":\"%s\",\"namespace\":\"llm\",\"generation\":1",
		   name);
	if (created)
		buf_printf(&b, ",\"creationTimestamp\":\"%s\"", created);
	if (uid)
		buf_printf(&b, ",\"uid\":\"%s\"", uid);
	buf_printf(&b, "},\"spec\":{\"workloadName\":\"%s\"%s%s}}", workload, spec ? "," : "",
		   spec ? spec : "");
	o = t_json(buf_str(&b));
	buf_release(&b);
	return o;
}

struct pod *t_pod(const char *name, const char *workload, const char *backend, int port)
{
	struct buf b, err;
	struct pod *p;
	cJSON *o;

	buf_init(&b, 4096);
	buf_init(&err, 1024);
	buf_printf(&b,
		   "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		   "\"namespace\":\"llm\",\"uid\":\"pod-%s\",\"labels\":{\"" LABEL_WORKLOAD
		   "\":\"%s\",\"" LABEL_BACKEND
		   "\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"engine\",\"image\":\"x\","
		   "\"ports\":[{\"name\":\"http\",\"containerPort\":%d}]}]},"
		   "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\","
		   "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		   name, name, workload, backend, port);
	o = t_json(buf_str(&b));
	if (pod_decode(o, &p, &err))
		t_fail(__FILE__, __LINE__, "pod: %s", buf_str(&err));
	cJSON_Delete(o);
	buf_release(&b);
	buf_release(&err);
	return p;
}
