/* The test cluster's pod sandbox ("pause") process: it holds a pod's namespaces open, reaps
 * the zombies a pod's other processes leave behind, and exits at SIGTERM or SIGINT. Built
 * statically by the test kit (gcc -static), so the image needs nothing else. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
}

int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGCHLD, reap);
  for (;;) {
    pause();
  }
}
