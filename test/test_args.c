#include "t.h"

#include "args.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

TEST(args_forms)
{
	uint64_t v = 0;
	char *a1[] = {"vllm", "serve", "m", "--max-num-seqs", "8"};
	char *a2[] = {"--max-num-seqs=16", "--port", "8000"};
	char *a3[] = {"--max_num_seqs", "4"};
	char *a4[] = {"--max-num-seqs", "2", "--max-num-seqs=3"};
	char *a5[] = {"--port", "8000"};
	char *a6[] = {"--max-num-seqs", "lots"};
	char *a7[] = {"--max-num-seqs"};

	ASSERT_OK(args_find_uint(a1, N(a1), "--max-num-seqs", 1u << 20, &v));
	ASSERT_EQ_INT(v, 8);
	ASSERT_OK(args_find_uint(a2, N(a2), "--max-num-seqs", 1u << 20, &v));
	ASSERT_EQ_INT(v, 16);
	ASSERT_OK(args_find_uint(a3, N(a3), "--max-num-seqs", 1u << 20, &v));
	ASSERT_EQ_INT(v, 4);
	ASSERT_OK(args_find_uint(a4, N(a4), "--max-num-seqs", 1u << 20, &v));
	ASSERT_EQ_INT(v, 3);
	ASSERT_ERR(args_find_uint(a5, N(a5), "--max-num-seqs", 1u << 20, &v), IM_NOTFOUND);
	ASSERT_ERR(args_find_uint(a6, N(a6), "--max-num-seqs", 1u << 20, &v), IM_PARSE);
	ASSERT_ERR(args_find_uint(a7, N(a7), "--max-num-seqs", 1u << 20, &v), IM_NOTFOUND);
	ASSERT_ERR(args_find_uint(a1, N(a1), "--max-num-seqs", 4, &v), IM_TOOBIG);
}

TEST(args_inside_shell_strings)
{
	uint64_t v = 0;
	char *a1[] = {"sh", "-c", "exec vllm serve Qwen/Qwen3 --api-key 'x y' --max-num-seqs 12 && true"};
	char *a2[] = {"/bin/bash", "-c", "python3 -m sglang.launch_server --max-running-requests=\"48\""};
	char *a3[] = {"sh", "-c", "echo '--max-num-seqs 99'"};

	ASSERT_OK(args_find_uint(a1, N(a1), "--max-num-seqs", 1u << 20, &v));
	ASSERT_EQ_INT(v, 12);
	ASSERT_OK(args_find_uint(a2, N(a2), "--max-running-requests", 1u << 20, &v));
	ASSERT_EQ_INT(v, 48);
	/* a quoted string is one word, not a flag */
	ASSERT_ERR(args_find_uint(a3, N(a3), "--max-num-seqs", 1u << 20, &v), IM_NOTFOUND);
}

TEST(args_roles)
{
	char word[32];
	char *a1[] = {"--kv-transfer-config", "{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_producer\"}"};
	char *a2[] = {"python3", "-m", "sglang.launch_server", "--disaggregation-mode", "decode"};
	char *a3[] = {"--disaggregation-mode", "$(cat /etc/secret)"};

	ASSERT_TRUE(args_flag_contains(a1, N(a1), "--kv-transfer-config", "kv_producer"));
	ASSERT_TRUE(!args_flag_contains(a1, N(a1), "--kv-transfer-config", "kv_consumer"));
	ASSERT_TRUE(args_find_word(a2, N(a2), "--disaggregation-mode", word, sizeof(word)));
	ASSERT_STREQ(word, "decode");
	ASSERT_TRUE(!args_find_word(a3, N(a3), "--disaggregation-mode", word, sizeof(word)));
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
