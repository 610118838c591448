#include "service/common/worker_pool.h"

#include <pthread.h>

namespace gh::service {

WorkerPool::WorkerPool(std::string name, std::size_t threads, std::size_t queue_limit)
    : name_(std::move(name)), queue_limit_(queue_limit), nthreads_(threads == 0 ? 1 : threads) {
  threads = nthreads_;
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { run(); });
    pthread_setname_np(threads_.back().native_handle(), name_.substr(0, 15).c_str());
  }
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::try_submit(Job& job) {
  {
    std::lock_guard lock(mu_);
    // Jobs running plus jobs waiting may not exceed threads + queue_limit.
    if (stopping_ || queue_.size() + busy_ >= nthreads_ + queue_limit_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::size_t WorkerPool::queue_depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t WorkerPool::busy() const {
  std::lock_guard lock(mu_);
  return busy_;
}

void WorkerPool::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    job();
    std::lock_guard lock(mu_);
    --busy_;
  }
}

}  // namespace gh::service
