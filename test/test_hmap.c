#include "t.h"

#include "alloc.h"
#include "hmap.h"

TEST(hmap_put_get_del_grow)
{
	struct hmap m;
	char k[32];
	const char **keys;

	hmap_init(&m);
	for (long i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "key-%ld", i);
		ASSERT_TRUE(hmap_put(&m, k, (void *)(i + 1)) == NULL);
	}
	ASSERT_EQ_INT(m.count, 1000);
	ASSERT_EQ_INT((long)hmap_get(&m, "key-517"), 518);
	ASSERT_EQ_INT((long)hmap_put(&m, "key-517", (void *)7), 518);
	ASSERT_EQ_INT((long)hmap_del(&m, "key-517"), 7);
	ASSERT_TRUE(hmap_get(&m, "key-517") == NULL);
	ASSERT_TRUE(hmap_del(&m, "key-517") == NULL);
	{
		size_t n = 0;
		for (struct hmap_entry *e = hmap_first(&m); e; e = hmap_next(&m, e))
			n++;
		ASSERT_EQ_INT(n, 999);
	}
	keys = hmap_sorted_keys(&m);
	ASSERT_STREQ(keys[0], "key-0");
	ASSERT_STREQ(keys[1], "key-1");
	ASSERT_TRUE(keys[999] == NULL);
	im_free(keys);
	hmap_release(&m);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
