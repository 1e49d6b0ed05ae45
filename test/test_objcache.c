#include "t.h"

#include "buf.h"
#include "objcache.h"

TEST(obj_key_spells_namespace_slash_name)
{
	struct buf b;

	buf_init(&b, BUF_MAX_SMALL);
	ASSERT_STREQ(obj_key(&b, "llm", "qwen-chat"), "llm/qwen-chat");
	/* it empties b first: one buffer serves a loop of keys */
	ASSERT_STREQ(obj_key(&b, "monitoring", "k8s"), "monitoring/k8s");
	ASSERT_EQ_INT(b.len, 14);
	/* cluster-scoped objects (and a missing name) are written as "" */
	ASSERT_STREQ(obj_key(&b, NULL, "llm"), "/llm");
	ASSERT_STREQ(obj_key(&b, "llm", NULL), "llm/");
	buf_release(&b);
}

TEST(obj_key_is_the_cache_key)
{
	struct objcache c;
	struct buf b;
	cJSON *o = cJSON_Parse("{\"metadata\":{\"namespace\":\"llm\",\"name\":\"a\"}}");

	objcache_init(&c, NULL, NULL);
	buf_init(&b, BUF_MAX_SMALL);
	hmap_put(&c.objs, obj_key(&b, "llm", "a"), o);
	ASSERT_TRUE(objcache_get(&c, "llm", "a") == o);
	ASSERT_TRUE(objcache_get(&c, "llm", "b") == NULL);
	buf_release(&b);
	objcache_release(&c);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
