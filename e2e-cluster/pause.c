// The pod sandbox's process: holds the pod's namespaces until told to stop, reaps orphans (it is
// PID 1 of the pod when the pod shares its PID namespace). Linked statically into an image of its own.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }

int main(void) {
    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
