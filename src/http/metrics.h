// Metrics: Prometheus text exposition for /metrics — requests by route and
// status, latency histograms per route, named counters (login outcomes, ...)
// and gauges read at scrape time (hash-pool queue depth, ...). Thread-safe.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gh::http {

class Metrics {
 public:
  // Records one finished request. `route` is the route template, never the raw path.
  void observe_request(std::string_view route, unsigned status, double seconds);
  // Adds 1 to the counter series `name{labels}` (labels already formatted, e.g. outcome="success").
  void inc(std::string_view name, std::string_view labels = {});
  // Registers a gauge evaluated at scrape time.
  void add_gauge(std::string name, std::string help, std::function<double()> read);
  // The Prometheus text format (version 0.0.4).
  [[nodiscard]] std::string render() const;

  static constexpr std::array<double, 13> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,    0.25,  0.5,    1.0,   2.5,  5.0};

 private:
  struct RouteStats {
    std::map<unsigned, std::uint64_t> by_status;
    std::array<std::uint64_t, kBuckets.size() + 1> buckets{};
    double sum = 0;
    std::uint64_t count = 0;
  };
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
  };
  mutable std::mutex mu_;
  std::map<std::string, RouteStats, std::less<>> routes_;      // GUARDED_BY(mu_)
  std::map<std::string, std::uint64_t, std::less<>> counters_;  // GUARDED_BY(mu_)
  std::vector<Gauge> gauges_;                                  // GUARDED_BY(mu_)
};

}  // namespace gh::http
