/*
 * metricsreview.c's bodies and answers: what is sent to the API server
 * (TokenReview, SubjectAccessReview of the non-resource URL /metrics) and
 * how its answers are read. The calls themselves run against the real API
 * server in test/integration/it_metrics_auth.sh.
 */
#include "metricsreview.h"
#include "t.h"
#include "t_kube.h"

TEST(token_review_body)
{
	struct buf b;
	cJSON *o;

	buf_init(&b, BUF_MAX_SMALL);
	metricsreview_token_body(&b, "abc.def\"x");
	o = t_json(buf_str(&b));
	ASSERT_STREQ(cJSON_GetObjectItem(o, "apiVersion")->valuestring, "authentication.k8s.io/v1");
	ASSERT_STREQ(cJSON_GetObjectItem(o, "kind")->valuestring, "TokenReview");
	ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "token")->valuestring,
		     "abc.def\"x");
	cJSON_Delete(o);
	buf_release(&b);
}

TEST(token_review_answers)
{
	static const char ok[] =
		"{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1\","
		"\"status\":{\"authenticated\":true,\"user\":{\"username\":"
		"\"system:serviceaccount:mon:prom\",\"uid\":\"u-1\",\"groups\":["
		"\"system:serviceaccounts\",\"system:authenticated\"],\"extra\":{"
		"\"authentication.kubernetes.io/pod-name\":[\"prom-0\"]}},\"audiences\":[\"x\"]}}";
	static const char no[] = "{\"kind\":\"TokenReview\",\"status\":{\"user\":{},"
				 "\"error\":\"invalid bearer token\"}}";
	static const char nameless[] =
		"{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,\"user\":{}}}";
	struct buf why, b;
	cJSON *user, *sar, *spec;

	buf_init(&why, BUF_MAX_SMALL);
	buf_init(&b, BUF_MAX_SMALL);
	ASSERT_EQ_INT(metricsreview_parse_token(ok, sizeof(ok) - 1, &user, &why),
		      METRICSAUTH_ALLOWED);
	ASSERT_STREQ(cJSON_GetObjectItem(user, "username")->valuestring,
		     "system:serviceaccount:mon:prom");
	/* the SubjectAccessReview asks for that user, with its groups and
	 * extra, about get /metrics */
	metricsreview_access_body(&b, user);
	sar = t_json(buf_str(&b));
	spec = cJSON_GetObjectItem(sar, "spec");
	ASSERT_STREQ(cJSON_GetObjectItem(sar, "kind")->valuestring, "SubjectAccessReview");
	ASSERT_STREQ(cJSON_GetObjectItem(sar, "apiVersion")->valuestring,
		     "authorization.k8s.io/v1");
	ASSERT_STREQ(cJSON_GetObjectItem(spec, "user")->valuestring,
		     "system:serviceaccount:mon:prom");
	ASSERT_STREQ(cJSON_GetObjectItem(spec, "uid")->valuestring, "u-1");
	ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(spec, "groups")), 2);
	ASSERT_TRUE(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "extra"),
					"authentication.kubernetes.io/pod-name") != NULL);
	ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "nonResourceAttributes"), "path")
			     ->valuestring,
		     "/metrics");
	ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "nonResourceAttributes"), "verb")
			     ->valuestring,
		     "get");
	cJSON_Delete(sar);
	cJSON_Delete(user);

	ASSERT_EQ_INT(metricsreview_parse_token(no, sizeof(no) - 1, &user, &why),
		      METRICSAUTH_UNAUTHENTICATED);
	ASSERT_TRUE(user == NULL);
	/* the API server's reason is not the client's business */
	ASSERT_TRUE(strstr(buf_str(&why), "invalid bearer token") == NULL);
	ASSERT_EQ_INT(metricsreview_parse_token("{\"kind\":\"Status\"}", 17, &user, &why),
		      METRICSAUTH_UNAVAILABLE);
	ASSERT_EQ_INT(metricsreview_parse_token(nameless, sizeof(nameless) - 1, &user, &why),
		      METRICSAUTH_UNAVAILABLE);
	ASSERT_CONTAINS(buf_str(&why), "names no user");
	ASSERT_EQ_INT(metricsreview_parse_token("not json", 8, &user, &why),
		      METRICSAUTH_UNAVAILABLE);
	buf_release(&why);
	buf_release(&b);
}

TEST(access_review_answers)
{
	static const char yes[] = "{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":true,"
				  "\"reason\":\"RBAC: allowed by ClusterRoleBinding\"}}";
	static const char no[] =
		"{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":false}}";
	static const char no_why[] = "{\"kind\":\"SubjectAccessReview\",\"status\":{"
				     "\"allowed\":false,\"reason\":\"no \\\"rule\\\"\"}}";
	struct buf why;

	buf_init(&why, BUF_MAX_SMALL);
	ASSERT_EQ_INT(metricsreview_parse_access(yes, sizeof(yes) - 1, "u", &why),
		      METRICSAUTH_ALLOWED);
	ASSERT_EQ_INT(
		metricsreview_parse_access(no, sizeof(no) - 1, "system:serviceaccount:a:b", &why),
		METRICSAUTH_FORBIDDEN);
	ASSERT_STREQ(buf_str(&why), "user \"system:serviceaccount:a:b\" may not get /metrics "
				    "(bind ClusterRole infermon-metrics-reader)");
	ASSERT_EQ_INT(metricsreview_parse_access(no_why, sizeof(no_why) - 1, "u", &why),
		      METRICSAUTH_FORBIDDEN);
	ASSERT_CONTAINS(buf_str(&why), ": \"no \\\"rule\\\"\"");
	ASSERT_EQ_INT(metricsreview_parse_access("{\"kind\":\"TokenReview\",\"status\":{}}", 34,
						 "u", &why),
		      METRICSAUTH_UNAVAILABLE);
	buf_release(&why);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
