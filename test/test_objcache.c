#include <stdio.h>
#include <string.h>

#include "t.h"

#include "buf.h"
#include "objcache.h"
#include "reflector.h"

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

	cJSON *f = objcache_freeze(NULL, o);

	cJSON_Delete(o);
	objcache_init(&c, NULL, NULL);
	buf_init(&b, BUF_MAX_SMALL);
	hmap_put(&c.objs, obj_key(&b, "llm", "a"), f);
	ASSERT_TRUE(objcache_get(&c, "llm", "a") == f);
	ASSERT_TRUE(objcache_get(&c, "llm", "b") == NULL);
	buf_release(&b);
	objcache_release(&c);
}

static int oc_changes, oc_deletes;

static void oc_count(void *ctx, const cJSON *obj, bool deleted)
{
	(void)ctx;
	(void)obj;
	if (deleted)
		oc_deletes++;
	else
		oc_changes++;
}

/* A list reaches the store page by page: decode keeps a copy without
 * managedFields that outlives the page's JSON, an object without a name is
 * left out, replace makes the cache hold the list (objects of the scope
 * not in it are dropped, unchanged ones run no callback). */
TEST(objcache_store_decodes_a_list_page_by_page)
{
	struct objcache c;
	struct reflector_store st;
	const char *json[] = {
		("{\"metadata\":{\"namespace\":\"n\",\"name\":\"a\",\"managedFields\":[{\"manager\":\"m\"}]},"
		 "\"spec\":{\"x\":1}}"),
		"{\"metadata\":{\"namespace\":\"n\",\"name\":\"b\"},\"spec\":{\"x\":2}}",
		"{\"metadata\":{\"namespace\":\"n\"}}",
	};
	void *items[3];
	size_t n = 0;
	cJSON *old = cJSON_Parse("{\"metadata\":{\"namespace\":\"n\",\"name\":\"old\"}}");

	objcache_init(&c, oc_count, NULL);
	objcache_store(&c, &st);
	st.upsert(st.ctx, old);
	cJSON_Delete(old);
	for (int i = 0; i < 3; i++) {
		cJSON *o = cJSON_Parse(json[i]);
		void *it = st.decode(st.ctx, o);
		if (it)
			items[n++] = it;
		cJSON_Delete(o);
	}
	ASSERT_EQ_INT(n, 2);
	oc_changes = oc_deletes = 0;
	ASSERT_EQ_INT(st.replace(st.ctx, "n", items, n), 0);
	ASSERT_EQ_INT(oc_changes, 2);
	ASSERT_EQ_INT(oc_deletes, 1);
	ASSERT_TRUE(objcache_get(&c, "n", "old") == NULL);
	ASSERT_TRUE(
		cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(objcache_get(&c, "n", "a"), "metadata"),
			"managedFields") == NULL);

	/* relisted unchanged: no callback */
	n = 0;
	for (int i = 0; i < 2; i++) {
		cJSON *o = cJSON_Parse(json[i]);
		items[n++] = st.decode(st.ctx, o);
		cJSON_Delete(o);
	}
	oc_changes = 0;
	st.replace(st.ctx, "n", items, n);
	ASSERT_EQ_INT(oc_changes, 0);
	ASSERT_EQ_INT(c.objs.count, 2);

	/* a list given up half way */
	{
		cJSON *o = cJSON_Parse(json[1]);
		st.discard(st.ctx, st.decode(st.ctx, o));
		cJSON_Delete(o);
	}
	objcache_release(&c);
}

/* A frozen copy reads as the object did (cJSON_Compare, printing, items in
 * order, children's prev links as cJSON keeps them, numbers, empty strings,
 * nested arrays), without metadata.managedFields only, and is one block
 * (objcache_free frees it all: the leak check at the end says so). */
TEST(objcache_freeze_is_the_object_in_one_block)
{
	const char *json =
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\","
		"\"namespace\":\"n\",\"labels\":{\"a\":\"1\",\"b\":\"\"},\"managedFields\":[{\"manager\":"
		"\"m\"}],\"generation\":3},\"spec\":{\"managedFields\":true,\"ports\":[{\"port\":8000,"
		"\"name\":\"metrics\"},{\"port\":-1.5}],\"x\":null,\"y\":false,\"z\":[[],{},[1,[2]]]}}";
	cJSON *o = cJSON_Parse(json), *want = cJSON_Parse(json), *f, *c;
	char *a, *b;
	const cJSON *ports;

	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(want, "metadata"),
						"managedFields");
	f = objcache_freeze(NULL, cJSON_GetObjectItemCaseSensitive(o, "metadata")->next /* spec */);
	ASSERT_TRUE(f->next == NULL && f->prev == NULL && f->string == NULL);
	/* managedFields are left out of metadata only */
	ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "managedFields")));
	objcache_free(NULL, f);

	f = objcache_freeze(NULL, o);
	cJSON_Delete(o); /* nothing of f points into o */
	ASSERT_TRUE(cJSON_Compare(f, want, true));
	a = cJSON_PrintUnformatted(f);
	b = cJSON_PrintUnformatted(want);
	ASSERT_STREQ(a, b);
	cJSON_free(a);
	cJSON_free(b);
	ports = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(f, "spec"),
						 "ports");
	ASSERT_EQ_INT(cJSON_GetArraySize(ports), 2);
	ASSERT_TRUE(ports->child->prev == ports->child->next); /* the last of two */
	ASSERT_EQ_INT(cJSON_GetArrayItem(ports, 0)->child->valueint, 8000);
	ASSERT_EQ_DBL(cJSON_GetArrayItem(ports, 1)->child->valuedouble, -1.5, 0);
	ASSERT_STREQ(obj_label(f, "b"), "");
	/* a duplicate is an ordinary tree again */
	c = cJSON_Duplicate(f, true);
	ASSERT_TRUE(cJSON_Compare(c, want, true));
	cJSON_Delete(c);
	objcache_free(NULL, f);
	cJSON_Delete(want);
}

/* ServiceMonitors of two workloads: the same endpoints (16 nodes or more)
 * are one frozen copy between them, each still reads as its own object,
 * and the copy goes with the last object that holds it (ASan and the leak
 * check see a list freed early or never). */
static cJSON *monitor(const char *name, int port)
{
	char json[1024];

	snprintf(
		json, sizeof(json),
		"{\"metadata\":{\"namespace\":\"n\",\"name\":\"%s\",\"labels\":{\"w\":\"%s\"}},"
		"\"spec\":{\"selector\":{\"w\":\"%s\"},\"endpoints\":[{\"port\":\"metrics\","
		"\"interval\":\"15s\",\"relabelings\":[{\"sourceLabels\":[\"a\"],\"action\":\"keep\"},"
		"{\"sourceLabels\":[\"b\"],\"targetLabel\":\"pod\",\"action\":\"replace\"},"
		"{\"sourceLabels\":[\"c\"],\"targetLabel\":\"ns\",\"action\":\"replace\"}],"
		"\"targetPort\":%d}],\"small\":[1,2]}}",
		name, name, name, port);
	return cJSON_Parse(json);
}

static int oc_seen;

static void oc_check(void *ctx, const cJSON *obj, bool deleted)
{
	(void)ctx;
	(void)deleted;
	oc_seen += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(obj, "spec"), "endpoints"));
}

TEST(objcache_shares_large_arrays_between_objects)
{
	struct objcache c;
	struct reflector_store st;
	cJSON *a = monitor("a", 1), *b = monitor("b", 1), *d = monitor("d", 2);
	const cJSON *fa, *fb, *fd, *ea, *eb;

	objcache_init(&c, oc_check, NULL);
	objcache_store(&c, &st);
	st.upsert(st.ctx, a);
	st.upsert(st.ctx, b);
	st.upsert(st.ctx, d);
	fa = objcache_get(&c, "n", "a");
	fb = objcache_get(&c, "n", "b");
	fd = objcache_get(&c, "n", "d");
	ASSERT_TRUE(cJSON_Compare(fa, a, true));
	ASSERT_TRUE(cJSON_Compare(fb, b, true));
	ASSERT_TRUE(cJSON_Compare(fd, d, true));
	ASSERT_EQ_INT(oc_seen, 3);
	ea = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fa, "spec"),
					      "endpoints");
	eb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fb, "spec"),
					      "endpoints");
	ASSERT_TRUE(ea != eb && ea->child == eb->child); /* one list */
	ASSERT_EQ_INT(c.shared.count, 2);                /* d's endpoints differ */
	/* a small array is each object's own */
	ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fa, "spec"),
						     "small")
			    ->child !=
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fb, "spec"),
						     "small")
			    ->child);
	/* a goes: b still reads whole; relisted unchanged keeps its copy */
	st.remove(st.ctx, a);
	ASSERT_EQ_INT(c.shared.count, 2);
	ASSERT_TRUE(cJSON_Compare(objcache_get(&c, "n", "b"), b, true));
	st.upsert(st.ctx, b);
	ASSERT_TRUE(objcache_get(&c, "n", "b") == fb);
	st.remove(st.ctx, b);
	ASSERT_EQ_INT(c.shared.count, 1);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(d);
	objcache_release(&c);
}

static cJSON *labelled(const char *ns, const char *name, const char *workload)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\",\"labels\":"
		 "{\"infermon.io/workload\":\"%s\"}}}",
		 ns, name, workload);
	return cJSON_Parse(text);
}

static bool group_holds(struct objcache *c, const char *ns, const char *wl, const char *name)
{
	size_t n;
	const cJSON *const *objs = objcache_group(c, ns, wl, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(obj_str(objs[i], "metadata", "name"), name) == 0)
			return true;
	return false;
}

/* Grouped by the workload label: a workload's objects are found without
 * looking at the others', through upserts, a label that changes, deletes
 * and a relist. */
TEST(objcache_groups_follow_every_change)
{
	struct objcache c;
	struct reflector_store st;
	cJSON *o;
	size_t n;
	void *items[1];

	objcache_init(&c, NULL, NULL);
	objcache_group_by(&c, "infermon.io/workload");
	objcache_store(&c, &st);
	for (int i = 0; i < 6; i++) { /* past the first group's first growth */
		char name[16];
		snprintf(name, sizeof(name), "a-%d", i);
		o = labelled("llm", name, "a");
		st.upsert(st.ctx, o);
		cJSON_Delete(o);
	}
	o = labelled("llm", "b-0", "b");
	st.upsert(st.ctx, o);
	cJSON_Delete(o);
	o = labelled("other", "a-0", "a"); /* same workload name, other namespace */
	st.upsert(st.ctx, o);
	cJSON_Delete(o);
	objcache_group(&c, "llm", "a", &n);
	ASSERT_EQ_INT(n, 6);
	objcache_group(&c, "other", "a", &n);
	ASSERT_EQ_INT(n, 1);
	ASSERT_TRUE(group_holds(&c, "llm", "b", "b-0"));
	/* a-5 moves to workload b */
	o = labelled("llm", "a-5", "b");
	st.upsert(st.ctx, o);
	cJSON_Delete(o);
	objcache_group(&c, "llm", "a", &n);
	ASSERT_EQ_INT(n, 5);
	ASSERT_TRUE(group_holds(&c, "llm", "b", "a-5"));
	ASSERT_TRUE(!group_holds(&c, "llm", "a", "a-5"));
	/* deleted */
	o = labelled("llm", "a-0", "a");
	st.remove(st.ctx, o);
	cJSON_Delete(o);
	ASSERT_TRUE(!group_holds(&c, "llm", "a", "a-0"));
	/* the namespace relisted with b-0 alone: the rest of llm goes */
	o = labelled("llm", "b-0", "b");
	items[0] = st.decode(st.ctx, o);
	cJSON_Delete(o);
	st.replace(st.ctx, "llm", items, 1);
	ASSERT_TRUE(objcache_group(&c, "llm", "a", &n) == NULL && n == 0);
	objcache_group(&c, "llm", "b", &n);
	ASSERT_EQ_INT(n, 1);
	objcache_group(&c, "other", "a", &n);
	ASSERT_EQ_INT(n, 1);
	objcache_release(&c);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
