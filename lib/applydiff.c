#include "applydiff.h"

#include <openssl/evp.h>
#include <string.h>

#include "alloc.h"

bool applydiff_holds(const cJSON *want, const cJSON *have)
{
	const cJSON *a, *b;

	if (!have)
		return false;
	if (cJSON_IsObject(want)) {
		if (!cJSON_IsObject(have))
			return false;
		cJSON_ArrayForEach(a, want)
		{
			if (!applydiff_holds(a, cJSON_GetObjectItemCaseSensitive(have, a->string)))
				return false;
		}
		return true;
	}
	if (cJSON_IsArray(want)) {
		if (!cJSON_IsArray(have) || cJSON_GetArraySize(want) != cJSON_GetArraySize(have))
			return false;
		for (a = want->child, b = have->child; a && b; a = a->next, b = b->next)
			if (!applydiff_holds(a, b))
				return false;
		return true;
	}
	if (cJSON_IsNumber(want))
		return cJSON_IsNumber(have) && want->valuedouble == have->valuedouble;
	if (cJSON_IsString(want))
		return cJSON_IsString(have) && strcmp(want->valuestring, have->valuestring) == 0;
	if (cJSON_IsBool(want))
		return cJSON_IsBool(have) && cJSON_IsTrue(want) == cJSON_IsTrue(have);
	return cJSON_IsNull(have);
}

bool applydiff_same_object(const cJSON *want, const cJSON *have)
{
	const cJSON *a;

	if (!cJSON_IsObject(have))
		return false;
	cJSON_ArrayForEach(a, want)
	{
		if (strcmp(a->string, "apiVersion") == 0 || strcmp(a->string, "kind") == 0)
			continue;
		if (!applydiff_holds(a, cJSON_GetObjectItemCaseSensitive(have, a->string)))
			return false;
	}
	return true;
}

void applydiff_first(const cJSON *want, const cJSON *have, struct buf *path)
{
	const cJSON *a, *b;
	int i = 0;

	if (cJSON_IsObject(want) && cJSON_IsObject(have)) {
		cJSON_ArrayForEach(a, want)
		{
			if (strcmp(a->string, "apiVersion") == 0 || strcmp(a->string, "kind") == 0)
				continue;
			b = cJSON_GetObjectItemCaseSensitive(have, a->string);
			if (!applydiff_holds(a, b)) {
				buf_printf(path, ".%s", a->string);
				applydiff_first(a, b, path);
				return;
			}
		}
	} else if (cJSON_IsArray(want) && cJSON_IsArray(have) &&
		   cJSON_GetArraySize(want) == cJSON_GetArraySize(have)) {
		for (a = want->child, b = have->child; a && b; a = a->next, b = b->next, i++)
			if (!applydiff_holds(a, b)) {
				buf_printf(path, "[%d]", i);
				applydiff_first(a, b, path);
				return;
			}
	}
}

void applydiff_secret_data(cJSON *secret)
{
	cJSON *sd = cJSON_DetachItemFromObjectCaseSensitive(secret, "stringData"), *data, *it;

	if (!sd)
		return;
	data = cJSON_AddObjectToObject(secret, "data");
	cJSON_ArrayForEach(it, sd)
	{
		size_t n = strlen(it->valuestring);
		char *b64 = im_xmalloc(4 * ((n + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)it->valuestring,
				(int)n);
		cJSON_AddStringToObject(data, it->string, b64);
		im_free(b64);
	}
	cJSON_Delete(sd);
}
