#define _GNU_SOURCE
#include "process_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// What the child writes to the report pipe when set-up or exec fails. One write of 8 bytes is
// below PIPE_BUF, so the parent reads it whole or not at all.
struct failure_report {
    int stage;
    int error;
};

// ---- child side: only async-signal-safe calls from here to execve ----

static void report_and_exit(int report_fd, int stage) __attribute__((noreturn));
static void report_and_exit(int report_fd, int stage) {
    struct failure_report report = { stage, errno };
    ssize_t ignored = write(report_fd, &report, sizeof report);
    (void)ignored; // nothing better to do: the parent then sees a short read
    _exit(127);
}

// The parent may have installed handlers or ignored signals (a runner ignores SIGINT/SIGTERM
// to receive them through Dispatch). Ignored dispositions and the mask survive execve, which
// would make the child deaf to terminate(); give it a clean slate.
static void reset_signal_dispositions_and_mask(void) {
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    // The kernel's struct sigaction starts with the handler; all zeroes means SIG_DFL, no flags,
    // empty mask. Used for the signals glibc reserves (32, 33), which its sigaction refuses but
    // which a runtime may have set to SIG_IGN.
    unsigned long raw_default_action[4] = { 0, 0, 0, 0 };
    for (int signal_number = 1; signal_number < NSIG; signal_number++) {
        if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
        if (sigaction(signal_number, &default_action, NULL) != 0)
            (void)syscall(SYS_rt_sigaction, signal_number, raw_default_action, NULL, (size_t)8);
    }
    sigset_t nothing;
    sigemptyset(&nothing);
    (void)sigprocmask(SIG_SETMASK, &nothing, NULL);
}

// Descriptors the runner opened without O_CLOEXEC (sockets, other logs) must not leak into
// nodes: a leaked listening socket would outlive a "killed" runner's intent.
static void mark_inherited_descriptors_close_on_exec(void) {
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    // Kernels before 5.11: walk the table up to the soft limit (capped to stay quick).
    struct rlimit limit;
    long highest = 65536;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && (long)limit.rlim_cur < highest)
        highest = (long)limit.rlim_cur;
    for (int fd = 3; fd < highest; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

// A descriptor numbered 0..2 would be overwritten by the stdio dup2 calls; move it above.
static int move_above_stdio(int fd) {
    return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void run_child(const wa_spawn_request *request, int report_fd) __attribute__((noreturn));
static void run_child(const wa_spawn_request *request, int report_fd) {
    reset_signal_dispositions_and_mask();

    // Own process group: faults go to the whole node (and its helpers), never to the runner.
    if (setpgid(0, 0) != 0) report_and_exit(report_fd, WA_SPAWN_STAGE_PROCESS_GROUP);

    // Join the node's network namespace while still privileged (setns needs CAP_SYS_ADMIN):
    // its own address, its own loopback, its own firewall rules.
    if (request->network_namespace != NULL) {
        int ns_fd = open(request->network_namespace, O_RDONLY | O_CLOEXEC);
        if (ns_fd < 0) report_and_exit(report_fd, WA_SPAWN_STAGE_NETWORK_NAMESPACE);
        if (setns(ns_fd, CLONE_NEWNET) != 0) report_and_exit(report_fd, WA_SPAWN_STAGE_NETWORK_NAMESPACE);
        close(ns_fd);
    }

    // Drop to the requested user first: a credential change clears the parent-death signal,
    // so it must be set afterwards.
    if (request->switch_user) {
        if (setgroups(0, NULL) != 0 || setgid(request->gid) != 0 || setuid(request->uid) != 0)
            report_and_exit(report_fd, WA_SPAWN_STAGE_CREDENTIALS);
    }

    // Die with the runner even if it is SIGKILLed. Fires when the forking *thread* exits,
    // which is why the Swift side forks from one long-lived thread only.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) report_and_exit(report_fd, WA_SPAWN_STAGE_DEATH_SIGNAL);
    // The runner may have died between fork and prctl; then nobody would ever send the signal.
    if (getppid() != request->expected_parent) {
        errno = ESRCH;
        report_and_exit(report_fd, WA_SPAWN_STAGE_PARENT_GONE);
    }

    int lifted_report_fd = move_above_stdio(report_fd);
    if (lifted_report_fd < 0) report_and_exit(report_fd, WA_SPAWN_STAGE_STDIO);
    report_fd = lifted_report_fd;
    int log_fd = move_above_stdio(request->log_fd);
    if (log_fd < 0) report_and_exit(report_fd, WA_SPAWN_STAGE_STDIO);

    // Not O_CLOEXEC: if it lands on 0 itself, dup2 is a no-op and it must stay open.
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0) report_and_exit(report_fd, WA_SPAWN_STAGE_STDIO);
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
        report_and_exit(report_fd, WA_SPAWN_STAGE_STDIO);

    mark_inherited_descriptors_close_on_exec();

    if (request->working_directory != NULL && chdir(request->working_directory) != 0)
        report_and_exit(report_fd, WA_SPAWN_STAGE_WORKING_DIRECTORY);

    execve(request->executable, request->argv, request->envp);
    report_and_exit(report_fd, WA_SPAWN_STAGE_EXEC);
}

// ---- parent side ----

pid_t wa_spawn(const wa_spawn_request *request, int *failed_stage) {
    *failed_stage = WA_SPAWN_STAGE_NONE;

    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *failed_stage = WA_SPAWN_STAGE_PIPE;
        return -errno;
    }

    // Block every signal across fork so no parent handler can run in the child before the
    // child resets dispositions; the child unblocks everything itself.
    sigset_t everything, saved_mask;
    sigfillset(&everything);
    pthread_sigmask(SIG_SETMASK, &everything, &saved_mask);
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        run_child(request, report[1]);
    }
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
    close(report[1]);

    if (pid < 0) {
        close(report[0]);
        *failed_stage = WA_SPAWN_STAGE_FORK;
        return -fork_error;
    }

    // Also set the group from the parent, so it is in place whichever side runs first.
    // EACCES after the child has exec'd is expected and harmless.
    (void)setpgid(pid, pid);

    // The write end closes on successful exec (CLOEXEC): zero bytes means the exec happened.
    struct failure_report report_message;
    ssize_t got;
    do {
        got = read(report[0], &report_message, sizeof report_message);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == 0) return pid;

    // The child failed and has exited (or is about to): reap it so no zombie is left.
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (got == (ssize_t)sizeof report_message) {
        *failed_stage = report_message.stage;
        return -report_message.error;
    }
    *failed_stage = WA_SPAWN_STAGE_EXEC;
    return -EIO;
}

int wa_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int wa_child_has_exited(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int result;
    do {
        result = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
    } while (result < 0 && errno == EINTR);
    if (result < 0) return -errno;
    return info.si_pid == pid ? 1 : 0;
}

int wa_set_child_subreaper(int enabled) {
    return prctl(PR_SET_CHILD_SUBREAPER, enabled ? 1 : 0, 0, 0, 0) == 0 ? 0 : -errno;
}

int wa_wake_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0 ? 0 : -errno;
}

int wa_enter_network_namespace(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int result = setns(fd, CLONE_NEWNET);
    int error = errno;
    close(fd);
    return result == 0 ? 0 : -error;
}

unsigned long wa_network_namespace_inode(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 ? (unsigned long)info.st_ino : 0;
}

unsigned long wa_current_network_namespace(void) {
    return wa_network_namespace_inode("/proc/thread-self/ns/net");
}
