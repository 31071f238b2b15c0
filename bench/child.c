/*
 * The yardstick for iblock's per-connection cost: an inetd child written
 * in C doing what the C original does for each connection. It reads the
 * peer, logs it, runs the helper to add it, waits, then becomes the helper
 * to kill its states.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];
	const void *addr;
	pid_t pid;
	int status;

	if (argc != 2)
		errx(1, "usage: child helper");
	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) == -1)
		err(1, "getpeername");
	if (ss.ss_family == AF_INET)
		addr = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	else
		exit(2);
	if (inet_ntop(ss.ss_family, addr, ip, sizeof(ip)) == NULL)
		err(1, "inet_ntop");

	openlog("iblock", LOG_PID, LOG_DAEMON);
	syslog(LOG_NOTICE, "blocking %s", ip);

	pid = fork();
	if (pid == -1)
		err(1, "fork");
	if (pid == 0) {
		execl(argv[1], argv[1], "-n", "/sbin/pfctl", "-t", "iblocked",
		    "-T", "add", ip, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) == -1)
		err(1, "waitpid");
	execl(argv[1], argv[1], "-n", "/sbin/pfctl", "-k", ip, (char *)NULL);
	err(1, "execl");
}
