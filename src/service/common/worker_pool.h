// WorkerPool: a fixed set of threads with a bounded job queue.
//
// Used for deliberately slow or blocking work (password hashing, database
// calls) so that I/O threads never block. try_submit() refuses work when the
// queue is full, which the HTTP layer turns into 503 + Retry-After instead of
// queueing without limit. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gh::service {

class WorkerPool {
 public:
  using Job = std::move_only_function<void()>;

  // `threads` >= 1; `queue_limit` jobs may wait beyond the ones running.
  WorkerPool(std::string name, std::size_t threads, std::size_t queue_limit);
  ~WorkerPool();  // runs queued jobs to completion, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` and moves from it only when accepted. False if the queue is
  // full or the pool is stopping; `job` is then left untouched.
  [[nodiscard]] bool try_submit(Job& job);

  // Stops accepting work, finishes what is queued, joins the threads. Idempotent.
  void stop();

  [[nodiscard]] std::size_t queue_depth() const;
  [[nodiscard]] std::size_t busy() const;
  [[nodiscard]] std::size_t threads() const { return nthreads_; }
  [[nodiscard]] std::size_t queue_limit() const { return queue_limit_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  void run();

  std::string name_;
  std::size_t queue_limit_;
  std::size_t nthreads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // GUARDED_BY(mu_)
  std::size_t busy_ = 0;   // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace gh::service
