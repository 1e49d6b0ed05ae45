#include "t.h"

#include "alloc.h"
#include "buf.h"
#include "cfgfile.h"

static const struct cfg_key keys[] = {
	{"name", CFG_STRING, 1, "--name", ""},
	{"port", CFG_NAME, 2, "--port", ""},
	{"ratio", CFG_NUMBER, 3, "--ratio", ""},
	{"interval", CFG_DURATION, 4, "--interval", ""},
	{"enabled", CFG_BOOL, 5, "--enabled", ""},
	{"namespaces", CFG_STRING_LIST, 6, "--namespace", ""},
	{"section.inner", CFG_STRING, 7, "--inner", ""},
	{"section.deeper.leaf", CFG_DURATION, 8, "--leaf", ""},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Records "id=value;" per call; refuses the value "bad". */
static im_result record(void *ctx, const struct cfg_key *key, const char *value, struct buf *err)
{
	struct buf *calls = ctx;

	if (strcmp(value, "bad") == 0) {
		buf_printf(err, "invalid %s \"%s\" (anything but bad)", key->path, value);
		return IM_CONFIG;
	}
	buf_printf(calls, "%d=%s;", key->id, value);
	return IM_OK;
}

/* Runs the file; returns "calls" or "ERR message | calls so far". Caller frees. */
static char *run(const char *yaml)
{
	struct buf calls, err, out;
	char *s;

	buf_init(&calls, 4096);
	buf_init(&err, 4096);
	buf_init(&out, 8192);
	if (cfgfile_parse(yaml, strlen(yaml), "run.yaml", keys, NKEYS, record, &calls, &err))
		buf_printf(&out, "ERR %s | %s", buf_str(&err), buf_str(&calls));
	else
		buf_adds(&out, buf_str(&calls));
	buf_release(&calls);
	buf_release(&err);
	s = buf_detach(&out, NULL);
	return s;
}

#define EXPECT(yaml, want)                                                     \
	do {                                                                   \
		char *got = run(yaml);                                         \
		ASSERT_STREQ(got, want);                                       \
		im_free(got);                                                  \
	} while (0)

TEST(every_type_reaches_the_setter_as_text)
{
	EXPECT("name: qwen\n"
	       "port: 8000\n"
	       "ratio: 0.25\n"
	       "interval: 1m30s\n"
	       "enabled: false\n"
	       "namespaces: [llm, batch]\n"
	       "section:\n"
	       "  inner: x\n"
	       "  deeper:\n"
	       "    leaf: 5\n",
	       "1=qwen;2=8000;3=0.25;4=1m30s;5=false;6=llm;6=batch;7=x;8=5;");
	EXPECT("port: http\n", "2=http;");
	EXPECT("interval: 15\n", "4=15;"); /* plain seconds, as the flags take */
	EXPECT("enabled: yes\n", "5=true;"); /* YAML 1.1, as kubectl reads it */
}

TEST(empty_file_and_null_values_set_nothing)
{
	EXPECT("", "");
	EXPECT("# only a comment\n", "");
	EXPECT("name:\nsection:\n", "");
}

TEST(unknown_keys_are_named_with_file_and_line)
{
	EXPECT("name: a\n\nnmae: b\n", "ERR run.yaml:3: unknown key \"nmae\" | 1=a;");
	EXPECT("section:\n  inner: a\n  innr: b\n", "ERR run.yaml:3: unknown key \"section.innr\" | 7=a;");
	EXPECT("section:\n  deeper:\n    leaf2: 1\n", "ERR run.yaml:3: unknown key \"section.deeper.leaf2\" | ");
}

TEST(wrong_types_are_named_with_file_and_line)
{
	EXPECT("name: [a]\n", "ERR run.yaml:1: name must be a string, not a list | ");
	EXPECT("\nratio: \"0.5\"\n", "ERR run.yaml:2: ratio must be a number, not a string | ");
	EXPECT("enabled: 1\n", "ERR run.yaml:1: enabled must be true or false, not a number | ");
	EXPECT("interval: {a: 1}\n",
	       "ERR run.yaml:1: interval must be a duration (a string such as 15s, or seconds), not a mapping | ");
	EXPECT("port: 1.5\n", "ERR run.yaml:1: port must be a name or a number, not a number | ");
	EXPECT("namespaces: llm\n", "ERR run.yaml:1: namespaces must be a list of strings, not a string | ");
	EXPECT("namespaces:\n- a\n- 7\n",
	       "ERR run.yaml:3: namespaces must be a list of strings, not a list holding a number | 6=a;");
	EXPECT("section: 3\n", "ERR run.yaml:1: section must be a mapping, not a number | ");
}

TEST(setter_refusals_get_file_and_line)
{
	EXPECT("name: a\ninterval: bad\nport: 1\n",
	       "ERR run.yaml:2: invalid interval \"bad\" (anything but bad) | 1=a;");
}

TEST(file_must_be_one_mapping)
{
	EXPECT("- a\n", "ERR run.yaml:1: a configuration file holds a mapping of keys, not a list | ");
	EXPECT("name: a\n---\nname: b\n", "ERR run.yaml:2: a configuration file holds one document | ");
	EXPECT("name: [a\n",
	       "ERR run.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence that started at line 1) | ");
	EXPECT("name: a\nname: b\n", "ERR run.yaml:2:1: duplicate mapping key \"name\" (first at line 1) | ");
}

TEST(missing_file_is_named)
{
	struct buf calls, err;

	buf_init(&calls, 1024);
	buf_init(&err, 1024);
	ASSERT_ERR(cfgfile_load("/nonexistent/run.yaml", keys, NKEYS, record, &calls, &err), IM_NOTFOUND);
	ASSERT_CONTAINS(buf_str(&err), "/nonexistent/run.yaml");
	buf_release(&calls);
	buf_release(&err);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
