#define _GNU_SOURCE
#include "CJobdSystem.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// The soft RLIMIT_NOFILE jobd was started with, restored in every job (RLIM_INFINITY: leave it alone).
static rlim_t job_open_file_soft_limit = RLIM_INFINITY;

int jobd_raise_open_file_limit(uint64_t *soft_before, uint64_t *soft_now) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return errno;
    *soft_before = limit.rlim_cur;
    *soft_now = limit.rlim_cur;
    job_open_file_soft_limit = limit.rlim_cur;
    if (limit.rlim_cur >= limit.rlim_max) return 0;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return errno;
    *soft_now = limit.rlim_cur;
    return 0;
}

enum { STEP_NONE, STEP_PDEATHSIG, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID, STEP_DUP, STEP_CHDIR, STEP_EXEC, STEP_STUCK };

const char *jobd_spawn_step_name(int step) {
    switch (step) {
    case STEP_PDEATHSIG: return "prctl(PR_SET_PDEATHSIG)";
    case STEP_SETGROUPS: return "setgroups";
    case STEP_SETGID: return "setgid";
    case STEP_SETUID: return "setuid";
    case STEP_DUP: return "dup2";
    case STEP_CHDIR: return "chdir";
    case STEP_EXEC: return "execve";
    case STEP_STUCK: return "the process did not reach execve in time (it was stopped, or its working directory did not answer), so it was killed";
    default: return "spawn";
    }
}

// MARK: - The spawn watchdog
//
// vfork suspends the spawning thread (the reactor, which reaps every job) until the child execs or exits.
// Once the child has switched to the job's user, that user may stop it (kill -STOP), and a chdir into a
// working directory on a mount that never answers never returns: either would freeze the reactor for
// everyone (found in review, issue 9). A watchdog thread kills a child that has not reached execve within
// SPAWN_DEADLINE_NS; SIGKILL ends even a stopped process, and the spawning thread then carries on.
// The child publishes its pid through shared memory (vfork shares it); the mutex, taken only by the
// watchdog and by the parent after vfork returns (never by the child), makes sure the watchdog can only
// kill the child of the spawn still in progress.

#define SPAWN_DEADLINE_NS (2LL * 1000 * 1000 * 1000)

static pthread_mutex_t spawn_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic pid_t spawn_watch_pid = 0;
static _Atomic long long spawn_watch_since = 0;
static _Atomic int spawn_watch_killed = 0;
static pthread_once_t spawn_watch_once = PTHREAD_ONCE_INIT;

static long long monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void *spawn_watchdog(void *unused) {
    (void)unused;
    prctl(PR_SET_NAME, "jobd-spawnwatch", 0, 0, 0);
    for (;;) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 250 * 1000 * 1000};
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&spawn_watch_lock);
        pid_t pid = atomic_load(&spawn_watch_pid);
        long long since = atomic_load(&spawn_watch_since);
        if (pid > 0 && since > 0 && monotonic_ns() - since > SPAWN_DEADLINE_NS) {
            atomic_store(&spawn_watch_killed, 1);
            kill(pid, SIGKILL);
        }
        pthread_mutex_unlock(&spawn_watch_lock);
    }
    return NULL;
}

static void start_spawn_watchdog(void) {
    pthread_t thread;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);  // no signal of the daemon's is handled there
    if (pthread_create(&thread, NULL, spawn_watchdog, NULL) == 0) pthread_detach(thread);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

// Why vfork and not posix_spawn: the child must set PR_SET_PDEATHSIG (and may drop to the submitter's
// uid with its groups), which posix_spawn has no attribute for. vfork shares our memory and suspends only
// the calling thread until exec, so it costs what posix_spawn costs (no page-table copy, unlike fork in a
// large multi-threaded parent). The child only calls async-signal-safe functions and reports a failure
// through the two volatile variables it shares with us.
int jobd_spawn(const struct jobd_spawn_request *request, pid_t *pid_out, int *failed_step) {
    gid_t groups[256];
    int ngroups = 0;
    if (request->uid >= 0) {
        // Look up supplementary groups here: getpwuid_r/getgrouplist are not safe in the vfork child.
        struct passwd pw, *found = NULL;
        char buffer[4096];
        if (getpwuid_r((uid_t)request->uid, &pw, buffer, sizeof buffer, &found) == 0 && found != NULL) {
            ngroups = (int)(sizeof groups / sizeof groups[0]);
            if (getgrouplist(found->pw_name, (gid_t)request->gid, groups, &ngroups) < 0) {
                ngroups = 0;
            }
        }
        if (ngroups == 0) {
            groups[0] = (gid_t)request->gid;
            ngroups = 1;
        }
    }

    int devnull = -1;
    if (request->stdin_fd < 0) {
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0) return errno;
    }
    int stdin_fd = request->stdin_fd < 0 ? devnull : request->stdin_fd;
    // For the fallback close loop when close_range(2) is missing (Linux < 5.9): every fd is below the limit.
    // Read here, since the child may only make async-signal-safe calls.
    struct rlimit fd_limit = {.rlim_cur = 1024};
    getrlimit(RLIMIT_NOFILE, &fd_limit);
    int highest_fd = fd_limit.rlim_cur == RLIM_INFINITY || fd_limit.rlim_cur > 1048576 ? 1048576 : (int)fd_limit.rlim_cur;
    // A job gets the soft limit jobd was started with, not the one jobd raised for itself: programs that
    // still use select() break on descriptors past 1024.
    struct rlimit job_fd_limit = {.rlim_cur = job_open_file_soft_limit, .rlim_max = fd_limit.rlim_max};
    int restore_fd_limit = job_open_file_soft_limit != RLIM_INFINITY && job_open_file_soft_limit < fd_limit.rlim_cur;

    sigset_t all, previous;
    sigfillset(&all);
    // Blocked until the child has reset its handlers: a Swift signal handler must never run in the child.
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t parent = getpid();

    volatile int child_errno = 0;
    volatile int child_step = STEP_NONE;
    pthread_once(&spawn_watch_once, start_spawn_watchdog);
    atomic_store(&spawn_watch_killed, 0);
    atomic_store(&spawn_watch_pid, 0);
    atomic_store(&spawn_watch_since, monotonic_ns());
    pid_t pid = vfork();
    if (pid == 0) {
        atomic_store(&spawn_watch_pid, getpid());
        // First of all, give up the daemon's descriptors: until then this child holds a copy of every one of
        // them, the database lock included (flock belongs to the open file description), and a jobd
        // restarted after a kill -9 would find the lock held by a process that is about to exec `sleep`.
        if (dup2(stdin_fd, 0) < 0 || dup2(request->stdout_fd, 1) < 0 || dup2(request->stderr_fd, 2) < 0) {
            child_step = STEP_DUP;
            goto fail;
        }
        // Nothing of the daemon's (database, sockets, other jobs' pipes) may leak into a job.
        if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
            for (int fd = 3; fd < highest_fd; fd++) close(fd);
        }
        if (restore_fd_limit) setrlimit(RLIMIT_NOFILE, &job_fd_limit);
        for (int s = 1; s < NSIG; s++) {
            if (s == SIGKILL || s == SIGSTOP) continue;
            signal(s, SIG_DFL);  // NIO ignores SIGPIPE; a job must not inherit that.
        }
        setpgid(0, 0);
        // The job's groups and gid now, and its uid as the file-system uid only: chdir and execve's lookup
        // then run with the job's permissions, while the real and saved uid stay root's, so the job's user
        // cannot signal this child yet (kill(2) checks those). A child of theirs stopped before execve
        // would hold the reactor (vfork) for everyone; the full switch to the uid comes last, a few
        // instructions before execve (found in review, issue 9).
        if (request->uid >= 0) {
            if (setgroups((size_t)ngroups, groups) != 0) { child_step = STEP_SETGROUPS; goto fail; }
            if (setresgid((gid_t)request->gid, (gid_t)request->gid, (gid_t)request->gid) != 0) {
                child_step = STEP_SETGID;
                goto fail;
            }
            setfsuid((uid_t)request->uid);
            if (setfsuid((uid_t)-1) != (int)request->uid) { child_step = STEP_SETUID; goto fail; }
        }
        // Jobs create files others may read, as a login shell's would; the daemon's own 077 is for its files.
        umask(022);
        if (request->cwd != NULL && chdir(request->cwd) != 0) { child_step = STEP_CHDIR; goto fail; }
        if (request->uid >= 0) {
            if (setresuid((uid_t)request->uid, (uid_t)request->uid, (uid_t)request->uid) != 0) {
                child_step = STEP_SETUID;
                goto fail;
            }
        }
        // After the last credential change, never before: the kernel clears PR_SET_PDEATHSIG when a process
        // changes its uid or gid (prctl(2)), and a job of another user would then outlive a killed jobd and
        // run a second time after its restart.
        if (request->kill_with_parent) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) { child_step = STEP_PDEATHSIG; goto fail; }
            if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
        }
        sigset_t empty;
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        execve(request->path, request->argv, request->envp);
        child_step = STEP_EXEC;
    fail:
        child_errno = errno;
        _exit(127);
    }
    int spawn_errno = errno;
    pthread_mutex_lock(&spawn_watch_lock);
    atomic_store(&spawn_watch_since, 0);
    atomic_store(&spawn_watch_pid, 0);
    int killed_by_watchdog = atomic_load(&spawn_watch_killed);
    pthread_mutex_unlock(&spawn_watch_lock);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (devnull >= 0) close(devnull);
    if (pid < 0) {
        if (failed_step) *failed_step = STEP_NONE;
        return spawn_errno;
    }
    if (child_errno != 0 || killed_by_watchdog) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (failed_step) *failed_step = killed_by_watchdog ? STEP_STUCK : child_step;
        return killed_by_watchdog ? ETIMEDOUT : child_errno;
    }
    *pid_out = pid;
    return 0;
}

int jobd_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int jobd_pipe(int fds[2], int nonblocking_read) {
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
    if (nonblocking_read) fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    return 0;
}

int jobd_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int jobd_epoll_add(int epfd, int fd, uint64_t token) {
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = token};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : errno;
}

int jobd_epoll_remove(int epfd, int fd) {
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : errno;
}

int jobd_epoll_wait(int epfd, struct jobd_ready *ready, int capacity, int timeout_ms) {
    struct epoll_event events[256];
    if (capacity > 256) capacity = 256;
    int n = epoll_wait(epfd, events, capacity, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        ready[i].token = events[i].data.u64;
        ready[i].events = events[i].events;
    }
    return n;
}

int jobd_eventfd(void) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

void jobd_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t ignored = write(fd, &one, sizeof one);
    (void)ignored;
}

void jobd_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t ignored = read(fd, &value, sizeof value);
    (void)ignored;
}

int jobd_reap(pid_t pid, struct jobd_exit *exit) {
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    pid_t result;
    do {
        result = wait4(pid, &status, WNOHANG, &usage);
    } while (result < 0 && errno == EINTR);
    if (result < 0) return -errno;
    if (result == 0) return 0;
    exit->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    exit->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    exit->user_usec = (int64_t)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec;
    exit->system_usec = (int64_t)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
    exit->max_rss_bytes = (int64_t)usage.ru_maxrss * 1024;
    return 1;
}

void jobd_reap_blocking(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
}

int jobd_kill_group(pid_t pgid, int signal) {
    return kill(-pgid, signal) == 0 ? 0 : errno;
}

int jobd_lock_file(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    return fd;
}

int jobd_available_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) return count;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

void jobd_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

// The file-system identity of one thread, switched to a user's and back: setfsuid/setfsgid and the raw
// setgroups syscall change the calling thread's credentials only (glibc's setgroups() would change every
// thread's), so the daemon's other threads keep root's rights meanwhile. A switch away from fsuid 0 also
// drops CAP_DAC_OVERRIDE and the other file capabilities from this thread, so the kernel checks permissions
// exactly as it would for that user.
struct fs_identity {
    gid_t groups[256];
    int ngroups;
    int fsuid;
    int fsgid;
};

static int switch_fs_identity(long long uid, long long gid, struct fs_identity *saved) {
    gid_t groups[256];
    int ngroups = 0;
    struct passwd pw, *found = NULL;
    char buffer[4096];
    if (getpwuid_r((uid_t)uid, &pw, buffer, sizeof buffer, &found) == 0 && found != NULL) {
        ngroups = (int)(sizeof groups / sizeof groups[0]);
        if (getgrouplist(found->pw_name, (gid_t)gid, groups, &ngroups) < 0) ngroups = 0;
    }
    if (ngroups == 0) {
        groups[0] = (gid_t)gid;
        ngroups = 1;
    }
    saved->ngroups = getgroups((int)(sizeof saved->groups / sizeof saved->groups[0]), saved->groups);
    if (saved->ngroups < 0) return errno;
    if (syscall(SYS_setgroups, (size_t)ngroups, groups) != 0) return errno;
    saved->fsgid = setfsgid((gid_t)gid);
    saved->fsuid = setfsuid((uid_t)uid);
    return 0;
}

static void restore_fs_identity(const struct fs_identity *saved) {
    setfsuid((uid_t)saved->fsuid);
    setfsgid((gid_t)saved->fsgid);
    syscall(SYS_setgroups, (size_t)saved->ngroups, saved->groups);
}

// Opens `path` read-only with the file permissions of uid/gid and that user's supplementary groups.
// Non-blocking, then only a regular file: open() of a FIFO with no writer (or a device) blocks forever, and
// a handler in the daemon runs on a Dispatch thread a stop cannot free. A user who submits such jobs by the
// hundred would otherwise take every thread and freeze the daemon (found in review, issue 9).
static int open_regular_file(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return -errno;
    struct stat info;
    if (fstat(fd, &info) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return S_ISDIR(info.st_mode) ? -EISDIR : -JOBD_NOT_REGULAR;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

int jobd_open_read_as(const char *path, long long uid, long long gid) {
    if (uid < 0) return open_regular_file(path);
    struct fs_identity saved;
    int switch_error = switch_fs_identity(uid, gid, &saved);
    if (switch_error != 0) return -switch_error;
    int fd = open_regular_file(path);
    restore_fs_identity(&saved);
    return fd;
}

int jobd_probe_executable_as(const char *path, long long uid, long long gid) {
    struct fs_identity saved;
    if (uid >= 0) {
        int switch_error = switch_fs_identity(uid, gid, &saved);
        if (switch_error != 0) return -switch_error;
    }
    struct stat info;
    int result;
    if (stat(path, &info) != 0) {
        result = JOBD_PROBE_MISSING;  // missing, or in a directory this user cannot search: the same to them
    } else if (S_ISDIR(info.st_mode)) {
        result = JOBD_PROBE_DIRECTORY;
    } else {
        // AT_EACCESS: check with the effective (here: file-system) ids; plain access() uses the real uid,
        // which is root's. (Before Linux 5.8 glibc emulates AT_EACCESS with the effective uid, root's: a
        // file with any x bit then passes and execve as the owner says "Permission denied" instead; the
        // stat above already ran as the owner, so that reveals nothing they could not see.)
        result = faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0 ? JOBD_PROBE_EXECUTABLE : JOBD_PROBE_NOT_EXECUTABLE;
    }
    if (uid >= 0) restore_fs_identity(&saved);
    return result;
}

int jobd_notify_send(const char *address, const char *message, size_t length) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t address_length = strlen(address);
    if (address_length == 0 || address_length >= sizeof sa.sun_path) return EINVAL;
    memcpy(sa.sun_path, address, address_length);
    // An abstract address is written with a leading '@' and starts with a NUL byte on the wire.
    if (sa.sun_path[0] == '@') sa.sun_path[0] = 0;
    socklen_t sa_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + address_length);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    ssize_t sent;
    do {
        sent = sendto(fd, message, length, MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_length);
    } while (sent < 0 && errno == EINTR);
    int error = sent < 0 ? errno : 0;
    close(fd);
    return error;
}

int jobd_is_listening_unix_socket(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    if (!S_ISSOCK(st.st_mode)) return 0;
    int value = 0;
    socklen_t length = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &length) < 0) return -errno;
    if (value != AF_UNIX) return 0;
    length = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &length) < 0) return -errno;
    if (value != SOCK_STREAM) return 0;
    length = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) < 0) return -errno;
    return value ? 1 : 0;
}

int jobd_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return errno;
    if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return errno;
    return 0;
}

int jobd_fd_identity(int fd, uint64_t *device, uint64_t *inode) {
    struct stat st;
    if (fstat(fd, &st) < 0) return errno;
    *device = (uint64_t)st.st_dev;
    *inode = (uint64_t)st.st_ino;
    return 0;
}
