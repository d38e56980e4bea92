/*
 * parallel.c - fastnn's own thread pool behind fnn_parallel_for (fastnn.h).
 *
 * Why not an OpenMP region per call: a region ends in a barrier that waits for every
 * thread of its team, whether the OS runs it or not. On a machine where another process
 * holds a core, the worker on that core gets a time slice every few milliseconds, so
 * every region costs milliseconds (a W1 epoch measured 0.65 s alone, 10 s beside one
 * busy process). Here a call never waits for a thread that has not started: each
 * thread owns a contiguous range of the tasks, takes them from its front, and when it
 * runs out takes the others' from their back; the caller returns once every task that
 * was taken has finished. A worker that never got the CPU simply had its tasks run by
 * the caller. Only a task that was taken by a thread the OS then descheduled is waited
 * for, and tasks are short.
 *
 * The protocol (all atomics sequentially consistent unless marked):
 *   caller: publish job (current = &job, ticket++), wake sleepers; work; wait until
 *           done == n; current = NULL; wait until active == 0 (no worker still holds
 *           &job, which lives on the caller's stack).
 *   worker: wait for the ticket to move (spin, then sleep on a condition variable);
 *           active++; j = current; if j: work on j; active--.
 * A worker that increments `active` after the caller saw it at 0 necessarily reads
 * current == NULL (or a newer job), so no worker touches a finished job.
 *
 * One job at a time: a call made while the pool is busy (from a task, or from another
 * thread of the program) runs its tasks on the calling thread. Workers copy the
 * caller's floating-point control word (MXCSR: flush-to-zero, denormals-are-zero,
 * rounding) for each job, so that no result depends on which thread computed it.
 */
#define _POSIX_C_SOURCE 200809L /* pthreads, clock_gettime, sigset_t under -std=c99 */

#include <stdint.h>
#include <stdlib.h>

#include "fastnn.h"

#if defined(FASTNN_HAVE_OPENMP) && (defined(__unix__) || defined(__APPLE__)) && \
    defined(__GNUC__)
#define POOL_PTHREADS 1
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#define FP_STATE_GET() _mm_getcsr()
#define FP_STATE_SET(x) _mm_setcsr(x)
#else
#define CPU_RELAX() ((void)0)
#define FP_STATE_GET() 0u
#define FP_STATE_SET(x) ((void)(x))
#endif

static void run_serially(ptrdiff_t n, fnn_task_fn *fn, void *ctx)
{
    for (ptrdiff_t i = 0; i < n; i++)
        fn(ctx, i, 0);
}

#ifdef POOL_PTHREADS

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_SEQ_CST)

#define MAX_THREADS 64
/* A call whose caller waited longer for other threads' tasks than it worked itself, and
 * at least STALL_MIN_NS, met a thread the OS had taken off its core mid-task (a time
 * slice of another process: milliseconds). The pool then runs calls serially for a
 * while: BACKOFF_MIN_NS after a first stall, doubling with each further one up to
 * BACKOFF_MAX_NS, and shrinking by 1/16 with each parallel call that does not stall.
 * So where other processes keep the cores busy, calls run on one thread with a probe
 * now and then (a stall a second at most), and where stalls are rare the pool stays
 * parallel. */
#define STALL_MIN_NS 200000
#define BACKOFF_MIN_NS 4000000
#define BACKOFF_MAX_NS 1000000000

/* How long an idle worker keeps polling for the next job before it sleeps: long enough
 * to span the gaps between the calls of a training step (Python's included), short
 * enough that an idle program gives its cores back soon. While polling it yields its
 * core every few polls, so a process that wants the core gets it (and a worker that
 * then misses the start of a job only takes fewer of its tasks). */
#define SPIN_NS 1000000
#define YIELD_EVERY 16

typedef struct job {
    fnn_task_fn *fn;
    void *ctx;
    ptrdiff_t n;
    int threads;                  /* ranges in use: tasks are offered to this many */
    unsigned fp_state;            /* the caller's MXCSR */
    ptrdiff_t done;               /* tasks finished */
    uint64_t range[MAX_THREADS];  /* thread t's tasks not yet taken: lo | hi << 32 */
} job;

static struct {
    pthread_mutex_t lock;         /* guards sleeping and starting workers */
    pthread_cond_t wake;
    job *current;                 /* the published job, or NULL */
    uint64_t ticket;              /* bumped at every publication */
    int active;                   /* workers inside `current` */
    int sleepers;                 /* workers asleep on `wake` */
    int busy;                     /* a caller owns the pool */
    int workers;                  /* workers started (ids 1 .. workers) */
    int64_t serial_until;         /* calls run serially until then (ns, monotonic) */
    int64_t backoff;              /* the next such period */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0, 0, 0, 0};

/* Take the next task of thread `owner`'s range: from its front for its owner, from its
 * back for any other thread. -1 when the range is empty. */
static ptrdiff_t take(job *j, int owner, int front)
{
    uint64_t r = LOAD(j->range[owner]);
    for (;;) {
        uint64_t lo = r & 0xFFFFFFFFu, hi = r >> 32;
        if (lo >= hi)
            return -1;
        uint64_t next = front ? r + 1 : lo | (hi - 1) << 32;
        if (__atomic_compare_exchange_n(&j->range[owner], &r, next, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return (ptrdiff_t)(front ? lo : hi - 1);
    }
}

/* Run tasks as thread `me` < j->threads: its own range first, then what is left of the
 * others'. */
static void work(job *j, int me)
{
    ptrdiff_t task;
    while ((task = take(j, me, 1)) >= 0) {
        j->fn(j->ctx, task, me);
        ADD(j->done, 1);
    }
    for (int step = 1; step < j->threads; step++) {
        const int victim = (me + step) % j->threads;
        while ((task = take(j, victim, 0)) >= 0) {
            j->fn(j->ctx, task, me);
            ADD(j->done, 1);
        }
    }
}

/* A wait for other threads' progress: poll, and after a while let the OS run someone
 * else on this core (perhaps the thread waited for, when both share one core). */
static void relax(unsigned *spins)
{
    if (++*spins % 256 == 0)
        sched_yield();
    else
        CPU_RELAX();
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Until the ticket moves past *seen: poll for SPIN_NS, then sleep. */
static void wait_for_job(uint64_t *seen)
{
    const int64_t until = now_ns() + SPIN_NS;
    for (unsigned spins = 1;; spins++) {
        if (LOAD(pool.ticket) != *seen)
            goto moved;
        CPU_RELAX();
        if (spins % YIELD_EVERY == 0) {
            if (now_ns() > until)
                break;
            sched_yield();
        }
    }
    pthread_mutex_lock(&pool.lock);
    ADD(pool.sleepers, 1);
    while (LOAD(pool.ticket) == *seen)
        pthread_cond_wait(&pool.wake, &pool.lock);
    ADD(pool.sleepers, -1);
    pthread_mutex_unlock(&pool.lock);
moved:
    *seen = LOAD(pool.ticket);
}

static void *worker_main(void *arg)
{
    const int me = (int)(intptr_t)arg;
    const unsigned own_fp = FP_STATE_GET();
    uint64_t seen = 0;
    for (;;) {
        wait_for_job(&seen);
        ADD(pool.active, 1);
        job *j = LOAD(pool.current);
        if (j != NULL && me < j->threads) { /* the job has scratch for threads 0 .. threads-1 */
            FP_STATE_SET(j->fp_state);
            work(j, me);
            FP_STATE_SET(own_fp);
        }
        ADD(pool.active, -1);
    }
    return NULL;
}

/* Start workers 1 .. count-1 (at most MAX_THREADS - 1) if not yet running; returns how
 * many threads (with the caller) are available. Workers block every signal: signals go
 * to the program's own threads. */
static int start_workers(int count)
{
    if (count > MAX_THREADS)
        count = MAX_THREADS;
    if (LOAD(pool.workers) >= count - 1)
        return count;
    pthread_mutex_lock(&pool.lock);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.workers < count - 1) {
        pthread_attr_t attr;
        pthread_t thread;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, worker_main,
                                    (void *)(intptr_t)(pool.workers + 1));
        pthread_attr_destroy(&attr);
        if (failed)
            break;
        STORE(pool.workers, pool.workers + 1);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    const int available = pool.workers + 1;
    pthread_mutex_unlock(&pool.lock);
    return available < count ? available : count;
}

/* In a child of fork() only the forking thread exists: forget the workers. */
static void after_fork_in_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pool.current = NULL;
    pool.active = pool.sleepers = pool.busy = pool.workers = 0;
    pool.serial_until = pool.backoff = 0;
}

static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;
static void install_fork_handler(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

/* After a call that waited `waited` ns for others and worked `worked` ns itself: start
 * or lengthen a serial period after a stall, shorten the next one after a call that paid. */
static void note_stalls(int64_t worked, int64_t waited, int64_t end)
{
    int64_t backoff = pool.backoff; /* written only by the pool's owner, which we are */
    if (waited > STALL_MIN_NS && waited > worked) {
        backoff = backoff < BACKOFF_MIN_NS / 2 ? BACKOFF_MIN_NS : 2 * backoff;
        backoff = backoff < BACKOFF_MAX_NS ? backoff : BACKOFF_MAX_NS;
        __atomic_store_n(&pool.serial_until, end + backoff, __ATOMIC_RELAXED);
    } else {
        backoff -= backoff / 16;
    }
    __atomic_store_n(&pool.backoff, backoff, __ATOMIC_RELAXED);
}

void fnn_parallel_for(ptrdiff_t n, int threads, fnn_task_fn *fn, void *ctx)
{
    if (n <= 0)
        return;
    if (threads > n)
        threads = (int)n;
    int expected = 0;
    if (threads <= 1 || n > (ptrdiff_t)0xFFFFFFFF ||
        (__atomic_load_n(&pool.backoff, __ATOMIC_RELAXED) > 0 &&
         now_ns() < __atomic_load_n(&pool.serial_until, __ATOMIC_RELAXED)) ||
        !__atomic_compare_exchange_n(&pool.busy, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        run_serially(n, fn, ctx);
        return;
    }
    pthread_once(&fork_handler_once, install_fork_handler);
    threads = start_workers(threads);

    job j;
    j.fn = fn, j.ctx = ctx, j.n = n, j.threads = threads;
    j.fp_state = FP_STATE_GET();
    j.done = 0;
    for (int t = 0; t < threads; t++) {
        uint64_t lo = (uint64_t)(n * t / threads), hi = (uint64_t)(n * (t + 1) / threads);
        j.range[t] = lo | hi << 32;
    }
    const int64_t start = now_ns();
    STORE(pool.current, &j);
    ADD(pool.ticket, 1);
    if (LOAD(pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }

    work(&j, 0);
    /* Tasks other threads took and are still running; then no worker may keep &j. */
    const int64_t worked = now_ns();
    unsigned spins = 0;
    while (LOAD(j.done) < n)
        relax(&spins);
    STORE(pool.current, NULL);
    while (LOAD(pool.active) > 0)
        relax(&spins);
    const int64_t end = now_ns();
    note_stalls(worked - start, end - worked, end);
    __atomic_store_n(&pool.busy, 0, __ATOMIC_RELEASE);
}

#elif defined(FASTNN_HAVE_OPENMP) /* OpenMP without POSIX threads: a region per call */

#include <omp.h>

void fnn_parallel_for(ptrdiff_t n, int threads, fnn_task_fn *fn, void *ctx)
{
    if (threads > n)
        threads = (int)n;
    if (threads <= 1 || omp_in_parallel()) {
        run_serially(n, fn, ctx);
        return;
    }
    ptrdiff_t next = 0;
    const unsigned fp_state = FP_STATE_GET();
#pragma omp parallel num_threads(threads)
    {
        const int me = omp_get_thread_num();
        const unsigned own_fp = FP_STATE_GET();
        FP_STATE_SET(fp_state);
        for (;;) {
            ptrdiff_t task;
#pragma omp atomic capture
            task = next++;
            if (task >= n)
                break;
            fn(ctx, task, me);
        }
        FP_STATE_SET(own_fp);
    }
}

#else /* no threads */

void fnn_parallel_for(ptrdiff_t n, int threads, fnn_task_fn *fn, void *ctx)
{
    (void)threads;
    run_serially(n, fn, ctx);
}

#endif
