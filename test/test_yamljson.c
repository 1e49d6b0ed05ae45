#include "t.h"

#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "fileio.h"
#include "yamljson.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Compact JSON of the only document of y, or "ERR <message>" on failure, or
 * "NONE" when the stream holds no document. Caller frees. */
static char *conv_opts(const char *y, const struct yamljson_opts *o)
{
	struct yamljson_doc *docs;
	size_t n;
	struct buf err, out;
	char *s;

	buf_init(&err, BUF_MAX_SMALL);
	buf_init(&out, BUF_MAX_SMALL);
	if (yamljson_parse(y, strlen(y), "t.yaml", o, &docs, &n, &err)) {
		buf_printf(&out, "ERR %s", buf_str(&err));
	} else if (n == 0) {
		buf_adds(&out, "NONE");
	} else {
		char *j = cJSON_PrintUnformatted(docs[0].json);
		buf_adds(&out, j);
		cJSON_free(j);
		if (n > 1)
			buf_printf(&out, " (+%zu)", n - 1);
	}
	yamljson_docs_free(n ? docs : NULL, n);
	buf_release(&err);
	s = buf_detach(&out, NULL);
	return s;
}

static char *conv(const char *y)
{
	return conv_opts(y, NULL);
}

#define ASSERT_CONV(yaml, want)                                                \
	do {                                                                   \
		char *t_got = conv(yaml);                                      \
		if (strcmp(t_got, (want)) != 0) {                              \
			char t_msg[512];                                       \
			snprintf(t_msg, sizeof(t_msg), "%s", t_got);           \
			im_free(t_got);                                        \
			t_fail(__FILE__, __LINE__, "%s -> %s, want %s",        \
			       #yaml, t_msg, (want));                          \
		}                                                              \
		im_free(t_got);                                                \
	} while (0)

/* Value of `v: <scalar>`. */
static const struct {
	const char *scalar;
	const char *json;
} scalars[] = {
	/* null */
	{"", "null"},
	{"~", "null"},
	{"null", "null"},
	{"Null", "null"},
	{"NULL", "null"},
	{"nULL", "\"nULL\""},
	/* booleans: YAML 1.1 as go-yaml v2 (what kubectl sends) */
	{"true", "true"},
	{"True", "true"},
	{"TRUE", "true"},
	{"yes", "true"},
	{"Yes", "true"},
	{"YES", "true"},
	{"on", "true"},
	{"ON", "true"},
	{"y", "true"},
	{"Y", "true"},
	{"false", "false"},
	{"no", "false"},
	{"No", "false"},
	{"off", "false"},
	{"Off", "false"},
	{"n", "false"},
	{"N", "false"},
	{"tRUE", "\"tRUE\""},
	{"yES", "\"yES\""},
	/* integers */
	{"0", "0"},
	{"-0", "0"},
	{"12", "12"},
	{"-12", "-12"},
	{"+12", "12"},
	{"1_000", "1000"},
	{"0x1F", "31"},
	{"0X1f", "31"},
	{"-0x10", "-16"},
	{"0o17", "15"},
	{"017", "15"},
	{"0b101", "5"},
	{"-0b101", "-5"},
	{"09", "9"}, /* not octal: a float, as in go-yaml */
	{"1234567890123", "1234567890123"},
	{"-1234567890123", "-1234567890123"},
	/* floats */
	{"1.5", "1.5"},
	{"-1.5e3", "-1500"},
	{"1e3", "1000"},
	{".5", "0.5"},
	{"+.5", "0.5"},
	{"1.", "1"},
	{"1_0.5", "10.5"},
	{"99999999999999999999", "1e+20"}, /* beyond uint64: go-yaml's float */
	/* strings */
	{"1e400", "\"1e400\""},
	{".Nan", "\".Nan\""},
	{"._5", "\"._5\""},
	{"12abc", "\"12abc\""},
	{"0x", "\"0x\""},
	{"0xG", "\"0xG\""},
	{"-x", "\"-x\""},
	{"+", "\"+\""},
	{"1:20", "\"1:20\""},
	{"2001-12-14", "\"2001-12-14\""},
	{"2001-12-14T21:59:43.10Z", "\"2001-12-14T21:59:43.10Z\""},
	{"<<", "\"<<\""},
	{"hello world", "\"hello world\""},
	{"\"12\"", "\"12\""},
	{"'true'", "\"true\""},
	{"\"\"", "\"\""},
	{"\"caf\\u00e9\"", "\"caf\xc3\xa9\""},
	{"'it''s'", "\"it's\""},
	/* tags */
	{"!!str 12", "\"12\""},
	{"!!str", "\"\""},
	{"!!int \"12\"", "12"},
	{"!!float 1", "1"},
	{"!!float \"2.5\"", "2.5"},
	{"!!bool yes", "true"},
	{"!!bool \"false\"", "false"},
	{"!!null ''", "null"},
	{"!!null ~", "null"},
	{"!!timestamp 2001-12-14", "\"2001-12-14\""},
	{"!foo 12", "\"12\""},
	{"! 12", "\"12\""},
	{"!<tag:example.com,2000:x> true", "\"true\""},
};

TEST(yamljson_scalar_resolution)
{
	for (size_t i = 0; i < N(scalars); i++) {
		struct buf y, want;
		char *got;

		buf_init(&y, BUF_MAX_SMALL);
		buf_init(&want, BUF_MAX_SMALL);
		buf_printf(&y, "v: %s\n", scalars[i].scalar);
		buf_printf(&want, "{\"v\":%s}", scalars[i].json);
		got = conv(y.ptr);
		if (strcmp(got, want.ptr) != 0) {
			fprintf(stderr, "scalar %s: got %s, want %s\n", scalars[i].scalar, got, want.ptr);
			im_free(got);
			buf_release(&y);
			buf_release(&want);
			ASSERT_TRUE(0);
		}
		im_free(got);
		buf_release(&y);
		buf_release(&want);
	}
}

TEST(yamljson_integers_up_to_2_pow_53_are_exact)
{
	struct yamljson_doc *docs;
	size_t n;
	const char *y = "[9007199254740992, -9007199254740992, 9007199254740991]";

	ASSERT_OK(yamljson_parse(y, strlen(y), NULL, NULL, &docs, &n, NULL));
	ASSERT_TRUE(cJSON_GetArrayItem(docs[0].json, 0)->valuedouble == 9007199254740992.0);
	ASSERT_TRUE(cJSON_GetArrayItem(docs[0].json, 1)->valuedouble == -9007199254740992.0);
	ASSERT_TRUE(cJSON_GetArrayItem(docs[0].json, 2)->valuedouble == 9007199254740991.0);
	yamljson_docs_free(docs, n);
}

TEST(yamljson_block_scalars_are_strings)
{
	ASSERT_CONV("a: |\n  12\nb: >-\n  true\n  yes\n", "{\"a\":\"12\\n\",\"b\":\"true yes\"}");
	ASSERT_CONV("a: |-\n  null\n", "{\"a\":\"null\"}");
}

TEST(yamljson_scalar_errors)
{
	ASSERT_CONV("v: 9007199254740993\n",
		    "ERR t.yaml:1:4: integer \"9007199254740993\" is beyond +-2^53 and cannot be kept exactly");
	ASSERT_CONV("v: 0xFFFFFFFFFFFFFFFFFFFF\n",
		    "ERR t.yaml:1:4: integer \"0xFFFFFFFFFFFFFFFFFFFF\" is beyond +-2^53 and cannot be kept exactly");
	ASSERT_CONV("v: .inf\n",
		    "ERR t.yaml:1:4: \".inf\" is not a finite number and cannot be represented in json");
	ASSERT_CONV("v: [-.Inf]\n",
		    "ERR t.yaml:1:5: \"-.Inf\" is not a finite number and cannot be represented in json");
	ASSERT_CONV("v: .NaN\n",
		    "ERR t.yaml:1:4: \".NaN\" is not a finite number and cannot be represented in json");
	ASSERT_CONV("v: !!int abc\n", "ERR t.yaml:1:4: cannot decode \"abc\" as !!int");
	ASSERT_CONV("v: !!int 1.5\n", "ERR t.yaml:1:4: cannot decode \"1.5\" as !!int");
	ASSERT_CONV("v: !!bool 1\n", "ERR t.yaml:1:4: cannot decode \"1\" as !!bool");
	ASSERT_CONV("v: !!null x\n", "ERR t.yaml:1:4: cannot decode \"x\" as !!null");
	ASSERT_CONV("v: !!binary aGk=\n",
		    "ERR t.yaml:1:4: !!binary is not supported (use a base64 string)");
	ASSERT_CONV("v: \"a\\0b\"\n", "ERR t.yaml:1:4: string contains a nul character");
}

TEST(yamljson_keys_become_strings)
{
	ASSERT_CONV("1: a\n", "{\"1\":\"a\"}");
	ASSERT_CONV("-5: a\n", "{\"-5\":\"a\"}");
	ASSERT_CONV("0x10: a\n", "{\"16\":\"a\"}");
	ASSERT_CONV("9223372036854775807: a\n", "{\"9223372036854775807\":\"a\"}");
	ASSERT_CONV("yes: a\nno: b\n", "{\"true\":\"a\",\"false\":\"b\"}");
	ASSERT_CONV("yes: a\non: c\n", "ERR t.yaml:2:1: duplicate mapping key \"true\" (first at line 1)");
	/* go-yaml v2's famous one (kubernetes/kubernetes#34146): y is true */
	ASSERT_CONV("{x: 10, y: 1}", "{\"x\":10,\"true\":1}");
	ASSERT_CONV("1.5: a\n", "{\"1.5\":\"a\"}");
	ASSERT_CONV("1.0: a\n", "{\"1\":\"a\"}");
	ASSERT_CONV("0.1: a\n", "{\"0.1\":\"a\"}");
	ASSERT_CONV("1e7: a\n", "{\"1e+07\":\"a\"}");
	ASSERT_CONV("123456.0: a\n", "{\"123456\":\"a\"}");
	ASSERT_CONV("1234567.0: a\n", "{\"1.234567e+06\":\"a\"}");
	ASSERT_CONV("3.14159265358979: a\n", "{\"3.1415927\":\"a\"}");
	ASSERT_CONV("0.0001: a\n", "{\"0.0001\":\"a\"}");
	ASSERT_CONV("0.00001: a\n", "{\"1e-05\":\"a\"}");
	ASSERT_CONV(".inf: a\n-.inf: b\n.nan: c\n", "{\".inf\":\"a\",\"-.inf\":\"b\",\".nan\":\"c\"}");
	ASSERT_CONV("\"1\": a\n'yes': b\n!!str 2: c\n", "{\"1\":\"a\",\"yes\":\"b\",\"2\":\"c\"}");
	ASSERT_CONV("\"\": a\n", "{\"\":\"a\"}");
	ASSERT_CONV("~: a\n", "ERR t.yaml:1:1: null mapping key is not supported");
	ASSERT_CONV("? \n: a\n", "ERR t.yaml:1:2: null mapping key is not supported");
	ASSERT_CONV("18446744073709551615: a\n",
		    "ERR t.yaml:1:1: integer mapping key \"18446744073709551615\" is out of range");
	ASSERT_CONV("? [a]\n: b\n", "ERR t.yaml:1:3: mapping key must be a scalar");
	ASSERT_CONV("{? {a: 1} : b}\n", "ERR t.yaml:1:4: mapping key must be a scalar");
}

TEST(yamljson_duplicate_keys)
{
	ASSERT_CONV("a: 1\nb: 2\na: 3\n",
		    "ERR t.yaml:3:1: duplicate mapping key \"a\" (first at line 1)");
	ASSERT_CONV("x:\n  1: a\n  \"1\": b\n",
		    "ERR t.yaml:3:3: duplicate mapping key \"1\" (first at line 2)");
	ASSERT_CONV("{\"a\": 1, \"a\": 2}", "ERR t.yaml:1:10: duplicate mapping key \"a\" (first at line 1)");
	/* the same key in different mappings is fine */
	ASSERT_CONV("a: {x: 1}\nb: {x: 2}\n", "{\"a\":{\"x\":1},\"b\":{\"x\":2}}");
}

TEST(yamljson_duplicate_keys_in_a_big_mapping)
{
	struct buf y;
	char *got;

	buf_init(&y, BUF_MAX_LARGE);
	for (int i = 0; i < 20000; i++)
		buf_printf(&y, "k%d: %d\n", i, i);
	buf_adds(&y, "k777: dup\n");
	got = conv(y.ptr);
	ASSERT_CONTAINS(got, "ERR t.yaml:20001:1: duplicate mapping key \"k777\" (first at line 778)");
	im_free(got);
	buf_release(&y);
}

TEST(yamljson_json_input)
{
	ASSERT_CONV("{\"a\": [1, 2.5, \"x\", true, false, null, {\"b\": {}}, []], \"c\": \"\\u00e9\\n\"}",
		    "{\"a\":[1,2.5,\"x\",true,false,null,{\"b\":{}},[]],\"c\":\"\xc3\xa9\\n\"}");
	ASSERT_CONV("[1,2,3]", "[1,2,3]");
	ASSERT_CONV("\"just a string\"", "\"just a string\"");
	ASSERT_CONV("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":{\"on\":\"yes\"}}}",
		    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":{\"on\":\"yes\"}}}");
}

TEST(yamljson_multi_document_and_lines)
{
	const char *y = "# leading comment\n"
			"a: 1\n"
			"---\n"
			"b: 2\n"
			"--- # trailing\n"
			"c: [3]\n"
			"...\n"
			"---\n"
			"d: 4\n";
	struct yamljson_doc *docs;
	size_t n;
	struct buf err;

	buf_init(&err, BUF_MAX_SMALL);
	ASSERT_OK(yamljson_parse(y, strlen(y), "m.yaml", NULL, &docs, &n, &err));
	ASSERT_EQ_INT(n, 4);
	ASSERT_EQ_INT(docs[0].line, 2);
	ASSERT_EQ_INT(docs[1].line, 3);
	ASSERT_EQ_INT(docs[2].line, 5);
	ASSERT_EQ_INT(docs[3].line, 8);
	ASSERT_EQ_INT(cJSON_GetObjectItem(docs[3].json, "d")->valueint, 4);
	ASSERT_EQ_INT(yamljson_line_of(&docs[2], cJSON_GetObjectItem(docs[2].json, "c")), 6);
	/* nodes of one document are unknown to another */
	ASSERT_EQ_INT(yamljson_line_of(&docs[1], cJSON_GetObjectItem(docs[2].json, "c")), 0);
	yamljson_docs_free(docs, n);
	buf_release(&err);
}

TEST(yamljson_empty_documents_are_skipped)
{
	struct yamljson_doc *docs;
	size_t n;
	const char *y = "---\n---\n# nothing\n---\nkind: A\n---\n~\n---\nnull\n---\n";

	ASSERT_CONV("", "NONE");
	ASSERT_CONV("# only a comment\n", "NONE");
	ASSERT_CONV("---\n", "NONE");
	ASSERT_CONV("---\n...\n---\n", "NONE");
	ASSERT_CONV("---\nkind: A\n---\n", "{\"kind\":\"A\"}");
	ASSERT_CONV("kind: A\n---\n---\nkind: B\n", "{\"kind\":\"A\"} (+1)");
	ASSERT_CONV("--- \"\"\n", "\"\"");
	ASSERT_OK(yamljson_parse(y, strlen(y), NULL, NULL, &docs, &n, NULL));
	ASSERT_EQ_INT(n, 1);
	ASSERT_EQ_INT(docs[0].line, 4);
	yamljson_docs_free(docs, n);
	ASSERT_OK(yamljson_parse(NULL, 0, NULL, NULL, &docs, &n, NULL));
	ASSERT_EQ_INT(n, 0);
	ASSERT_TRUE(docs == NULL);
}

TEST(yamljson_anchors_and_aliases)
{
	ASSERT_CONV("base: &b {x: 1, z: [1, 2]}\ncopy: *b\n",
		    "{\"base\":{\"x\":1,\"z\":[1,2]},\"copy\":{\"x\":1,\"z\":[1,2]}}");
	ASSERT_CONV("a: &s hello\nb: *s\n", "{\"a\":\"hello\",\"b\":\"hello\"}");
	/* a scalar anchor resolves again where it is used: as a key, as a value */
	ASSERT_CONV("&k 1.0: a\nv: *k\n", "{\"1\":\"a\",\"v\":1}");
	ASSERT_CONV("a: &k yes\n*k : b\n", "{\"a\":true,\"true\":\"b\"}");
	ASSERT_CONV("- &q \"1\"\n- *q\n", "[\"1\",\"1\"]");
	/* redefinition: later aliases see the newer anchor */
	ASSERT_CONV("- &a 1\n- *a\n- &a 2\n- *a\n", "[1,1,2,2]");
	ASSERT_CONV("a: *nope\n", "ERR t.yaml:1:4: alias *\"nope\" refers to no anchor");
	ASSERT_CONV("a: &r [1, *r]\n", "ERR t.yaml:1:11: alias *\"r\" refers to the collection that contains it");
	ASSERT_CONV("a: &m {x: 1}\n*m : 2\n", "ERR t.yaml:2:1: mapping key must be a scalar");
	/* anchors do not cross documents */
	ASSERT_CONV("a: &x 1\n---\nb: *x\n", "ERR t.yaml:3:4: alias *\"x\" refers to no anchor");
}

TEST(yamljson_merge_keys)
{
	ASSERT_CONV("a: &a {x: 1, w: 2}\nb:\n  <<: *a\n  w: 3\n",
		    "{\"a\":{\"x\":1,\"w\":2},\"b\":{\"w\":3,\"x\":1}}");
	/* explicit keys win even when they come first or last */
	ASSERT_CONV("a: &a {x: 1, w: 2}\nb:\n  w: 3\n  <<: *a\n",
		    "{\"a\":{\"x\":1,\"w\":2},\"b\":{\"w\":3,\"x\":1}}");
	/* earlier mappings of a merge sequence win */
	ASSERT_CONV("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nc:\n  <<: [*a, *b]\n",
		    "{\"a\":{\"x\":1},\"b\":{\"x\":2,\"z\":2},\"c\":{\"x\":1,\"z\":2}}");
	ASSERT_CONV("c: {<<: {p: 1}, q: 2}\n", "{\"c\":{\"q\":2,\"p\":1}}");
	ASSERT_CONV("c: {\"<<\": 1}\n", "{\"c\":{\"<<\":1}}");
	ASSERT_CONV("c: {<<: 1}\n",
		    "ERR t.yaml:1:9: merge key \"<<\" needs a mapping or a sequence of mappings");
	ASSERT_CONV("c: {<<: [1]}\n",
		    "ERR t.yaml:1:9: merge key \"<<\" needs a mapping or a sequence of mappings");
	/* an anchor inside a merge value stays usable */
	ASSERT_CONV("c: {<<: &m {p: 1}}\nd: *m\n", "{\"c\":{\"p\":1},\"d\":{\"p\":1}}");
}

TEST(yamljson_billion_laughs_is_capped)
{
	const char *lol = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
			  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
			  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
			  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
			  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
			  "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
			  "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
			  "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
			  "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	struct yamljson_opts small = {.max_nodes = 1000};
	struct yamljson_opts bytes = {.max_bytes = 10000};
	struct buf y;
	char *got;

	got = conv(lol);
	ASSERT_CONTAINS(got, "ERR t.yaml:");
	ASSERT_CONTAINS(got, "more than 1000000 values (aliases expanded)");
	im_free(got);
	got = conv_opts(lol, &small);
	ASSERT_STREQ(got, "ERR t.yaml:4:8: more than 1000 values (aliases expanded)");
	im_free(got);

	/* few nodes, many bytes: one long string copied many times */
	buf_init(&y, BUF_MAX_LARGE);
	buf_adds(&y, "s: &s \"");
	for (int i = 0; i < 1000; i++)
		buf_addc(&y, 'x');
	buf_adds(&y, "\"\nc: [");
	for (int i = 0; i < 100; i++)
		buf_adds(&y, "*s,");
	buf_adds(&y, "]\n");
	got = conv_opts(y.ptr, &bytes);
	ASSERT_CONTAINS(got, "more than 10000 bytes of strings (aliases expanded)");
	im_free(got);
	buf_release(&y);
}

TEST(yamljson_depth_is_capped)
{
	struct yamljson_opts o = {.max_depth = 5};
	struct buf y;
	char *got;

	got = conv_opts("[[[[[1]]]]]", &o);
	ASSERT_STREQ(got, "[[[[[1]]]]]");
	im_free(got);
	got = conv_opts("[[[[[[1]]]]]]", &o);
	ASSERT_STREQ(got, "ERR t.yaml:1:6: nested deeper than 5 levels");
	im_free(got);
	/* an alias whose copy would sit too deep */
	got = conv_opts("a: &a [[[1]]]\nb: [[*a]]\n", &o);
	ASSERT_STREQ(got, "ERR t.yaml:2:6: nested deeper than 5 levels");
	im_free(got);
	got = conv_opts("a: &a [[[1]]]\nb: [*a]\n", &o);
	ASSERT_STREQ(got, "{\"a\":[[[1]]],\"b\":[[[[1]]]]}");
	im_free(got);

	/* the default, 256 */
	buf_init(&y, BUF_MAX_SMALL);
	for (int i = 0; i < 257; i++)
		buf_addc(&y, '[');
	for (int i = 0; i < 257; i++)
		buf_addc(&y, ']');
	got = conv(y.ptr);
	ASSERT_STREQ(got, "ERR t.yaml:1:257: nested deeper than 256 levels");
	im_free(got);
	buf_reset(&y);
	for (int i = 0; i < 256; i++)
		buf_adds(&y, "{a: ");
	buf_addc(&y, '1');
	for (int i = 0; i < 256; i++)
		buf_addc(&y, '}');
	got = conv(y.ptr);
	ASSERT_TRUE(strncmp(got, "{\"a\":{\"a\":", 10) == 0);
	im_free(got);
	buf_release(&y);
}

TEST(yamljson_input_size_is_capped)
{
	struct yamljson_opts o = {.max_input = 8};
	struct yamljson_doc *docs;
	size_t n;
	struct buf err;

	buf_init(&err, BUF_MAX_SMALL);
	ASSERT_OK(yamljson_parse("a: 12345", 8, "s.yaml", &o, &docs, &n, &err));
	ASSERT_EQ_INT(n, 1);
	yamljson_docs_free(docs, n);
	ASSERT_ERR(yamljson_parse("a: 123456", 9, "s.yaml", &o, &docs, &n, &err), IM_TOOBIG);
	ASSERT_STREQ(buf_str(&err), "s.yaml: input larger than 8 bytes");
	ASSERT_TRUE(docs == NULL);
	ASSERT_EQ_INT(n, 0);
	buf_release(&err);
}

TEST(yamljson_positions_of_nodes)
{
	const char *y = "apiVersion: infermon.io/v1alpha1\n"	 /* 1 */
			"kind: InferenceWorkload\n"		 /* 2 */
			"metadata:\n"				 /* 3 */
			"  name: qwen\n"			 /* 4 */
			"defaults: &d\n"			 /* 5 */
			"  interval: 15s\n"			 /* 6 */
			"spec:\n"				 /* 7 */
			"  metrics:\n"				 /* 8 */
			"    <<: *d\n"				 /* 9 */
			"    port: 8000\n"			 /* 10 */
			"  selector: {a: 1,\n"			 /* 11 */
			"     b: [x,\n"				 /* 12 */
			"         y]}\n"			 /* 13 */
			"  list:\n"				 /* 14 */
			"  - one\n"				 /* 15 */
			"  -   two\n"				 /* 16 */
			"  copy: *d\n";				 /* 17 */
	struct yamljson_doc *docs;
	size_t n;
	const cJSON *spec, *metrics, *sel, *list, *copy;
	int line, col;

	ASSERT_OK(yamljson_parse(y, strlen(y), "w.yaml", NULL, &docs, &n, NULL));
	ASSERT_EQ_INT(n, 1);
	ASSERT_EQ_INT(docs[0].line, 1);
	ASSERT_TRUE(yamljson_pos_of(&docs[0], docs[0].json, &line, &col));
	ASSERT_EQ_INT(line, 1);
	ASSERT_EQ_INT(col, 1);
	spec = cJSON_GetObjectItem(docs[0].json, "spec");
	metrics = cJSON_GetObjectItem(spec, "metrics");
	ASSERT_EQ_INT(yamljson_line_of(&docs[0], spec), 7);
	ASSERT_EQ_INT(yamljson_line_of(&docs[0], metrics), 8);
	ASSERT_TRUE(yamljson_pos_of(&docs[0], cJSON_GetObjectItem(metrics, "port"), &line, &col));
	ASSERT_EQ_INT(line, 10);
	ASSERT_EQ_INT(col, 5);
	/* a merged member sits at its original key */
	ASSERT_EQ_INT(yamljson_line_of(&docs[0], cJSON_GetObjectItem(metrics, "interval")), 6);
	sel = cJSON_GetObjectItem(spec, "selector");
	ASSERT_EQ_INT(yamljson_line_of(&docs[0], sel), 11);
	ASSERT_TRUE(yamljson_pos_of(&docs[0], cJSON_GetObjectItem(sel, "b"), &line, &col));
	ASSERT_EQ_INT(line, 12);
	ASSERT_EQ_INT(col, 6);
	ASSERT_TRUE(yamljson_pos_of(&docs[0], cJSON_GetArrayItem(cJSON_GetObjectItem(sel, "b"), 1),
				    &line, &col));
	ASSERT_EQ_INT(line, 13);
	ASSERT_EQ_INT(col, 10);
	list = cJSON_GetObjectItem(spec, "list");
	ASSERT_TRUE(yamljson_pos_of(&docs[0], cJSON_GetArrayItem(list, 1), &line, &col));
	ASSERT_EQ_INT(line, 16);
	ASSERT_EQ_INT(col, 7);
	/* an alias copy sits at the alias, its insides at the anchored original */
	copy = cJSON_GetObjectItem(spec, "copy");
	ASSERT_EQ_INT(yamljson_line_of(&docs[0], copy), 17);
	ASSERT_EQ_INT(yamljson_line_of(&docs[0], cJSON_GetObjectItem(copy, "interval")), 6);
	/* not ours */
	ASSERT_TRUE(!yamljson_pos_of(&docs[0], NULL, &line, &col));
	ASSERT_EQ_INT(line, 0);
	ASSERT_EQ_INT(yamljson_line_of(NULL, spec), 0);
	yamljson_docs_free(docs, n);
}

TEST(yamljson_syntax_errors_name_line_and_column)
{
	struct yamljson_doc *docs = (void *)1;
	size_t n = 5;
	struct buf err;

	ASSERT_CONV("a: 1\n b: 2\n",
		    "ERR t.yaml:2:3: mapping values are not allowed in this context");
	ASSERT_CONV("a:\n  b: 1\n c: 2\n",
		    "ERR t.yaml:3:2: did not find expected key (while parsing a block mapping that started at line 1)");
	ASSERT_CONV("a: [1, 2\n", "ERR t.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence that started at line 1)");
	ASSERT_CONV("a: \"x\n", "ERR t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar that started at line 1)");
	ASSERT_CONV("a: @x\n", "ERR t.yaml:1:4: found character that cannot start any token (while scanning for the next token that started at line 1)");
	ASSERT_CONV("a: 1\nb: \xff\n", "ERR t.yaml:2:4: invalid leading utf-8 octet (byte 0xff)");
	/* a later document's error discards the earlier ones */
	ASSERT_CONV("a: 1\n---\nb: [\n", "ERR t.yaml:4:1: did not find expected node content (while parsing a flow node that started at line 4)");

	buf_init(&err, BUF_MAX_SMALL);
	ASSERT_ERR(yamljson_parse("a: 1\n b: 2\n", 11, NULL, NULL, &docs, &n, &err), IM_PARSE);
	ASSERT_STREQ(buf_str(&err), "line 2 column 3: mapping values are not allowed in this context");
	ASSERT_TRUE(docs == NULL);
	ASSERT_EQ_INT(n, 0);
	buf_release(&err);
}

TEST(yamljson_cr_like_document)
{
	const char *y = "apiVersion: infermon.io/v1alpha1\n"
			"kind: InferenceWorkload\n"
			"metadata:\n"
			"  name: qwen-chat\n"
			"  namespace: llm\n"
			"  labels:\n"
			"    team: \"042\"\n"
			"spec:\n"
			"  backend: vllm\n"
			"  metrics:\n"
			"    port: 8000\n"
			"    path: /metrics\n"
			"    interval: 15s\n"
			"  dashboard: true\n"
			"  limits:\n"
			"    maxNumSeqs: 8\n"
			"    gpuMemoryUtilization: 0.9\n"
			"  slo:\n"
			"    ttftP95: 0.5\n";
	ASSERT_CONV(y, "{\"apiVersion\":\"infermon.io/v1alpha1\",\"kind\":\"InferenceWorkload\","
		       "\"metadata\":{\"name\":\"qwen-chat\",\"namespace\":\"llm\",\"labels\":{\"team\":\"042\"}},"
		       "\"spec\":{\"backend\":\"vllm\",\"metrics\":{\"port\":8000,\"path\":\"/metrics\","
		       "\"interval\":\"15s\"},\"dashboard\":true,\"limits\":{\"maxNumSeqs\":8,"
		       "\"gpuMemoryUtilization\":0.9},\"slo\":{\"ttftP95\":0.5}}}");
}

TEST(yamljson_data_files)
{
	const char *dir = getenv("INFERMON_TEST_DATA");
	struct buf path, data, err;
	struct yamljson_doc *docs;
	size_t n;

	if (!dir)
		dir = "test/data";
	buf_init(&path, BUF_MAX_SMALL);
	buf_init(&data, BUF_MAX_LARGE);
	buf_init(&err, BUF_MAX_SMALL);
	buf_printf(&path, "%s/yaml/workloads.yaml", dir);
	ASSERT_OK(fileio_read(path.ptr, BUF_MAX_LARGE, &data, &err));
	ASSERT_OK(yamljson_parse(data.ptr, data.len, "workloads.yaml", NULL, &docs, &n, &err));
	ASSERT_EQ_INT(n, 3);
	ASSERT_STREQ(cJSON_GetObjectItem(docs[2].json, "kind")->valuestring, "Pod");
	ASSERT_EQ_INT(yamljson_line_of(&docs[1], cJSON_GetObjectItem(docs[1].json, "spec")), docs[1].line + 6);
	yamljson_docs_free(docs, n);

	buf_reset(&path);
	buf_printf(&path, "%s/yaml/no-such-file.yaml", dir);
	ASSERT_ERR(fileio_read(path.ptr, 100, &data, &err), IM_NOTFOUND);
	ASSERT_CONTAINS(buf_str(&err), "no-such-file.yaml\": no such file or directory");
	ASSERT_EQ_INT(data.len, 0);
	buf_reset(&path);
	buf_printf(&path, "%s/yaml/workloads.yaml", dir);
	ASSERT_ERR(fileio_read(path.ptr, 10, &data, &err), IM_TOOBIG);
	ASSERT_CONTAINS(buf_str(&err), "workloads.yaml\": larger than 10 bytes");
	ASSERT_ERR(fileio_read(dir, 10, &data, &err), IM_IO);
	ASSERT_CONTAINS(buf_str(&err), "is a directory");
	buf_release(&path);
	buf_release(&data);
	buf_release(&err);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
