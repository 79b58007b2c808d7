// A persistent worker pool: parallel_for hands out task indices to the workers and the calling thread alike.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pagedllm {

class ThreadPool {
 public:
  // num_threads counts the calling thread too; 0 = number of cores.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(i) for i in [0, num_tasks); returns when all are done. One caller at a time.
  void parallel_for(int num_tasks, const std::function<void(int)>& fn);

 private:
  struct Job {
    const std::function<void(int)>* fn = nullptr;
    int num_tasks = 0;
    std::atomic<int> next_task{0};
    std::atomic<int> finished{0};
    std::atomic<bool> caller_sleeping{false};
  };

  void worker_loop();
  // Claims and runs tasks of `job` until none are left.
  void run_tasks(Job& job);
  // Bumps the generation (workers watch it) and wakes those asleep.
  void publish(Job* job);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // Workers and caller poll these from other cores: each on its own cache line.
  alignas(64) std::atomic<Job*> job_{nullptr};
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> sleepers_{0};  // workers in (or about to enter) wake_.wait
  // Workers between reading job_ and leaving the job; the caller waits for 0 before its Job goes out of scope.
  alignas(64) std::atomic<int> workers_inside_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace pagedllm
