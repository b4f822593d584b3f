#define _GNU_SOURCE
#include "CJobdSystem.h"
#include "proc_files.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
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
#include <sys/mman.h>
#include <stdio.h>
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

enum {
    STEP_NONE, STEP_PDEATHSIG, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID, STEP_DUP, STEP_CHDIR, STEP_EXEC, STEP_STUCK,
    STEP_NOT_FOUND, STEP_NOT_EXECUTABLE, STEP_IS_DIRECTORY
};

const char *jobd_spawn_step_name(int step) {
    switch (step) {
    case STEP_PDEATHSIG: return "prctl(PR_SET_PDEATHSIG)";
    case STEP_SETGROUPS: return "setgroups";
    case STEP_SETGID: return "setgid";
    case STEP_SETUID: return "setuid";
    case STEP_DUP: return "dup2";
    case STEP_CHDIR: return "chdir";
    case STEP_EXEC: return "execve";
    case STEP_STUCK: return "the process did not reach execve in time (it was stopped, or a file system it needed did not answer), so it was killed";
    case STEP_NOT_FOUND: return "command not found";
    case STEP_NOT_EXECUTABLE: return "not executable";
    case STEP_IS_DIRECTORY: return "is a directory, not a command";
    default: return "spawn";
    }
}

// MARK: - The watchdog
//
// A spawn (vfork) suspends the thread that makes it until the child execs or exits, and an operation run
// as a job's owner (below) suspends its thread until the child doing it exits. Once a child has the user's
// credentials, that user may stop it (kill -STOP), and a chdir, an execve or an open on a mount that never
// answers (a FUSE file system of theirs, reached through /proc/PID/root) never returns. Each such call
// runs on a thread of its own (OwnerThreads, in Swift), so it holds nobody else's work; the watchdog
// kills a child still there after WATCH_DEADLINE_NS so that thread is not lost for good either. SIGKILL
// ends a stopped process and a FUSE wait alike. Several calls run at once, each in a slot of its own; the
// child publishes its pid in its slot (vfork and CLONE_VM share our memory), and the lock, taken only by
// the watchdog and by the calling thread once the child is done (never by the child), makes sure the
// watchdog kills only a child whose call is still in progress.

#define WATCH_DEADLINE_NS (2LL * 1000 * 1000 * 1000)
#define WATCH_SLOTS 256

struct watch_slot {
    _Atomic int in_use;
    _Atomic pid_t pid;
    _Atomic long long since;
    _Atomic int killed;
};

static struct watch_slot watch_slots[WATCH_SLOTS];
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t watchdog_once = PTHREAD_ONCE_INIT;

static long long monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void *watchdog(void *unused) {
    (void)unused;
    prctl(PR_SET_NAME, "jobd-watchdog", 0, 0, 0);
    for (;;) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 250 * 1000 * 1000};
        nanosleep(&pause, NULL);
        long long now = monotonic_ns();
        pthread_mutex_lock(&watch_lock);
        for (int i = 0; i < WATCH_SLOTS; i++) {
            struct watch_slot *slot = &watch_slots[i];
            if (!atomic_load(&slot->in_use)) continue;
            pid_t pid = atomic_load(&slot->pid);
            long long since = atomic_load(&slot->since);
            if (pid > 0 && since > 0 && now - since > WATCH_DEADLINE_NS) {
                atomic_store(&slot->killed, 1);
                kill(pid, SIGKILL);
            }
        }
        pthread_mutex_unlock(&watch_lock);
    }
    return NULL;
}

static void start_watchdog(void) {
    pthread_t thread;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);  // no signal of the daemon's is handled there
    if (pthread_create(&thread, NULL, watchdog, NULL) == 0) pthread_detach(thread);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

/// Takes a free slot for one call, or NULL when all are taken (the call then runs unwatched).
static struct watch_slot *watch_begin(void) {
    pthread_once(&watchdog_once, start_watchdog);
    struct watch_slot *found = NULL;
    pthread_mutex_lock(&watch_lock);
    for (int i = 0; i < WATCH_SLOTS && !found; i++) {
        if (atomic_load(&watch_slots[i].in_use)) continue;
        found = &watch_slots[i];
        atomic_store(&found->pid, 0);
        atomic_store(&found->killed, 0);
        atomic_store(&found->since, monotonic_ns());
        atomic_store(&found->in_use, 1);
    }
    pthread_mutex_unlock(&watch_lock);
    return found;
}

/// The call is over: the slot is freed. Returns whether the watchdog killed its child.
static int watch_end(struct watch_slot *slot) {
    if (!slot) return 0;
    pthread_mutex_lock(&watch_lock);
    int killed = atomic_load(&slot->killed);
    atomic_store(&slot->since, 0);
    atomic_store(&slot->pid, 0);
    atomic_store(&slot->in_use, 0);
    pthread_mutex_unlock(&watch_lock);
    return killed;
}

// MARK: - Whom a child becomes

/// A user's groups and home directory, looked up before a child is started: getpwuid_r and getgrouplist
/// are not safe in a vfork child.
struct owner_identity {
    uid_t uid;
    gid_t gid;
    gid_t groups[256];
    int ngroups;
    /// Their home directory from the passwd database ("" if none): where a job without a cwd starts.
    char home[1024];
};

static void lookup_identity(long long uid, long long gid, struct owner_identity *identity) {
    identity->uid = (uid_t)uid;
    identity->gid = (gid_t)gid;
    identity->ngroups = 0;
    identity->home[0] = 0;
    struct passwd pw, *found = NULL;
    char buffer[4096];
    if (getpwuid_r((uid_t)uid, &pw, buffer, sizeof buffer, &found) == 0 && found != NULL) {
        if (found->pw_dir && strlen(found->pw_dir) < sizeof identity->home) strcpy(identity->home, found->pw_dir);
        int count = (int)(sizeof identity->groups / sizeof identity->groups[0]);
        if (getgrouplist(found->pw_name, (gid_t)gid, identity->groups, &count) >= 0) identity->ngroups = count;
    }
    if (identity->ngroups == 0) {
        identity->groups[0] = (gid_t)gid;
        identity->ngroups = 1;
    }
}

/// Takes on the user's groups, gid and uid, real, effective and saved: from here the process has exactly
/// the user's rights and none of root's capabilities (the kernel clears them when every uid leaves 0).
/// Raw system calls: glibc's wrappers would signal every thread of the daemon, whose memory this child
/// shares. Returns 0 or the STEP_* that failed (errno set).
static int become(const struct owner_identity *identity) {
    if (syscall(SYS_setgroups, (size_t)identity->ngroups, identity->groups) != 0) return STEP_SETGROUPS;
    if (syscall(SYS_setresgid, identity->gid, identity->gid, identity->gid) != 0) return STEP_SETGID;
    if (syscall(SYS_setresuid, identity->uid, identity->uid, identity->uid) != 0) return STEP_SETUID;
    return 0;
}

// MARK: - Spawning a job

/// Copies a NUL-terminated string into a fixed buffer (async-signal-safe, unlike snprintf).
static void copy_text(char *to, size_t size, const char *from) {
    size_t i = 0;
    for (; from[i] != 0 && i + 1 < size; i++) to[i] = from[i];
    to[i] = 0;
}

/// What a failed execve of a candidate means for the search: the step to report, or 0 to keep looking.
static int exec_failure_step(const char *candidate) {
    switch (errno) {
    case ENOENT: case ENOTDIR: case ESTALE: case ENAMETOOLONG: case ELOOP: return STEP_NOT_FOUND;
    case EACCES: {
        // A file behind a directory the owner cannot search is, to them, not there: the same words as a
        // missing one, so a root daemon reveals nothing they could not see.
        struct stat info;
        if (stat(candidate, &info) != 0) return STEP_NOT_FOUND;
        if (S_ISDIR(info.st_mode)) return STEP_IS_DIRECTORY;
        return STEP_NOT_EXECUTABLE;
    }
    default: return STEP_EXEC;
    }
}

// Why vfork and not posix_spawn: the child must set PR_SET_PDEATHSIG and take the submitter's identity
// with raw calls, which posix_spawn has no attribute for. vfork shares our memory and suspends only the
// calling thread until exec, so it costs what posix_spawn costs (no page-table copy, unlike fork in a
// large multi-threaded parent). The child only calls async-signal-safe functions and reports a failure
// through the volatile variables it shares with us.
//
// The child becomes the job's owner first of all, and only then changes directory and looks the command
// up on PATH: every path of the job is reached with the owner's rights alone, never root's (a directory
// or a /proc/PID/root link the owner cannot follow stops the job as it would stop them).
int jobd_spawn(const struct jobd_spawn_request *request, pid_t *pid_out, int *failed_step, char *failed_path,
               size_t failed_path_size) {
    struct owner_identity identity;
    int switch_user = request->uid >= 0;
    // The owner's home (a job without a cwd starts there, as after a login), looked up for whom the job
    // runs as: the submitter under a root daemon, else this daemon's own user.
    lookup_identity(switch_user ? request->uid : (long long)getuid(), switch_user ? request->gid : (long long)getgid(),
                    &identity);
    if (failed_path && failed_path_size > 0) failed_path[0] = 0;

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
    const char *search_path = request->search_path ? request->search_path : "/usr/local/bin:/usr/bin:/bin";
    int searches = strchr(request->path, '/') == NULL;
    int first_free_fd = request->extra_fd >= 0 ? 4 : 3;

    sigset_t all, previous;
    sigfillset(&all);
    // Blocked until the child has reset its handlers: a Swift signal handler must never run in the child.
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t parent = getpid();

    volatile int child_errno = 0;
    volatile int child_step = STEP_NONE;
    struct watch_slot *slot = watch_begin();
    pid_t pid = vfork();
    if (pid == 0) {
        if (slot) atomic_store(&slot->pid, getpid());
        // First of all, give up the daemon's descriptors: until then this child holds a copy of every one of
        // them, the database lock included (flock belongs to the open file description), and a jobd
        // restarted after a kill -9 would find the lock held by a process that is about to exec `sleep`.
        if (dup2(stdin_fd, 0) < 0 || dup2(request->stdout_fd, 1) < 0 || dup2(request->stderr_fd, 2) < 0
            || (request->extra_fd >= 0 && dup2(request->extra_fd, 3) < 0)) {
            child_step = STEP_DUP;
            goto fail;
        }
        // Nothing of the daemon's (database, sockets, other jobs' pipes) may leak into a job.
        if (syscall(SYS_close_range, first_free_fd, ~0U, 0) != 0) {
            for (int fd = first_free_fd; fd < highest_fd; fd++) close(fd);
        }
        if (restore_fd_limit) setrlimit(RLIMIT_NOFILE, &job_fd_limit);
        for (int s = 1; s < NSIG; s++) {
            if (s == SIGKILL || s == SIGSTOP) continue;
            signal(s, SIG_DFL);  // NIO ignores SIGPIPE; a job must not inherit that.
        }
        // A session of its own, not only a group: a process may join any group of its own session, so a
        // job in jobd's session could setpgid itself into jobd's group, a worker's or another user's job's,
        // and escape its timeout and cancel, hold up the drain, and have its CPU counted against another
        // user's command (found in review, issue 18). A session leader cannot leave its group, and no one
        // can join a group of another session.
        setsid();
        if (switch_user) {
            int step = become(&identity);
            if (step != 0) { child_step = step; goto fail; }
        }
        // After the last credential change, never before: the kernel clears PR_SET_PDEATHSIG when a process
        // changes its uid or gid (prctl(2)), and a job of another user would then outlive a killed jobd.
        if (request->kill_with_parent) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) { child_step = STEP_PDEATHSIG; goto fail; }
            if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
        }
        // Jobs create files others may read, as a login shell's would; the daemon's own 077 is for its files.
        umask(022);
        if (request->cwd != NULL) {
            if (chdir(request->cwd) != 0) {
                child_step = STEP_CHDIR;
                if (failed_path) copy_text(failed_path, failed_path_size, request->cwd);
                goto fail;
            }
        } else if (identity.home[0] == 0 || chdir(identity.home) != 0) {
            // No working directory asked for: the owner's home, as a login would give; else the root.
            if (chdir("/") != 0) { child_step = STEP_CHDIR; goto fail; }
        }
        sigset_t empty;
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        if (!searches) {
            execve(request->path, request->argv, request->envp);
            child_step = exec_failure_step(request->path);
            if (failed_path) copy_text(failed_path, failed_path_size, request->path);
            goto fail;
        }
        // A bare name is looked up on PATH the way a shell does: the first candidate that runs wins; one that
        // exists but may not be run is reported if nothing later runs either.
        char candidate[4096 + 256];
        const char *entry = search_path;
        int denied_step = 0;
        int denied_errno = 0;
        for (;;) {
            const char *end = entry;
            while (*end != 0 && *end != ':') end++;
            size_t length = (size_t)(end - entry);
            size_t name_length = strlen(request->path);
            if (length + name_length + 3 < sizeof candidate) {
                size_t at = 0;
                if (length == 0) candidate[at++] = '.';
                for (size_t i = 0; i < length; i++) candidate[at++] = entry[i];
                candidate[at++] = '/';
                for (size_t i = 0; i < name_length; i++) candidate[at++] = request->path[i];
                candidate[at] = 0;
                execve(candidate, request->argv, request->envp);
                int step = exec_failure_step(candidate);
                if (step != STEP_NOT_FOUND && denied_step == 0) {
                    denied_step = step;
                    denied_errno = errno;
                    if (failed_path) copy_text(failed_path, failed_path_size, candidate);
                }
            }
            if (*end == 0) break;
            entry = end + 1;
        }
        if (denied_step != 0) {
            child_step = denied_step;
            errno = denied_errno;
        } else {
            child_step = STEP_NOT_FOUND;
            errno = ENOENT;
            if (failed_path) copy_text(failed_path, failed_path_size, request->path);
        }
    fail:
        child_errno = errno;
        _exit(127);
    }
    int spawn_errno = errno;
    int killed_by_watchdog = watch_end(slot);
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

// MARK: - Operations as a job's owner
//
// A built-in handler that opens a file for a user, and the command lookup behind a job's learned class,
// must reach paths with that user's rights alone. A thread of the daemon cannot: even with the user's
// file-system ids, it keeps CAP_SYS_PTRACE, which opens another user's /proc/PID/cwd or jobd's own
// /proc/PID/maps (found in review, issue 18). So each such operation runs in a short-lived child that
// becomes the user entirely (`become`) and then makes the one call.
//
// The lookup's child shares our memory (CLONE_VM | CLONE_VFORK, a clone of ~50 µs) and writes the path it
// found there: a stat reveals nothing of a file's content. The open's child must not: the kernel lets a
// process that shares a memory map read that map's /proc/PID/maps and environ without a permission check,
// so a child sharing ours would read jobd's own. It gets a copy (fork-like; the worker that opens files
// is small) and shares only our descriptor table (CLONE_FILES): it opens the file and puts it in place of
// a descriptor we reserved for it.

enum { OWNER_RESOLVE_EXECUTABLE = 2 };

#define OWNER_STACK_BYTES (64 * 1024)

struct owner_operation {
    int kind;
    const char *path;
    /// RESOLVE_EXECUTABLE: the PATH to search for a bare name, the directory a relative one is in, and
    /// where the path found (or refused) is written.
    const char *search_path;
    const char *cwd;
    char *resolved;
    size_t resolved_size;
    const struct owner_identity *identity;
    struct watch_slot *slot;
    /// A JOBD_PROBE_* value, or -errno.
    volatile int result;
};

// Opens `path` read-only, then only a regular file. Non-blocking first: open() of a FIFO with no writer (or
// a device) blocks forever (found in review, issue 9).
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

static int probe_executable(const char *path) {
    struct stat info;
    if (stat(path, &info) != 0) return JOBD_PROBE_MISSING;  // missing, or where this user cannot look
    if (S_ISDIR(info.st_mode)) return JOBD_PROBE_DIRECTORY;
    // AT_EACCESS: with the effective ids, which are the user's here (every id is).
    return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0 ? JOBD_PROBE_EXECUTABLE : JOBD_PROBE_NOT_EXECUTABLE;
}

/// Finds what `execve` would run for `command`, as a shell does: a name with a '/' is that path (relative to
/// `cwd`), a bare name the first executable candidate on `search_path`. Returns a JOBD_PROBE_* value and
/// writes the path found (or the first one refused) to `resolved`.
static int resolve_executable(const char *command, const char *search_path, const char *cwd, char *resolved,
                              size_t size) {
    char candidate[4096 + 256];
    size_t name_length = strlen(command);
    if (strchr(command, '/') != NULL) {
        if (command[0] == '/' || cwd == NULL) {
            copy_text(candidate, sizeof candidate, command);
        } else {
            snprintf(candidate, sizeof candidate, "%s/%s", cwd, command);
        }
        copy_text(resolved, size, candidate);
        return probe_executable(candidate);
    }
    if (search_path == NULL) search_path = "/usr/local/bin:/usr/bin:/bin";
    int refused = JOBD_PROBE_MISSING;
    for (const char *entry = search_path;;) {
        const char *end = entry;
        while (*end != 0 && *end != ':') end++;
        size_t length = (size_t)(end - entry);
        if (length + name_length + 3 < sizeof candidate) {
            snprintf(candidate, sizeof candidate, "%.*s/%s", (int)(length == 0 ? 1 : length), length == 0 ? "." : entry,
                     command);
            int found = probe_executable(candidate);
            if (found == JOBD_PROBE_EXECUTABLE) {
                copy_text(resolved, size, candidate);
                return found;
            }
            if (found != JOBD_PROBE_MISSING && refused == JOBD_PROBE_MISSING) {
                refused = found;
                copy_text(resolved, size, candidate);
            }
        }
        if (*end == 0) break;
        entry = end + 1;
    }
    return refused;
}

static int owner_child(void *argument) {
    struct owner_operation *operation = argument;
    if (operation->slot) atomic_store(&operation->slot->pid, (pid_t)syscall(SYS_getpid));
    if (operation->identity != NULL && become(operation->identity) != 0) {
        operation->result = -errno;
        _exit(1);
    }
    switch (operation->kind) {
    case OWNER_RESOLVE_EXECUTABLE:
        operation->result = resolve_executable(operation->path, operation->search_path, operation->cwd, operation->resolved,
                                               operation->resolved_size);
        break;
    default: operation->result = -EINVAL;
    }
    _exit(0);
}

static int run_as_owner(struct owner_operation operation, long long uid, long long gid) {
    struct owner_identity identity;
    if (uid >= 0) lookup_identity(uid, gid, &identity);
    operation.identity = uid >= 0 ? &identity : NULL;
    operation.slot = NULL;
    operation.result = -EINTR;
    void *stack = mmap(NULL, OWNER_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -errno;
    sigset_t all, previous;
    sigfillset(&all);
    // The child runs with every signal blocked: no handler of the daemon's may run on its stack.
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    operation.slot = watch_begin();
    pid_t pid = clone(owner_child, (char *)stack + OWNER_STACK_BYTES, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD,
                      &operation);
    int clone_errno = errno;
    if (pid > 0) {
        int status;
        while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {}
    }
    int killed = watch_end(operation.slot);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, OWNER_STACK_BYTES);
    if (pid < 0) return -clone_errno;
    if (killed) return -ETIMEDOUT;
    return operation.result;
}

/// What a file-opening child reports as its exit status for a FIFO, socket or device (errno values are
/// below it).
#define OPEN_CHILD_NOT_REGULAR 254

struct open_request {
    const char *path;
    const struct owner_identity *identity;
    /// Our descriptor the child replaces with the file it opened.
    int placeholder;
};

static int open_child(void *argument) {
    struct open_request *request = argument;
    if (become(request->identity) != 0) _exit(errno & 0xff);
    int fd = open_regular_file(request->path);
    if (fd < 0) _exit(-fd == JOBD_NOT_REGULAR ? OPEN_CHILD_NOT_REGULAR : (-fd) & 0xff);
    // The descriptor table is ours: the file takes the reserved number, and its first number goes.
    if (dup3(fd, request->placeholder, O_CLOEXEC) < 0) _exit(errno & 0xff);
    close(fd);
    _exit(0);
}

int jobd_open_read_as(const char *path, long long uid, long long gid) {
    // As ourselves (a daemon that is not root, or a file of the daemon's own): no child needed.
    if (uid < 0) return open_regular_file(path);
    struct owner_identity identity;
    lookup_identity(uid, gid, &identity);
    int placeholder = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (placeholder < 0) return -errno;
    struct open_request request = {.path = path, .identity = &identity, .placeholder = placeholder};
    void *stack = mmap(NULL, OWNER_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int error = errno;
        close(placeholder);
        return -error;
    }
    sigset_t all, previous;
    sigfillset(&all);
    // The child starts with every signal blocked: no handler of ours runs in it.
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    struct watch_slot *slot = watch_begin();
    pid_t pid = clone(open_child, (char *)stack + OWNER_STACK_BYTES, CLONE_FILES | SIGCHLD, &request);
    int clone_errno = errno;
    if (pid > 0 && slot) atomic_store(&slot->pid, pid);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    int status = 0;
    if (pid > 0) {
        while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {}
    }
    int killed = watch_end(slot);
    munmap(stack, OWNER_STACK_BYTES);
    if (pid < 0) {
        close(placeholder);
        return -clone_errno;
    }
    if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) return placeholder;  // the file now
    close(placeholder);
    if (killed || !WIFEXITED(status)) return -ETIMEDOUT;
    return WEXITSTATUS(status) == OPEN_CHILD_NOT_REGULAR ? -JOBD_NOT_REGULAR : -WEXITSTATUS(status);
}

int jobd_resolve_executable_as(const char *command, const char *search_path, const char *cwd, long long uid,
                               long long gid, char *resolved, size_t resolved_size) {
    if (resolved_size > 0) resolved[0] = 0;
    if (uid < 0) return resolve_executable(command, search_path, cwd, resolved, resolved_size);
    return run_as_owner(
        (struct owner_operation){.kind = OWNER_RESOLVE_EXECUTABLE, .path = command, .search_path = search_path,
                                 .cwd = cwd, .resolved = resolved, .resolved_size = resolved_size},
        uid, gid);
}

long long jobd_process_start_time(pid_t pid) {
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (jobd_read_small(path, text, sizeof text) < 0) return -1;
    return jobd_stat_field(text, 22);  // the start time, in clock ticks since boot
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

_Static_assert(STEP_CHDIR == JOBD_STEP_CHDIR && STEP_STUCK == JOBD_STEP_STUCK && STEP_NOT_FOUND == JOBD_STEP_NOT_FOUND
                   && STEP_NOT_EXECUTABLE == JOBD_STEP_NOT_EXECUTABLE && STEP_IS_DIRECTORY == JOBD_STEP_IS_DIRECTORY,
               "the header's step numbers are shim.c's");

int jobd_memfd_with(const void *bytes, size_t length) {
    int fd = memfd_create("jobd-payload", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    const char *at = bytes;
    size_t left = length;
    while (left > 0) {
        ssize_t written = write(fd, at, left);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
            int error = written < 0 ? errno : EIO;
            close(fd);
            return -error;
        }
        at += written;
        left -= (size_t)written;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

int jobd_process_identity(pid_t pid, int32_t *pgrp, int64_t *uid, long long *start) {
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (jobd_read_small(path, text, sizeof text) < 0) return -EIO;
    long long group = jobd_stat_field(text, 5), started = jobd_stat_field(text, 22);
    if (group < 0 || started < 0) return -EIO;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (jobd_read_small(path, text, sizeof text) < 0) return -EIO;
    char *line = strstr(text, "\nUid:");
    if (!line) return -EIO;
    *pgrp = (int32_t)group;
    *start = started;
    *uid = strtoll(line + 5, NULL, 10);
    return 0;
}

int jobd_process_alive(pid_t pid, int32_t *pgrp) {
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (jobd_read_small(path, text, sizeof text) < 0) return 0;
    // The state is the field after the command, which is in parentheses and may hold any byte.
    const char *end = strrchr(text, ')');
    long long group = jobd_stat_field(text, 5);
    if (!end || end[1] != ' ' || group < 0) return 0;
    *pgrp = (int32_t)group;
    return end[2] != 'Z' && end[2] != 'X';
}

int jobd_trim_heap(void) {
    return malloc_trim(0);
}
