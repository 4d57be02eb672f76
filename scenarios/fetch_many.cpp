// fetch_many: the seed's "sleep stands for a network request" made real. A
// request opens a connection to an echo server on 127.0.0.1 (served by the
// loop under test), sends s bytes, reads them back and closes. One request
// runs alone first (single_request_ns), then n run at once (total_ns): on an
// event loop the n overlap, so total_over_single stays far below n. Latency
// samples: each of the n concurrent requests' time. With `delay`, the server
// holds each request that long before answering, like asyncio's classic demo
// of n sleeps that take the time of one.
#include "scenarios/detail/echo.hpp"
#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

using namespace std::chrono_literals;

struct FetchRun {
  Activity* requests;
  std::int64_t n;
  std::size_t size;
  std::chrono::nanoseconds delay;
  std::int64_t single_ns = 0;
  std::int64_t total_ns = 0;
  std::vector<std::int64_t> request_ns{};
};

loops::Task<void> fetch(std::uint16_t port, std::size_t size) {
  loops::Stream stream = co_await loops::open_connection("127.0.0.1", port);
  const std::string request(size, 'r');
  stream.writer.write(request);
  co_await stream.writer.drain();
  if (co_await stream.reader.read_exactly(size) != request) {
    throw loops::RuntimeError("the response differs from the request");
  }
  stream.writer.close();
  co_await stream.writer.wait_closed();
}

loops::Task<void> timed_fetch(FetchRun* run, std::uint16_t port, std::size_t index) {
  run->requests->started(index);
  const auto start = Clock::now();
  try {
    co_await fetch(port, run->size);
  } catch (const loops::CancelledError&) {
    run->requests->cancelled(index);
    throw;
  }
  run->request_ns.push_back(elapsed_ns(start));
  run->requests->finished(index);
}

loops::Task<void> fetch_all(FetchRun* run) {
  loops::Server server = co_await start_echo_server(run->delay);
  const CloseOnExit closer(server);
  const auto single = Clock::now();
  co_await fetch(server.port(), run->size);
  run->single_ns = elapsed_ns(single);

  const auto start = Clock::now();
  std::vector<loops::Task<void>> requests;
  for (std::int64_t i = 0; i < run->n; ++i) {
    requests.push_back(timed_fetch(run, server.port(), static_cast<std::size_t>(i)));
    run->requests->attach(requests.back(), static_cast<std::size_t>(i));
  }
  co_await loops::gather(std::move(requests));
  run->total_ns = elapsed_ns(start);
  server.close();
  co_await server.wait_closed();
}

Result run_fetch_many(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  const std::int64_t n = params.integer("n");
  reserve_descriptors(n);
  FetchRun run{.requests = &tracker.group("requests", "request", static_cast<std::size_t>(n),
                                          static_cast<std::size_t>(n) <= kDetailLimit),
               .n = n,
               .size = static_cast<std::size_t>(params.integer("s")),
               .delay = params.duration("delay")};
  run.request_ns.reserve(static_cast<std::size_t>(n));
  run_to_completion(loop, params, tracker, fetch_all(&run));

  result.metrics["requests"] = static_cast<double>(run.request_ns.size());
  result.metrics["single_request_ns"] = static_cast<double>(run.single_ns);
  result.metrics["total_ns"] = static_cast<double>(run.total_ns);
  if (run.single_ns > 0 && run.total_ns > 0) {
    result.metrics["total_over_single"] =
        static_cast<double>(run.total_ns) / static_cast<double>(run.single_ns);
  }
  if (result.ok()) result.latency_ns = std::move(run.request_ns);
  return result;
}

}  // namespace

Scenario fetch_many_scenario() {
  return {
      .name = "fetch_many",
      .description =
          "n concurrent requests (connect, send s bytes, read the echo, close) to an echo server "
          "on "
          "127.0.0.1; total time against one request alone",
      .params =
          {
              ParamSpec::integer("n", "concurrent requests", 100, 1, 1000),
              ParamSpec::integer("s", "request size in bytes", 64, 1, 1'000'000),
              ParamSpec::duration("delay", "how long the server holds each request", 0s, 0s, 1h),
          },
      .run = &run_fetch_many,
      .needs = {.io = true},
      .metrics = {{"requests", ""},
                  {"single_request_ns", "ns"},
                  {"total_ns", "ns"},
                  {"total_over_single", ""}},
      .items_metric = "requests",
      .size_param = "n",
      .latency = "each of the n concurrent requests' time, connect to close",
      .bench_sets = {{{"n=100", "s=64"}}},
      .repeatability = [](const Params&) { return Repeatability::never; },
      .endless = {"delay=1h"},
  };
}

}  // namespace scenarios::detail
