#include <curl/curl.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <uv.h>
#include <yaml.h>
#include <cjson/cJSON.h>
#include <openssl/opensslv.h>

#include "cmd.h"
#include "version.h"

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("infermon %s (commit %s, %s build)\n", INFERMON_VERSION, INFERMON_GIT_COMMIT,
	       INFERMON_BUILD_TYPE);
	printf("  libcurl %s, cJSON %s, libyaml %s, %s, libwebsockets %s, libuv %s\n",
	       curl_version_info(CURLVERSION_NOW)->version, cJSON_Version(),
	       yaml_get_version_string(), OPENSSL_VERSION_TEXT, lws_get_library_version(),
	       uv_version_string());
	printf("  built %s %s with %s\n", __DATE__, __TIME__, __VERSION__);
	return 0;
}
