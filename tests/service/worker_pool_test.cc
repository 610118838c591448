#include "service/common/worker_pool.h"

#include <atomic>
#include <future>

#include <gtest/gtest.h>

namespace gh::service {
namespace {

TEST(WorkerPool, RunsJobs) {
  WorkerPool pool("t", 2, 8);
  std::atomic<int> n{0};
  for (int i = 0; i < 8; ++i) {
    WorkerPool::Job j = [&n] { ++n; };
    ASSERT_TRUE(pool.try_submit(j));
  }
  pool.stop();
  EXPECT_EQ(n.load(), 8);
}

TEST(WorkerPool, RefusesWhenFullAndLeavesJobIntact) {
  WorkerPool pool("t", 1, 1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  WorkerPool::Job blocker = [gate, &started] { started.set_value(); gate.wait(); };
  ASSERT_TRUE(pool.try_submit(blocker));
  started.get_future().wait();  // the only worker is now busy
  std::atomic<int> ran{0};
  WorkerPool::Job queued = [&ran] { ++ran; };
  ASSERT_TRUE(pool.try_submit(queued));  // fills the one queue slot
  WorkerPool::Job refused = [&ran] { ran += 100; };
  EXPECT_FALSE(pool.try_submit(refused));
  EXPECT_TRUE(static_cast<bool>(refused)) << "a refused job is not moved from";
  EXPECT_EQ(pool.queue_depth(), 1U);
  release.set_value();
  pool.stop();
  EXPECT_EQ(ran.load(), 1);
  WorkerPool::Job late = [] {};
  EXPECT_FALSE(pool.try_submit(late)) << "a stopped pool accepts nothing";
}

}  // namespace
}  // namespace gh::service
