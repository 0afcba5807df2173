#ifndef WA_PROCESS_SHIM_H
#define WA_PROCESS_SHIM_H

// fork/exec with the Linux-only guarantees posix_spawn cannot give: the child gets its own
// process group, dies with its parent (PR_SET_PDEATHSIG) and reports exec failures to it.
// Swift cannot safely run between fork and exec in a multithreaded process, so all of that
// happens here, in C, with async-signal-safe calls only.

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The step of child set-up that failed; reported with its errno through the exec pipe.
typedef enum wa_spawn_stage {
    WA_SPAWN_STAGE_NONE = 0,
    WA_SPAWN_STAGE_PIPE = 1,            // parent: creating the exec-report pipe
    WA_SPAWN_STAGE_FORK = 2,            // parent: fork itself
    WA_SPAWN_STAGE_PROCESS_GROUP = 3,   // child: setpgid(0, 0)
    WA_SPAWN_STAGE_DEATH_SIGNAL = 4,    // child: prctl(PR_SET_PDEATHSIG)
    WA_SPAWN_STAGE_PARENT_GONE = 5,     // child: the parent died before the child was set up
    WA_SPAWN_STAGE_STDIO = 6,           // child: /dev/null on stdin, the log on stdout/stderr
    WA_SPAWN_STAGE_WORKING_DIRECTORY = 7, // child: chdir
    WA_SPAWN_STAGE_EXEC = 8,            // child: execve
    WA_SPAWN_STAGE_CREDENTIALS = 9,     // child: setgroups/setgid/setuid to the requested user
    WA_SPAWN_STAGE_NETWORK_NAMESPACE = 10, // child: open + setns(CLONE_NEWNET) of the requested namespace
} wa_spawn_stage;

/// Everything the child needs, prepared by the parent before fork (the child may not allocate).
typedef struct wa_spawn_request {
    const char *executable;          // path handed to execve as is
    char *const *argv;               // NULL-terminated
    char *const *envp;               // NULL-terminated
    const char *working_directory;   // NULL keeps the parent's
    int log_fd;                      // receives stdout and stderr; the caller keeps ownership
    pid_t expected_parent;           // getpid() of the caller, re-checked in the child
    int switch_user;                 // 1: become uid/gid below before exec (a root runner starting PostgreSQL)
    uid_t uid;
    gid_t gid;
    const char *network_namespace;   // NULL keeps the parent's; else a file such as /run/netns/NAME
} wa_spawn_request;

/// Forks and execs `request`; returns the child's pid, or -errno with `*failed_stage` set.
/// On failure after fork the child has already been reaped, so no zombie is left behind.
pid_t wa_spawn(const wa_spawn_request *request, int *failed_stage);

/// pidfd_open(2): a descriptor that becomes readable when `pid` exits; -errno on failure.
int wa_pidfd_open(pid_t pid);

/// PR_SET_CHILD_SUBREAPER for the calling process; 0 or -errno.
int wa_set_child_subreaper(int enabled);

/// 1 when `pid` (a child of the caller) has exited and awaits reaping, 0 if not, -errno on error.
/// Uses WNOWAIT, so the child stays a zombie and its pid and process group cannot be reused yet.
int wa_child_has_exited(pid_t pid);

/// A close-on-exec, non-blocking pipe used to wake a poll loop; 0 or -errno.
int wa_wake_pipe(int fds[2]);

/// Moves the calling *thread* into the network namespace at `path` (setns(2), CLONE_NEWNET);
/// sockets it opens afterwards live there. 0 or -errno.
int wa_enter_network_namespace(const char *path);

/// The inode of the calling thread's network namespace (/proc/thread-self/ns/net), or 0.
unsigned long wa_current_network_namespace(void);

/// The inode of the namespace file at `path`, or 0.
unsigned long wa_network_namespace_inode(const char *path);

#ifdef __cplusplus
}
#endif

#endif
