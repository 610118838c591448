#include "service/common/background.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

namespace gh::service {

void Background::every(std::string name, std::chrono::milliseconds interval, std::function<void()> task) {
  tasks_.push_back({std::move(name), interval, std::move(task), std::chrono::steady_clock::now() + interval});
}

void Background::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      auto next = std::chrono::steady_clock::now() + std::chrono::hours{1};
      for (const auto& t : tasks_) next = std::min(next, t.next);
      cv_.wait_until(lock, next, [this] { return stopping_; });
      if (stopping_) break;
      const auto now = std::chrono::steady_clock::now();
      for (auto& t : tasks_) {
        if (t.next > now) continue;
        t.next = now + t.interval;
        lock.unlock();
        try {
          t.run();
        } catch (const std::exception& e) {
          spdlog::error("background task {} failed: {}", t.name, e.what());
        }
        lock.lock();
      }
    }
  });
  pthread_setname_np(thread_.native_handle(), "gh-background");
}

void Background::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace gh::service
