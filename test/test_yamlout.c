#include "t.h"

#include "yamljson.h"
#include "yamlout.h"

/* Reads text back as exactly one document; NULL when it does not parse. */
static cJSON *read_back(const char *text, size_t len, struct buf *why)
{
	struct yamljson_doc *docs;
	size_t n;
	cJSON *out = NULL;

	if (yamljson_parse(text, len, "out.yaml", NULL, &docs, &n, why) != IM_OK)
		return NULL;
	if (n == 1) {
		out = docs[0].json;
		docs[0].json = NULL;
	} else {
		buf_printf(why, "%zu documents", n);
	}
	yamljson_docs_free(docs, n);
	return out;
}

/* Writes v, checks the output is the same on a second write and reads back
 * as want (v itself when want is NULL); returns the text for more checks
 * (the caller releases *out). */
static void round_trip_as(const char *file, int line, const cJSON *v, const cJSON *want,
			  struct buf *out)
{
	struct buf again, why;
	cJSON *back;

	buf_init(out, BUF_MAX_LARGE);
	buf_init(&again, BUF_MAX_LARGE);
	buf_init(&why, 1024);
	if (yamlout_doc(out, v) != IM_OK || yamlout_doc(&again, v) != IM_OK)
		t_fail(file, line, "yamlout_doc failed");
	if (strcmp(buf_str(out), buf_str(&again)) != 0)
		t_fail(file, line, "two writes differ:\n%s\n%s", buf_str(out), buf_str(&again));
	back = read_back(out->ptr, out->len, &why);
	if (!back || !cJSON_Compare(back, want ? want : v, true)) {
		char *got = back ? cJSON_PrintUnformatted(back) : NULL;
		t_fail(file, line, "does not read back (%s):\n%s\ngot %s", buf_str(&why), buf_str(out),
		       got ? got : "nothing");
	}
	cJSON_Delete(back);
	buf_release(&again);
	buf_release(&why);
}

/* s as a mapping value, a mapping key, a sequence item and a whole
 * document; each must read back as want_s (s when NULL). The text of the
 * mapping-value case is left in out. */
static void string_round_trips(const char *file, int line, const char *s, const char *want_s,
			       struct buf *out)
{
	const char *w = want_s ? want_s : s;
	cJSON *v = cJSON_CreateObject(), *k = cJSON_CreateObject(), *q = cJSON_CreateArray();
	cJSON *top = cJSON_CreateString(s);
	cJSON *wv = cJSON_CreateObject(), *wk = cJSON_CreateObject(), *wq = cJSON_CreateArray();
	cJSON *wtop = cJSON_CreateString(w);
	struct buf tmp;

	cJSON_AddStringToObject(v, "key", s);
	cJSON_AddStringToObject(wv, "key", w);
	cJSON_AddNumberToObject(k, s, 1);
	cJSON_AddNumberToObject(wk, w, 1);
	cJSON_AddItemToArray(q, cJSON_CreateString(s));
	cJSON_AddItemToArray(q, cJSON_CreateString("after"));
	cJSON_AddItemToArray(wq, cJSON_CreateString(w));
	cJSON_AddItemToArray(wq, cJSON_CreateString("after"));
	round_trip_as(file, line, k, wk, &tmp);
	buf_release(&tmp);
	round_trip_as(file, line, q, wq, &tmp);
	buf_release(&tmp);
	round_trip_as(file, line, top, wtop, &tmp);
	buf_release(&tmp);
	round_trip_as(file, line, v, wv, out);
	cJSON_Delete(v);
	cJSON_Delete(k);
	cJSON_Delete(q);
	cJSON_Delete(top);
	cJSON_Delete(wv);
	cJSON_Delete(wk);
	cJSON_Delete(wq);
	cJSON_Delete(wtop);
}

#define ROUND_TRIPS(s, out) string_round_trips(__FILE__, __LINE__, (s), NULL, (out))

/* A string and a piece of the text it must be written as. */
struct written {
	const char *s, *want;
};

static void written_as(const char *file, int line, const struct written *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct buf out;
		string_round_trips(file, line, cases[i].s, NULL, &out);
		if (!strstr(buf_str(&out), cases[i].want))
			t_fail(file, line, "case %zu not written as %s:\n%s", i, cases[i].want,
			       buf_str(&out));
		buf_release(&out);
	}
}

/* The input of issue 19 (fuzz_render): a namespace holding U+2028. */
TEST(issue19_line_separator_in_metadata_round_trips)
{
	const char *cr = "apiVersion: inferon.io/v1alpha1\n"
			 "kind: InferenceWorkload\n"
			 "metadata: {name: \"q\\\"x\", namespace: \"a\\Lb\"}\n"
			 "spec:\n"
			 "  workloadName: qwen\n"
			 "  backend: vllm-pd\n"
			 "  alerts: {enabled: true}\n"
			 "  slo: {ttftP55Seconds: 0.25, tpotP95Seconds: 0.0001, e2eP95Seconds: 86400}\n"
			 "  monitor: {labelS: {release: prom}}\n";
	struct buf why, out;
	cJSON *in;

	buf_init(&why, 1024);
	in = read_back(cr, strlen(cr), &why);
	ASSERT_TRUE(in != NULL);
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(in, "metadata"),
							      "namespace")),
		     "a\xe2\x80\xa8"
		     "b");
	round_trip_as(__FILE__, __LINE__, in, NULL, &out);
	ASSERT_CONTAINS(buf_str(&out), "namespace: \"a\\Lb\"\n");
	buf_release(&out);
	buf_release(&why);
	cJSON_Delete(in);
}

TEST(unicode_line_breaks_are_escaped)
{
	static const struct written cases[] = {
		{"a\xe2\x80\xa8"
		 "b",
		 "\"a\\Lb\""},
		{"a\xe2\x80\xa9"
		 "b",
		 "\"a\\Pb\""},
		{"a\xc2\x85"
		 "b",
		 "\"a\\Nb\""},
		{"\xe2\x80\xa8", "\"\\L\""},
		{"x\xc2\x85", "\"x\\N\""},
		/* they must not go into a literal block either */
		{"one\ntwo\xe2\x80\xa8three", "\"one\\ntwo\\Lthree\""},
		{"one\ntwo\xc2\x85three\n", "\"one\\ntwo\\Nthree\\n\""},
		{"one\ntwo\xe2\x80\xa9", "\"one\\ntwo\\P\""},
	};
	written_as(__FILE__, __LINE__, cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(controls_del_c1_and_bom_are_escaped)
{
	static const struct written cases[] = {
		{"a\x01"
		 "b",
		 "\"a\\x01b\""},
		{"\x1b[0m", "\"\\x1b[0m\""},
		{"a\x7f", "\"a\\x7f\""},
		{"\xc2\x80", "\"\\x80\""},
		{"a\xc2\x9f"
		 "b",
		 "\"a\\x9fb\""},
		{"\xef\xbb\xbfx", "\"\\uFEFFx\""},
		{"x\xef\xbb\xbf", "\"x\\uFEFF\""},
		{"\xef\xbf\xbe", "\"\\uFFFE\""},
		{"\xef\xbf\xbf", "\"\\uFFFF\""},
		{"a\r\nb", "\"a\\r\\nb\""},
		{"tab\there", "\"tab\\there\""},
		{"\tlead", "\"\\tlead\""},
		{"trail\t", "\"trail\\t\""},
	};
	written_as(__FILE__, __LINE__, cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(printable_unicode_stays_readable)
{
	static const struct written cases[] = {
		{"caf\xc3\xa9", "key: caf\xc3\xa9\n"},
		{"\xe6\x97\xa5\xe6\x9c\xac", "key: \xe6\x97\xa5\xe6\x9c\xac\n"},
		{"\xf0\x9f\x98\x80", "key: \xf0\x9f\x98\x80\n"},
		{"a\xc2\xa0"
		 "b",
		 "a\xc2\xa0"
		 "b"},
	};
	written_as(__FILE__, __LINE__, cases, sizeof(cases) / sizeof(cases[0]));
}

/* Strings that read as something else when plain are quoted; the others
 * stay plain. */
TEST(plain_only_when_it_reads_back)
{
	static const char *const quoted[] = {
		"null", "Null", "NULL", "~", "", "true", "True", "FALSE", "yes", "No", "on", "OFF",
		"y", "n", "1e3", "1E3", "-1e-3", "+1", "-1", ".5", "1.", "0x10", "0o7", "0b1", "017",
		"1_000", "1:20", "12:30:45", ".inf", "-.Inf", ".NaN", "<<", " lead", "trail ", "  ",
		"a: b", "a:", "a #b", "#a", "-", "- a", "-a", "?", "? a", ":", ":a", ",a", "[a", "]",
		"{a", "}", "&a", "*a", "!a", "|a", ">a", "'a", "\"a", "%a", "@a", "`a", "---", "...",
	};
	static const char *const plain[] = {"15s", "8Gi", "a#b", "a:b", "http://x:80/y", "x-y_z.w",
					    "a b", "a  b", "v1.2.3", "a,b", "a]"};
	for (size_t i = 0; i < sizeof(quoted) / sizeof(quoted[0]); i++) {
		struct buf out, want;
		ROUND_TRIPS(quoted[i], &out);
		buf_init(&want, 1024);
		buf_printf(&want, "key: %s\n", quoted[i]);
		if (strstr(buf_str(&out), buf_str(&want)))
			t_fail(__FILE__, __LINE__, "%s written plain:\n%s", quoted[i], buf_str(&out));
		buf_release(&want);
		buf_release(&out);
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		struct buf out, want;
		ROUND_TRIPS(plain[i], &out);
		buf_init(&want, 1024);
		buf_printf(&want, "key: %s\n", plain[i]);
		ASSERT_CONTAINS(buf_str(&out), buf_str(&want));
		buf_release(&want);
		buf_release(&out);
	}
}

TEST(literal_blocks_round_trip)
{
	static const char *const cases[] = {
		"multi\nline",	 "multi\nline\n", "a\n\n",     "a\n\n\n", "\nlead newline",
		"a\n b\n  c",	 "a\n   \nb",	  "a \nb ",    "a\n  ",	  "a\n#b\n- c\n---\n...",
		"a\n\tb",	 "x: y\nz",	  " a\nb",     "a\nb\r",  "\n",
		"\n\n",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out;
		ROUND_TRIPS(cases[i], &out);
		buf_release(&out);
	}
}

/* A key of more than 1024 characters cannot be an implicit key. */
TEST(long_keys_round_trip)
{
	struct buf k, out;

	buf_init(&k, 8192);
	for (int i = 0; i < 1500; i++)
		buf_addc(&k, (char)('a' + i % 26));
	ROUND_TRIPS(buf_str(&k), &out);
	buf_release(&out);
	buf_addc(&k, '\n');
	buf_adds(&k, "\xe2\x80\xa8 and more");
	ROUND_TRIPS(buf_str(&k), &out);
	buf_release(&out);
	{
		/* the explicit key's value as a mapping and a sequence, and the
		 * mapping inside a sequence item */
		cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray(), *inner;
		inner = cJSON_AddObjectToObject(o, buf_str(&k));
		cJSON_AddStringToObject(inner, "x", "y");
		inner = cJSON_AddArrayToObject(o, "short");
		cJSON_AddItemToArray(inner, cJSON_CreateString("z"));
		buf_adds(&k, "2");
		cJSON_AddItemToArray(cJSON_AddArrayToObject(o, buf_str(&k)), cJSON_CreateNumber(1));
		cJSON_AddItemToArray(list, o);
		round_trip_as(__FILE__, __LINE__, list, NULL, &out);
		buf_release(&out);
		cJSON_Delete(list);
	}
	buf_release(&k);
}

/* Bytes that are not UTF-8 cannot be written as YAML; each becomes U+FFFD,
 * as Kubernetes' JSON decoder reads them. */
TEST(invalid_utf8_becomes_replacement_characters)
{
	static const struct written cases[] = {
		{"\xff", "\xef\xbf\xbd"},
		{"a\xc3", "a\xef\xbf\xbd"},
		{"\xc3(", "\xef\xbf\xbd("},
		{"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xe2\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
		{"ok\nthen\x80", "ok\nthen\xef\xbf\xbd"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out;
		string_round_trips(__FILE__, __LINE__, cases[i].s, cases[i].want, &out);
		buf_release(&out);
	}
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}

/* Found by fuzz_yamlout in a CI-length run: a whole number past 2^53 was
 * written as "74457345618258592", which reads back as an integer the
 * reader refuses to round (yamljson keeps integers exact); written as a
 * float it reads back as the same double. */
TEST(whole_numbers_past_2_pow_53_read_back)
{
	static const double cases[] = {7.4457345618258592e16, -7.4457345618258592e16, 1e300,
				       9007199254740994.0, 1e15, 123456789012345.0};
	struct buf out;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *v = cJSON_CreateObject();
		cJSON_AddNumberToObject(v, "v", cases[i]);
		round_trip_as(__FILE__, __LINE__, v, NULL, &out);
		buf_release(&out);
		cJSON_Delete(v);
	}
}
