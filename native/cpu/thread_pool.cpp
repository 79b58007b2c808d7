// Persistent pool: workers spin briefly after each job (steps issue many small jobs back to back), then sleep on
// a condition variable so an idle engine costs no CPU on a shared machine. The caller waits only for tasks, never
// for a sleeping worker to wake up: on an oversubscribed machine a worker may not run for milliseconds, and the
// caller then simply does all the tasks itself. While workers spin, handing out a job takes no lock and no system
// call: the mutex and the condition variables are touched only when someone sleeps (sleepers_, caller_sleeping;
// each side writes its flag, then reads the other's, both sequentially consistent, so no wake-up is missed).
#include "thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PAGEDLLM_CPU_RELAX() _mm_pause()
#else
#define PAGEDLLM_CPU_RELAX() std::this_thread::yield()
#endif

namespace pagedllm {

namespace {
// About 100 us of spinning covers the gap between consecutive ops of one forward pass.
constexpr auto kSpinTime = std::chrono::microseconds(100);

// Spins until ready() or kSpinTime passes; returns ready().
template <typename Ready>
bool spin_until(Ready ready) {
  auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    PAGEDLLM_CPU_RELAX();
    if ((i & 255) == 255 && std::chrono::steady_clock::now() > deadline) return ready();
  }
}
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  if (num_threads <= 0) num_threads = 1;
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  publish(nullptr);
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::publish(Job* job) {
  job_.store(job);
  generation_.fetch_add(1);
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
}

void ThreadPool::run_tasks(Job& job) {
  for (;;) {
    const int task = job.next_task.fetch_add(1, std::memory_order_relaxed);
    if (task >= job.num_tasks) return;
    (*job.fn)(task);
    if (job.finished.fetch_add(1) + 1 == job.num_tasks && job.caller_sleeping.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(int num_tasks, const std::function<void(int)>& fn) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int i = 0; i < num_tasks; ++i) fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.num_tasks = num_tasks;
  publish(&job);
  run_tasks(job);
  auto all_finished = [&] { return job.finished.load() == num_tasks; };
  if (!spin_until(all_finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    job.caller_sleeping.store(true);
    done_.wait(lock, all_finished);
  }
  // Unpublish the job, then wait out workers that may still hold a pointer to it (they find no task left and
  // leave at once). Sequentially consistent order pairs with the worker's increment-then-read.
  job_.store(nullptr);
  // A worker preempted inside that window may not run again for a while: spin briefly, then give up the core.
  while (!spin_until([this] { return workers_inside_.load() == 0; })) std::this_thread::yield();
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    const bool woke = spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    if (!woke) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    if (stopping_.load()) return;
    seen = generation_.load();
    workers_inside_.fetch_add(1);
    if (Job* job = job_.load()) run_tasks(*job);
    workers_inside_.fetch_sub(1);
  }
}

}  // namespace pagedllm
