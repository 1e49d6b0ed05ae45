/* Subcommands. Each returns the process exit status. */
#ifndef INFERMON_CMD_H
#define INFERMON_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "strparse.h"

int cmd_run(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* The duration flags of run (scrape and leader-election timings) and
 * render's --scrape-timeout: one rule. */
#define DURATION_FLAG_RULE "a duration such as 15s, at least 100ms"
static inline bool duration_flag_ok(const char *v, uint64_t *ms)
{
	return strparse_duration_ms(v, strlen(v), 3600000, ms) == IM_OK && *ms >= 100;
}

/* The dashboard settings of run and render: put DASHBOARD_LONG_OPTIONS in
 * the getopt_long table and pass every option to dashboard_option with its
 * value (NULL for the switches given as flags; "true"/"false" from a config
 * file, where DASH_OPT_OFF's value says whether the dashboard is enabled)
 * and the name the user wrote. It returns 1 when it took the option, 0 when
 * it is not one of them and -1 when the value is invalid (err then says
 * `invalid NAME "VALUE" (what is wanted)`). Values are split in place and
 * referred to by o, so they must live as long as o (argv does). */
enum {
	DASH_OPT_NAMESPACE = 0x1000,
	DASH_OPT_LABEL,
	DASH_OPT_FOLDER,
	DASH_OPT_GRAFANA_OPERATOR,
	DASH_OPT_INSTANCE,
	DASH_OPT_OFF,
};
#define DASHBOARD_LONG_OPTIONS                                                             \
	{"dashboards-namespace", required_argument, NULL, DASH_OPT_NAMESPACE},             \
		{"dashboard-label", required_argument, NULL, DASH_OPT_LABEL},              \
		{"dashboard-folder", required_argument, NULL, DASH_OPT_FOLDER},            \
		{"grafana-operator", no_argument, NULL, DASH_OPT_GRAFANA_OPERATOR},        \
		{"grafana-instance-selector", required_argument, NULL, DASH_OPT_INSTANCE}, \
	{                                                                                  \
		"no-dashboard", no_argument, NULL, DASH_OPT_OFF                            \
	}
#define DASHBOARD_USAGE                                                                        \
	"  --dashboards-namespace NS  where the dashboard ConfigMap goes (monitoring)\n"       \
	"  --dashboard-label K=V      the label Grafana's sidecar selects dashboards by\n"     \
	"                             (grafana_dashboard=1)\n"                                 \
	"  --dashboard-folder NAME    Grafana folder of the dashboard (LLM Inference)\n"       \
	"  --grafana-operator         also a grafana-operator GrafanaDashboard\n"              \
	"  --grafana-instance-selector K=V[,K=V]\n"                                            \
	"                             the Grafana instances it selects (dashboards=grafana)\n" \
	"  --no-dashboard             deliver no dashboard, whatever the CRs say\n"

struct buf;
struct dashboard_opts;
int dashboard_option(int id, char *v, const char *name, struct dashboard_opts *o, struct buf *err);

#endif
