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
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
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
  Out out = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Out)>(
      [&pool, &fn](auto handler) {
        using H = decltype(handler);
        // The handler owns the suspended coroutine. It and its executor (a
        // strand, reference-counted through asio's any_executor) are only ever
        // copied, invoked and destroyed on an I/O thread: the worker holds the
        // handler in a shared_ptr it never releases last, and reaches the I/O
        // threads through the plain io_context executor, which has no count.
        auto h = std::make_shared<H>(std::move(handler));
        auto& ioc = static_cast<asio::io_context&>(asio::query(asio::get_associated_executor(*h), asio::execution::context));
        auto io = ioc.get_executor();
        auto resume = [](std::shared_ptr<H> hp, Out r) {
          auto ex = asio::get_associated_executor(*hp);
          asio::dispatch(ex, [hp = std::move(hp), r = std::move(r)]() mutable { std::move (*hp)(std::move(r)); });
        };
        service::WorkerPool::Job job = [h, &fn, io, resume]() mutable {
          Out r;
          try {
            r.first.emplace(fn());
          } catch (...) {
            r.second = std::current_exception();
          }
          asio::post(io, [h = std::move(h), r = std::move(r), resume]() mutable { resume(std::move(h), std::move(r)); });
        };
        if (!pool.try_submit(job)) {
          // Refused: complete later, never inside the initiating function.
          asio::post(io, [h = std::move(h), resume]() mutable { resume(std::move(h), Out{}); });
        }
      },
      asio::use_awaitable);
  if (out.second) std::rethrow_exception(out.second);
  co_return std::move(out.first);
}

}  // namespace gh::http
