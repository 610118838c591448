// Background: periodic maintenance on one thread of its own (revocation sync,
// key reload, purge). Each task runs at its own interval; a failing task is
// logged and retried at the next tick. stop() wakes the thread and joins it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gh::service {

class Background {
 public:
  Background() = default;
  ~Background() { stop(); }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // REQUIRES: before start().
  void every(std::string name, std::chrono::milliseconds interval, std::function<void()> task);
  void start();
  void stop();

 private:
  struct Task {
    std::string name;
    std::chrono::milliseconds interval;
    std::function<void()> run;
    std::chrono::steady_clock::time_point next;
  };
  std::vector<Task> tasks_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace gh::service
