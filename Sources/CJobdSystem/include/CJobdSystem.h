// Linux calls that Swift's Glibc module leaves out (GNU extensions, variadic functions, packed structs) or
// that must run in a vfork child, where no Swift code may run. Every function returns 0 or a positive
// errno value unless its comment says otherwise; none of them reads or writes Swift state.
#ifndef CJOBD_SYSTEM_H
#define CJOBD_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

/// What `jobd_spawn` needs to start one job process.
struct jobd_spawn_request {
    /// The command: an absolute path, a path relative to the working directory (it holds a '/'), or a bare
    /// name, looked up on `search_path` by the child itself, as the job's owner.
    const char *path;
    /// Where a bare name is looked up (the job's PATH); NULL: /usr/local/bin:/usr/bin:/bin.
    const char *search_path;
    /// NULL-terminated argument vector.
    char *const *argv;
    /// NULL-terminated environment.
    char *const *envp;
    /// Working directory; NULL: the owner's home directory, else /.
    const char *cwd;
    /// File descriptors the child gets as 0, 1 and 2 (-1: /dev/null for stdin).
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// A descriptor the child gets as 3 (a handler process's result pipe), or -1.
    int extra_fd;
    /// Run as this uid/gid with the user's supplementary groups; -1 keeps the daemon's identity.
    int64_t uid;
    int64_t gid;
    /// Send the child SIGKILL when the spawning thread dies (PR_SET_PDEATHSIG).
    int kill_with_parent;
};

/// Starts a process in a new session and process group (its pid is both ids) with default signal dispositions
/// and an empty signal mask, as the request's user from its first step. Returns 0 and sets *pid, or the
/// errno of the step that failed in the child (chdir, setuid, execve, ...), the step in *failed_step and
/// the path concerned in `failed_path`; in that case the child has already been reaped. Blocks the calling
/// thread until the child execs (at most ~2 s: a watchdog kills a child that does not get there).
int jobd_spawn(const struct jobd_spawn_request *request, pid_t *pid, int *failed_step, char *failed_path,
               size_t failed_path_size);

/// The steps `jobd_spawn` reports in `failed_step` that are not a system call's failure.
enum {
    /// The watchdog killed a child that never reached execve.
    JOBD_STEP_STUCK = 8,
    /// No candidate of the search exists for the owner.
    JOBD_STEP_NOT_FOUND = 9,
    /// The command exists but the owner may not execute it.
    JOBD_STEP_NOT_EXECUTABLE = 10,
    /// The command is a directory.
    JOBD_STEP_IS_DIRECTORY = 11,
    /// chdir into the working directory failed.
    JOBD_STEP_CHDIR = 6,
};

/// Process `pid`'s group, real uid and start time (from /proc/PID/stat and status). Returns 0, or -EIO when it is gone or unreadable.
int jobd_process_identity(pid_t pid, int32_t *pgrp, int64_t *uid, long long *start);

/// Whether process `pid` is alive: it exists and is not a zombie (one that has exited and waits for its
/// parent, or init, to reap it). Returns 1, 0, or 0 when /proc cannot say. `*pgrp` is its group.
int jobd_process_alive(pid_t pid, int32_t *pgrp);

/// The start time of process `pid` (field 22 of /proc/PID/stat, in clock ticks since boot), or -1: with
/// the pid it names one process for good, where a pid alone may be reused.
long long jobd_process_start_time(pid_t pid);

/// Names the step reported by `jobd_spawn` in `failed_step`.
const char *jobd_spawn_step_name(int step);

/// A memfd (close-on-exec) holding `bytes`, read from its start: a handler process's stdin. Returns the fd
/// or -errno.
int jobd_memfd_with(const void *bytes, size_t length);

/// pidfd_open(2). Returns the fd or -errno.
int jobd_pidfd_open(pid_t pid);

/// pipe2(O_CLOEXEC); the read end is also O_NONBLOCK when `nonblocking_read` is set.
int jobd_pipe(int fds[2], int nonblocking_read);

/// epoll_create1(EPOLL_CLOEXEC). Returns the fd or -errno.
int jobd_epoll_create(void);

/// Registers `fd` for input readiness with an opaque token.
int jobd_epoll_add(int epfd, int fd, uint64_t token);

/// Removes `fd` from the set.
int jobd_epoll_remove(int epfd, int fd);

/// One ready descriptor, unpacked (struct epoll_event is packed on x86_64, which Swift cannot import well).
struct jobd_ready {
    uint64_t token;
    uint32_t events;
};

/// epoll_wait(2) into an unpacked array. Returns the count, or -errno.
int jobd_epoll_wait(int epfd, struct jobd_ready *ready, int capacity, int timeout_ms);

/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK). Returns the fd or -errno.
int jobd_eventfd(void);

/// Adds one to an eventfd (wakes its reader).
void jobd_eventfd_signal(int fd);

/// Resets an eventfd to zero.
void jobd_eventfd_drain(int fd);

/// The outcome of one reaped child.
struct jobd_exit {
    /// Exit code when `signal` is 0.
    int exit_code;
    /// The signal that killed it, or 0.
    int signal;
    /// CPU time of the child and every descendant it reaped, in microseconds.
    int64_t user_usec;
    int64_t system_usec;
    /// Peak resident set size, in bytes.
    int64_t max_rss_bytes;
};

/// wait4(pid, WNOHANG) with rusage. Returns 1 if reaped, 0 if still running, or -errno.
int jobd_reap(pid_t pid, struct jobd_exit *exit);

/// waitpid(pid, 0), retried on EINTR: reaps a child just killed, whose outcome nobody wants.
void jobd_reap_blocking(pid_t pid);

/// kill(-pgid, signal): the whole process group. Returns 0 or errno.
int jobd_kill_group(pid_t pgid, int signal);

/// flock(LOCK_EX | LOCK_NB) on a file opened (created) at `path`. Returns the fd, or -errno
/// (-EWOULDBLOCK when another process holds it).
int jobd_lock_file(const char *path);

/// Raises the soft RLIMIT_NOFILE to the hard one (getrlimit/setrlimit) and remembers the old soft limit,
/// which `jobd_spawn` restores in every job it starts. Sets the soft limit before and after; returns 0 or errno.
int jobd_raise_open_file_limit(uint64_t *soft_before, uint64_t *soft_now);

/// The number of CPUs this process may run on (sched_getaffinity), at least 1.
int jobd_available_cpus(void);

/// Names the calling thread (at most 15 bytes), as `ps -L` and `perf` show it.
void jobd_set_thread_name(const char *name);

/// What `jobd_open_read_as` returns (negated) for a path that is neither a regular file nor a directory.
#define JOBD_NOT_REGULAR 10001

/// Opens the regular file `path` read-only as uid/gid and that user's groups (uid < 0: as we are), in a
/// short-lived child that has exactly that user's rights and no capability of ours. Blocks the calling
/// thread until the child is done (at most ~2 s, then -ETIMEDOUT). Returns the fd, or -errno
/// (-JOBD_NOT_REGULAR for a FIFO, socket or device, which are refused without blocking).
int jobd_open_read_as(const char *path, long long uid, long long gid);

/// What `jobd_probe_executable_as` found at a path.
enum {
    /// A file this user may execute.
    JOBD_PROBE_EXECUTABLE = 0,
    /// Nothing this user can see: missing, or behind a directory they cannot search.
    JOBD_PROBE_MISSING = 1,
    /// A directory.
    JOBD_PROBE_DIRECTORY = 2,
    /// A file this user may not execute.
    JOBD_PROBE_NOT_EXECUTABLE = 3,
};

/// Finds what `execve` would run for `command` as uid/gid and that user's groups (uid < 0: as we are): a
/// name with a '/' is that path (relative to `cwd`), a bare name the first executable candidate on
/// `search_path` (NULL: /usr/local/bin:/usr/bin:/bin). Each check runs in a child like
/// `jobd_open_read_as`'s. Returns a JOBD_PROBE_* value with the path found (or the first one refused) in
/// `resolved`, or -errno when the identity could not be taken or the child did not finish in time.
int jobd_resolve_executable_as(const char *command, const char *search_path, const char *cwd, long long uid,
                               long long gid, char *resolved, size_t resolved_size);

/// Sends one datagram `message` to the Unix socket `address` (sd_notify(3)'s $NOTIFY_SOCKET): a path, or an
/// abstract address when it starts with '@'. Opens and closes its own socket each time, so nothing is held
/// open that a job could inherit. Returns 0 or errno.
int jobd_notify_send(const char *address, const char *message, size_t length);

/// Whether `fd` is a listening stream socket of the AF_UNIX family, as socket activation passes it
/// (sd_is_socket_unix(3)). Returns 1, 0, or -errno when fd is not open.
int jobd_is_listening_unix_socket(int fd);

/// Sets FD_CLOEXEC on `fd`, so an adopted socket does not leak into jobs. Returns 0 or errno.
int jobd_set_cloexec(int fd);

/// fstat(2) of `fd`: its device and inode (for $JOURNAL_STREAM). Returns 0 or errno.
int jobd_fd_identity(int fd, uint64_t *device, uint64_t *inode);

// MARK: - Sampling a job's process tree (procstat.c, issue 10)

/// One process of a watched group, from one read of /proc/PID/stat.
struct jobd_proc_sample {
    int32_t pid;
    /// Field 5: the process group (a job's pid is its group's id).
    int32_t pgrp;
    /// Field 3: 'R' running or runnable, 'S' sleeping, 'D' disk wait, 'Z' zombie, …
    char state;
    /// Field 20.
    int32_t threads;
    /// Fields 14 + 15: utime + stime of the live process, in clock ticks.
    int64_t ticks;
    /// Field 24: resident set, in pages.
    int64_t rss_pages;
};

/// One pass over /proc: every process whose group is in `pgids` (sorted ascending, `count` of them)
/// goes into `out`, up to `capacity`. Returns how many were found (possibly more than `capacity`), or
/// -errno when /proc cannot be read.
int jobd_scan_groups(const int32_t *pgids, int count, struct jobd_proc_sample *out, int capacity);

/// Reads /proc/PID/stat of one process into `out`. Returns 0, or -1 when it is gone or unreadable.
int jobd_scan_process(int32_t pid, struct jobd_proc_sample *out);

/// The scheduler statistics of one task: /proc/PID/task/TID/schedstat.
struct jobd_task_stat {
    int32_t tid;
    /// Field 1: time on a CPU, in ns.
    int64_t run_ns;
    /// Field 2: time runnable but waiting on a run queue, in ns.
    int64_t wait_ns;
    /// `voluntary_ctxt_switches` of its status: it blocked (sleep, I/O, a lock).
    int64_t voluntary;
    /// `nonvoluntary_ctxt_switches`: it was preempted while it could still run.
    int64_t involuntary;
};

/// Reads every task's schedstat and context-switch counts of process `pid` (its threads): /proc/PID/
/// schedstat and status when `threads` is 1, else those of each entry of /proc/PID/task. Returns how
/// many (at most `capacity`), or -errno.
int jobd_read_task_stats(int32_t pid, int32_t threads, struct jobd_task_stat *out, int capacity);

/// Gives free heap memory back to the kernel (glibc's malloc_trim over every arena). Returns 1 if any was.
int jobd_trim_heap(void);

#endif
