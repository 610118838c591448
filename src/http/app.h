// App: the Gatehouse HTTP API — routes, their thin handlers, and the wiring
// between the transport and the services. A handler parses the request,
// calls one service function (on a worker pool when it blocks), and maps the
// result to a response; no business logic lives here.
#pragma once

#include <memory>

#include "http/metrics.h"
#include "http/router.h"
#include "http/types.h"
#include "service/accounts/accounts.h"
#include "service/common/worker_pool.h"
#include "service/config.h"
#include "store/store.h"

namespace gh::http {

struct AppDeps {
  const service::Config& config;
  store::Store& store;
  service::AccountService& accounts;
  service::WorkerPool& hash_pool;  // password hashing (bounded; full -> 503)
  service::WorkerPool& db_pool;    // other blocking store calls
  Metrics& metrics;
};

class App {
 public:
  explicit App(AppDeps deps);
  // Routes and runs one request; never throws for a client's fault.
  Awaitable dispatch(Request& req, RequestContext& ctx);

 private:
  Awaitable healthz(Request& req, RequestContext& ctx);
  Awaitable readyz(Request& req, RequestContext& ctx);
  Awaitable metrics(Request& req, RequestContext& ctx);
  Awaitable register_user(Request& req, RequestContext& ctx);
  Awaitable login(Request& req, RequestContext& ctx);

  AppDeps d_;
  Router router_;
};

}  // namespace gh::http
