/*
 * The pod watch against the real API server: create/relabel/delete, paged
 * lists, kill -9 of the API server mid-stream, and 410 Gone relists.
 */
#include "it.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_converged(struct it_watch *w, const char *ns, int timeout_s)
{
	struct buf cached, actual;

	buf_init(&cached, BUF_MAX_LARGE);
	buf_init(&actual, BUF_MAX_LARGE);
	if (!it_wait_converged(w, ns, timeout_s, &cached, &actual))
		t_fail(__FILE__, __LINE__,
		       "cache never matched the API server in %s:\ncached:\n%sactual:\n%s", ns,
		       buf_str(&cached), buf_str(&actual));
	buf_release(&cached);
	buf_release(&actual);
}

struct pod_probe {
	struct it_watch *w;
	const char *ns, *name;
	int present, ready;
	char ip[64], workload[64];
};

static void probe_on_loop(void *arg)
{
	struct pod_probe *p = arg;
	const struct pod *pod = podcache_get(&p->w->cache, p->ns, p->name);

	p->present = pod != NULL;
	if (pod) {
		p->ready = pod->ready;
		snprintf(p->ip, sizeof(p->ip), "%s", pod->pod_ip ? pod->pod_ip : "");
		snprintf(p->workload, sizeof(p->workload), "%s", pod_workload(pod));
	}
}

static struct pod_probe probe(struct it_watch *w, const char *ns, const char *name)
{
	struct pod_probe p = {.w = w, .ns = ns, .name = name};
	loop_call_sync(&w->loop, probe_on_loop, &p);
	return p;
}

TEST(create_relabel_delete_are_reflected)
{
	struct it_watch w;
	struct pod_probe p;
	const char *ns = "it-basic";
	char path[] = "/tmp/it-basic-XXXXXX";
	int fd = mkstemp(path);

	close(fd);
	it_namespace(ns);
	it_watch_start(&w, ns, 0);

	it_write_pods(path, ns, "qwen", 0, 2, "qwen", "vllm");
	ASSERT_EQ_INT(it_sh("kubectl apply -f %s >/dev/null", path), 0);
	it_write_pods(path, ns, "llama", 0, 1, "llama", "sglang");
	ASSERT_EQ_INT(it_sh("kubectl apply -f %s >/dev/null", path), 0);
	/* unlabelled, and half-labelled pods never enter */
	ASSERT_EQ_INT(it_sh("kubectl -n %s run plain --image=x --restart=Never >/dev/null", ns), 0);
	ASSERT_EQ_INT(it_sh("kubectl -n %s run half --image=x --restart=Never "
			    "--labels=alibabacloud.com/inference-workload=qwen >/dev/null",
			    ns),
		      0);
	assert_converged(&w, ns, 30);
	{
		struct buf names;
		buf_init(&names, BUF_MAX_SMALL);
		it_watch_names(&w, ns, &names);
		ASSERT_STREQ(buf_str(&names), "llama-0\nqwen-0\nqwen-1\n");
		buf_release(&names);
	}
	ASSERT_EQ_INT(probe(&w, ns, "plain").present, 0);
	ASSERT_EQ_INT(probe(&w, ns, "half").present, 0);

	/* status updates (what a kubelet would write) reach the cache */
	ASSERT_EQ_INT(
		it_sh("kubectl -n %s patch pod qwen-0 --subresource=status --type=merge -p "
		      "'{\"status\":{\"phase\":\"Running\",\"podIP\":\"127.0.0.1\",\"podIPs\":[{\"ip\":\"127.0.0.1\"}],"
		      "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}' >/dev/null",
		      ns),
		0);
	for (int i = 0; i < 120 && !(p = probe(&w, ns, "qwen-0")).ready; i++)
		usleep(250000);
	ASSERT_EQ_INT(p.ready, 1);
	ASSERT_STREQ(p.ip, "127.0.0.1");

	/* relabel into another workload */
	ASSERT_EQ_INT(it_sh("kubectl -n %s label pod qwen-1 --overwrite "
			    "alibabacloud.com/inference-workload=llama >/dev/null",
			    ns),
		      0);
	for (int i = 0; i < 120 && strcmp((p = probe(&w, ns, "qwen-1")).workload, "llama"); i++)
		usleep(250000);
	ASSERT_STREQ(p.workload, "llama");
	/* a pod gaining both labels enters; losing one leaves */
	ASSERT_EQ_INT(
		it_sh("kubectl -n %s label pod half alibabacloud.com/inference-backend=vllm >/dev/null",
		      ns),
		0);
	ASSERT_EQ_INT(
		it_sh("kubectl -n %s label pod llama-0 alibabacloud.com/inference-backend- >/dev/null",
		      ns),
		0);
	assert_converged(&w, ns, 30);
	ASSERT_EQ_INT(probe(&w, ns, "half").present, 1);
	ASSERT_EQ_INT(probe(&w, ns, "llama-0").present, 0);

	ASSERT_EQ_INT(it_sh("kubectl -n %s delete pod qwen-0 --wait=false >/dev/null", ns), 0);
	assert_converged(&w, ns, 30);
	ASSERT_EQ_INT(probe(&w, ns, "qwen-0").present, 0);
	ASSERT_TRUE(w.events > 0);

	it_watch_stop(&w);
	unlink(path);
	it_sh("kubectl delete namespace %s --wait=false >/dev/null 2>&1", ns);
}

TEST(paged_list_of_1000_pods_is_complete)
{
	struct it_watch w;
	struct reflector_stats s;
	struct buf names;
	const char *ns = "it-list";
	char path[] = "/tmp/it-list-XXXXXX";
	int fd = mkstemp(path);

	close(fd);
	it_namespace(ns);
	it_write_pods(path, ns, "p", 0, 1000, "big", "vllm");
	ASSERT_EQ_INT(it_sh("kubectl create -f %s >/dev/null", path), 0);
	unlink(path);

	it_watch_start(&w, ns, 37); /* 1000/37: 28 pages */
	s = it_watch_stats(&w);
	buf_init(&names, BUF_MAX_LARGE);
	it_watch_names(&w, ns, &names);
	ASSERT_EQ_INT(count_lines(buf_str(&names)), 1000);
	ASSERT_TRUE(s.lists >= 28);
	ASSERT_EQ_INT(s.decode_errors, 0);
	buf_release(&names);
	assert_converged(&w, ns, 30);
	it_watch_stop(&w);
	it_sh("kubectl delete namespace %s --wait=false >/dev/null 2>&1", ns);
}

TEST(apiserver_kill9_reconnects_and_converges)
{
	struct it_watch w;
	struct reflector_stats s;
	const char *ns = "it-chaos";
	struct buf names, cmd;
	char dir[] = "/tmp/it-chaos-XXXXXX", done[64];

	if (!mkdtemp(dir))
		t_fail(__FILE__, __LINE__, "mkdtemp %s", dir);
	/* the API server is killed below: bring it back however this ends, and
	 * stop the creator if it still runs */
	buf_init(&cmd, BUF_MAX_SMALL);
	buf_printf(&cmd,
		   "kill $(cat %s/creator.pid 2>/dev/null) 2>/dev/null; rm -rf %s; "
		   "hack/local-cluster.sh start-apiserver >/dev/null",
		   dir, dir);
	it_restore_on_exit(buf_str(&cmd));
	buf_release(&cmd);
	it_namespace(ns);
	it_watch_start(&w, ns, 0);
	/* A bounded creator: 60 pods, each retried (at most 200 times) while
	 * the API server is down. */
	ASSERT_EQ_INT(
		it_sh("( for i in $(seq 0 59); do n=0; until kubectl -n %s run c-$i --image=x "
		      "--restart=Never --labels=alibabacloud.com/inference-workload=chaos,"
		      "alibabacloud.com/inference-backend=vllm >/dev/null 2>&1 || "
		      "kubectl -n %s get pod c-$i >/dev/null 2>&1; do n=$((n+1)); "
		      "[ $n -ge 200 ] && break; sleep 0.2; done; done; touch %s/done ) "
		      ">/dev/null 2>&1 & echo $! > %s/creator.pid",
		      ns, ns, dir, dir),
		0);
	sleep(2);
	ASSERT_EQ_INT(it_sh("hack/local-cluster.sh kill-apiserver >/dev/null"), 0);
	sleep(4);
	ASSERT_EQ_INT(it_sh("hack/local-cluster.sh start-apiserver >/dev/null"), 0);
	snprintf(done, sizeof(done), "%s/done", dir);
	for (int i = 0; i < 240 && access(done, F_OK) != 0; i++)
		usleep(500000);
	ASSERT_EQ_INT(access(done, F_OK), 0);
	assert_converged(&w, ns, 60);
	buf_init(&names, BUF_MAX_SMALL);
	it_watch_names(&w, ns, &names);
	ASSERT_EQ_INT(count_lines(buf_str(&names)), 60);
	buf_release(&names);
	s = it_watch_stats(&w);
	ASSERT_TRUE(s.failures >= 1); /* it saw the outage ... */
	ASSERT_TRUE(s.watches >= 2);  /* ... and watched again */
	it_watch_stop(&w);
	ASSERT_EQ_INT(it_restore_now(), 0);
	it_sh("kubectl delete namespace %s --wait=false >/dev/null 2>&1", ns);
}

TEST(gone_410_leads_to_relist_and_correct_cache)
{
	struct it_watch w;
	struct reflector_stats before, after;
	struct buf rv, cmd;
	const char *ns = "it-gone";
	char path[] = "/tmp/it-gone-XXXXXX";
	int fd = mkstemp(path);

	close(fd);
	/* A watch from a compacted version gets 410 when the API server serves
	 * it from etcd; from its watch cache it may not. Run this test against
	 * an API server without the watch cache and with a 2 s compaction
	 * interval; the cluster's own settings come back however the test ends
	 * (it_restore_on_exit), or every later test would run on this server. */
	buf_init(&cmd, BUF_MAX_SMALL);
	it_cluster_settings(&cmd);
	buf_printf(&cmd, " hack/local-cluster.sh up >/dev/null; rm -f %s", path);
	it_restore_on_exit(buf_str(&cmd));
	buf_release(&cmd);
	ASSERT_EQ_INT(
		it_sh("INFERMON_APISERVER_EXTRA_ARGS=--watch-cache=false "
		      "INFERMON_ETCD_COMPACTION_INTERVAL=2s hack/local-cluster.sh up >/dev/null"),
		0);
	it_namespace(ns);
	it_watch_start(&w, ns, 0);
	buf_init(&rv, 256);
	it_sh_out(&rv, "kubectl get ns %s -o jsonpath='{.metadata.resourceVersion}'", ns);
	it_write_pods(path, ns, "g", 0, 20, "gone", "vllm");
	ASSERT_EQ_INT(it_sh("kubectl create -f %s >/dev/null", path), 0);
	ASSERT_EQ_INT(it_sh("kubectl -n %s delete pod g-3 g-4 --wait=false >/dev/null", ns), 0);
	sleep(6); /* a few compactions pass the early version */
	before = it_watch_stats(&w);
	it_watch_resume_from(&w, buf_str(&rv));
	for (int i = 0; i < 120; i++) {
		after = it_watch_stats(&w);
		if (after.relists > before.relists)
			break;
		usleep(250000);
	}
	ASSERT_TRUE(after.gone > before.gone);
	ASSERT_TRUE(after.relists > before.relists);
	assert_converged(&w, ns, 30);
	ASSERT_EQ_INT(probe(&w, ns, "g-3").present, 0);
	ASSERT_EQ_INT(probe(&w, ns, "g-5").present, 1);
	buf_release(&rv);
	it_watch_stop(&w);
	it_sh("kubectl delete namespace %s --wait=false >/dev/null 2>&1", ns);
	ASSERT_EQ_INT(it_restore_now(), 0);
}

/* The server ends every watch at timeoutSeconds (2 s here, 300-600 s in
 * production): the reflector resumes from its resourceVersion, without a
 * new list, and pods created while one watch ended and the next began are
 * not lost. */
TEST(watch_timeouts_resume_without_relisting)
{
	struct it_watch w;
	struct reflector_stats before, after;
	const char *ns = "it-resume";

	it_namespace(ns);
	it_watch_start_opts(&w, ns, 0, 2);
	before = it_watch_stats(&w);
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ_INT(it_sh("kubectl -n %s run r-%d --image=x --restart=Never "
				    "--labels=alibabacloud.com/inference-workload=r,"
				    "alibabacloud.com/inference-backend=vllm >/dev/null",
				    ns, i),
			      0);
		usleep(700000);
	}
	for (int i = 0; i < 120; i++) {
		after = it_watch_stats(&w);
		if (after.watches >= before.watches + 3)
			break;
		usleep(250000);
	}
	ASSERT_TRUE(after.watches >= before.watches + 3); /* watches ended and resumed */
	assert_converged(&w, ns, 30);
	after = it_watch_stats(&w);
	ASSERT_EQ_INT(after.lists, before.lists); /* resumed, never listed again */
	ASSERT_EQ_INT(after.relists, before.relists);
	ASSERT_EQ_INT(after.gone, before.gone);
	ASSERT_EQ_INT(after.failures, before.failures);
	{
		struct buf names;
		buf_init(&names, BUF_MAX_SMALL);
		it_watch_names(&w, ns, &names);
		ASSERT_STREQ(buf_str(&names), "r-0\nr-1\nr-2\nr-3\nr-4\nr-5\nr-6\nr-7\n");
		buf_release(&names);
	}
	it_watch_stop(&w);
	it_sh("kubectl delete namespace %s --wait=false >/dev/null 2>&1", ns);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
