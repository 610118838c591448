// offload(): run a blocking function on a WorkerPool from a coroutine and
// resume on the coroutine's own executor with its result. std::nullopt means
// the pool refused the job (queue full or stopping): answer 503, never queue
// without limit. Exceptions thrown by `fn` are caught on the worker and
// rethrown in the coroutine.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <type_traits>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/types.h"
#include "service/common/worker_pool.h"

namespace gh::http {

template <class F>
auto offload(service::WorkerPool& pool, F fn) -> asio::awaitable<std::optional<std::invoke_result_t<F&>>> {
  using T = std::invoke_result_t<F&>;
  using Out = std::pair<std::optional<T>, std::exception_ptr>;
  auto ex = co_await asio::this_coro::executor;
  Out out = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Out)>(
      [&pool, &fn, ex](auto handler) {
        using H = decltype(handler);
        // The handler owns the suspended coroutine; keep it alive until it is resumed.
        auto h = std::make_shared<H>(std::move(handler));
        service::WorkerPool::Job job = [h, &fn, ex]() mutable {
          Out r;
          try {
            r.first.emplace(fn());
          } catch (...) {
            r.second = std::current_exception();
          }
          asio::post(ex, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
        };
        if (!pool.try_submit(job)) {
          asio::post(ex, [h]() mutable { std::move (*h)(Out{}); });
        }
      },
      asio::use_awaitable);
  if (out.second) std::rethrow_exception(out.second);
  co_return std::move(out.first);
}

}  // namespace gh::http
