/* The pod sandbox's process for the real node's containerd (hack/images.sh
 * builds it statically into the image containerd's sandbox_image names; no
 * registry is reachable here to pull one). As PID 1 of the pod it holds the
 * pod's namespaces, reaps whatever is reparented to it, and exits on
 * SIGTERM or SIGINT. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig) { (void)sig; stop = 1; }

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	while (!stop)
		pause();
	return 0;
}
