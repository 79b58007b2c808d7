// Persistent pool: workers spin briefly after each job (steps issue many small jobs back to back),
// then sleep on a condition variable so an idle engine costs no CPU on a shared machine.
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::run_tasks() {
  for (;;) {
    int task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= num_tasks_) break;
    (*job_)(task);
    finished_tasks_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::parallel_for(int num_tasks, const std::function<void(int)>& fn) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int i = 0; i < num_tasks; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    num_tasks_ = num_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    finished_tasks_.store(0, std::memory_order_relaxed);
    busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_tasks();
  // Wait for the tasks other threads picked up, then for every worker to leave the job
  // (so job_ can be replaced safely by the next call).
  auto all_left = [this] { return busy_workers_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(all_left)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, all_left);
  }
  job_ = nullptr;
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    bool have_job = spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!have_job) wake_.wait(lock, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (stopping_) return;
    }
    run_tasks();
    if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace pagedllm
