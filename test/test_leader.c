#include "t.h"

#include "alloc.h"
#include "leader.h"

static cJSON *lease(const char *holder, const char *renew, int transitions, const char *rv)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
		 "\"metadata\":{\"name\":\"infermon\",\"namespace\":\"infermon-system\","
		 "\"resourceVersion\":\"%s\"},"
		 "\"spec\":{\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":15,"
		 "\"acquireTime\":\"2026-11-23T20:00:00.000000Z\",\"renewTime\":\"%s\","
		 "\"leaseTransitions\":%d}}",
		 rv, holder, renew, transitions);
	return cJSON_Parse(text);
}

static struct lease_record record(const char *holder, const char *renew, int transitions,
				  const char *rv)
{
	struct lease_record r;
	cJSON *l = lease(holder, renew, transitions, rv);

	ASSERT_OK(lease_record_parse(l, &r, NULL));
	cJSON_Delete(l);
	return r;
}

TEST(lease_record_reads_the_election_fields)
{
	struct lease_record r = record("a_1", "2026-11-23T20:00:01.500000Z", 3, "42");

	ASSERT_STREQ(r.holder, "a_1");
	ASSERT_EQ_INT(r.duration_s, 15);
	ASSERT_STREQ(r.acquire_time, "2026-11-23T20:00:00.000000Z");
	ASSERT_STREQ(r.renew_time, "2026-11-23T20:00:01.500000Z");
	ASSERT_EQ_INT(r.transitions, 3);
	ASSERT_STREQ(r.resource_version, "42");
}

TEST(lease_record_without_spec_is_free)
{
	struct lease_record r;
	cJSON *l = cJSON_Parse("{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"7\"}}");

	ASSERT_OK(lease_record_parse(l, &r, NULL));
	ASSERT_STREQ(r.holder, "");
	ASSERT_EQ_INT(r.duration_s, 0);
	ASSERT_STREQ(r.resource_version, "7");
	cJSON_Delete(l);
}

TEST(lease_record_rejects_wrong_types)
{
	struct lease_record r;
	struct buf err;
	cJSON *l = cJSON_Parse("{\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":\"15\"}}");

	buf_init(&err, 1024);
	ASSERT_ERR(lease_record_parse(l, &r, &err), IM_PARSE);
	ASSERT_CONTAINS(buf_str(&err), "leaseDurationSeconds");
	ASSERT_STREQ(r.holder, ""); /* nothing half-read */
	cJSON_Delete(l);
	buf_reset(&err);
	l = cJSON_Parse("{\"spec\":{\"holderIdentity\":7}}");
	ASSERT_ERR(lease_record_parse(l, &r, &err), IM_PARSE);
	ASSERT_CONTAINS(buf_str(&err), "holderIdentity");
	cJSON_Delete(l);
	buf_release(&err);
}

TEST(no_lease_means_create)
{
	struct leader_view v = {0};

	ASSERT_EQ_INT(leader_decide(&v, "me", 15000, 1000, NULL), LEADER_CREATE);
}

/* The heart of it: a record held by another expires leaseDurationSeconds
 * after WE first saw it unchanged, by our monotonic clock, whatever its
 * renewTime says about the holder's wall clock. */
TEST(expiry_is_judged_by_the_local_observe_time)
{
	struct leader_view v = {0};
	struct lease_record r;
	uint64_t left;

	/* a renewTime far in the past (a skewed holder clock) is not expiry */
	r = record("other", "2001-01-01T00:00:00.000000Z", 1, "10");
	leader_observe(&v, &r, 100000);
	ASSERT_EQ_INT(v.observed_ms, 100000);
	ASSERT_EQ_INT(leader_decide(&v, "me", 99000, 100000, &left), LEADER_WAIT);
	ASSERT_EQ_INT(left, 15000); /* the record's 15 s, not the default */
	ASSERT_EQ_INT(leader_decide(&v, "me", 99000, 114999, &left), LEADER_WAIT);
	ASSERT_EQ_INT(left, 1);
	ASSERT_EQ_INT(leader_decide(&v, "me", 99000, 115000, &left), LEADER_TAKE);
	ASSERT_EQ_INT(left, 0);

	/* reading the same record again does not move the observe time */
	leader_observe(&v, &r, 110000);
	ASSERT_EQ_INT(v.observed_ms, 100000);
	ASSERT_EQ_INT(leader_decide(&v, "me", 15000, 115000, NULL), LEADER_TAKE);

	/* a renewal (any change) restarts the wait from when we saw it */
	r = record("other", "2001-01-01T00:00:02.000000Z", 1, "11");
	leader_observe(&v, &r, 112000);
	ASSERT_EQ_INT(v.observed_ms, 112000);
	ASSERT_EQ_INT(leader_decide(&v, "me", 15000, 115000, &left), LEADER_WAIT);
	ASSERT_EQ_INT(left, 12000);
	ASSERT_EQ_INT(leader_decide(&v, "me", 15000, 127000, NULL), LEADER_TAKE);

	/* a renewTime far in the future is not validity either */
	r = record("other", "2099-01-01T00:00:00.000000Z", 1, "12");
	leader_observe(&v, &r, 200000);
	ASSERT_EQ_INT(leader_decide(&v, "me", 15000, 215000, NULL), LEADER_TAKE);
}

TEST(each_field_counts_as_a_change)
{
	struct leader_view v = {0};
	struct lease_record base = record("other", "t1", 1, "10"), r;

	leader_observe(&v, &base, 1000);
	r = base;
	snprintf(r.resource_version, sizeof(r.resource_version), "11");
	leader_observe(&v, &r, 2000);
	ASSERT_EQ_INT(v.observed_ms, 2000);
	r.transitions = 2;
	leader_observe(&v, &r, 3000);
	ASSERT_EQ_INT(v.observed_ms, 3000);
	snprintf(r.holder, sizeof(r.holder), "third");
	leader_observe(&v, &r, 4000);
	ASSERT_EQ_INT(v.observed_ms, 4000);
	leader_observe(&v, &r, 5000);
	ASSERT_EQ_INT(v.observed_ms, 4000);
}

TEST(own_or_free_lease_is_taken_at_once)
{
	struct leader_view v = {0};
	struct lease_record r = record("me", "t", 0, "1");

	leader_observe(&v, &r, 1000);
	ASSERT_EQ_INT(leader_decide(&v, "me", 15000, 1000, NULL), LEADER_RENEW);
	r = record("", "t", 0, "2"); /* released on shutdown */
	leader_observe(&v, &r, 2000);
	ASSERT_EQ_INT(leader_decide(&v, "me", 15000, 2000, NULL), LEADER_TAKE);
}

TEST(record_without_duration_uses_the_default)
{
	struct leader_view v = {0};
	struct lease_record r = record("other", "t", 0, "1");

	r.duration_s = 0;
	leader_observe(&v, &r, 0);
	ASSERT_EQ_INT(leader_decide(&v, "me", 20000, 19999, NULL), LEADER_WAIT);
	ASSERT_EQ_INT(leader_decide(&v, "me", 20000, 20000, NULL), LEADER_TAKE);
}

static const char *spec_str(const cJSON *spec, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double spec_num(const cJSON *spec, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, k);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

TEST(takeover_counts_a_transition_renewal_does_not)
{
	struct lease_record old = record("other", "2026-11-23T20:00:05.000000Z", 4, "9");
	cJSON *spec = cJSON_CreateObject();

	/* take over: new acquireTime, transitions + 1 */
	leader_spec(spec, &old, "me", 15, "2026-11-23T21:00:00.000001Z");
	ASSERT_STREQ(spec_str(spec, "holderIdentity"), "me");
	ASSERT_EQ_INT(spec_num(spec, "leaseDurationSeconds"), 15);
	ASSERT_STREQ(spec_str(spec, "acquireTime"), "2026-11-23T21:00:00.000001Z");
	ASSERT_STREQ(spec_str(spec, "renewTime"), "2026-11-23T21:00:00.000001Z");
	ASSERT_EQ_INT(spec_num(spec, "leaseTransitions"), 5);

	/* renew our own: acquireTime and transitions kept, one key each */
	old = record("me", "2026-11-23T21:00:00.000001Z", 5, "10");
	leader_spec(spec, &old, "me", 15, "2026-11-23T21:00:02.000000Z");
	ASSERT_STREQ(spec_str(spec, "acquireTime"), "2026-11-23T20:00:00.000000Z");
	ASSERT_STREQ(spec_str(spec, "renewTime"), "2026-11-23T21:00:02.000000Z");
	ASSERT_EQ_INT(spec_num(spec, "leaseTransitions"), 5);
	ASSERT_EQ_INT(cJSON_GetArraySize(spec), 5);
	cJSON_Delete(spec);

	/* create: transitions 0 */
	spec = cJSON_CreateObject();
	leader_spec(spec, NULL, "me", 15, "2026-11-23T21:00:00.000000Z");
	ASSERT_EQ_INT(spec_num(spec, "leaseTransitions"), 0);
	ASSERT_STREQ(spec_str(spec, "acquireTime"), "2026-11-23T21:00:00.000000Z");
	cJSON_Delete(spec);
}

TEST(micro_time_and_identity_have_their_formats)
{
	char t[40];
	char *a = leader_identity_new(), *b = leader_identity_new();
	const char *us;

	leader_micro_time(t, sizeof(t));
	ASSERT_EQ_INT(strlen(t), 27);
	ASSERT_EQ_INT(t[10], 'T');
	ASSERT_EQ_INT(t[19], '.');
	ASSERT_EQ_INT(t[26], 'Z');
	us = strrchr(a, '_');
	ASSERT_TRUE(us != NULL);
	ASSERT_EQ_INT(strlen(us + 1), 16);
	ASSERT_TRUE(strcmp(a, b) != 0); /* two processes on one host differ */
	im_free(a);
	im_free(b);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
