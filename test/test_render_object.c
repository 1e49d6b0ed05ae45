#include "t.h"

#include "render_object.h"

TEST(render_object_takes_apiversion_and_kind_from_the_table)
{
	cJSON *l = cJSON_CreateObject(), *o;
	char *text;

	cJSON_AddStringToObject(l, LABEL_MANAGED_BY, MANAGER_NAME);
	o = render_object(OWNED_SCRAPECONFIG, "llm", "infermon-qwen", l);
	text = cJSON_PrintUnformatted(o);
	ASSERT_STREQ(text,
		     "{\"apiVersion\":\"monitoring.coreos.com/v1alpha1\",\"kind\":"
		     "\"ScrapeConfig\",\"metadata\":{\"name\":\"infermon-qwen\",\"namespace\":"
		     "\"llm\",\"labels\":{\"app.kubernetes.io/managed-by\":\"infermon\"}}}");
	cJSON_free(text);
	cJSON_Delete(o);
	/* cluster-scoped: no namespace */
	o = render_object(OWNED_CONFIGMAP, NULL, "x", cJSON_CreateObject());
	ASSERT_TRUE(!cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(o, "metadata"), "namespace"));
	ASSERT_STREQ(cJSON_GetObjectItemCaseSensitive(o, "apiVersion")->valuestring, "v1");
	cJSON_Delete(o);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
