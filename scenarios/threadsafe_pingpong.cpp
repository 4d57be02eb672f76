// threadsafe_pingpong: round trips between a plain std::thread and the loop.
// The thread sends each ping with call_soon_threadsafe; the callback, on the
// loop thread, answers through an atomic the thread waits on. Latency
// samples: each round trip as the thread sees it (steady_clock). A backend
// whose loop cannot be woken from another thread gets an error result, not a hang.
#include <atomic>
#include <memory>
#include <thread>

#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

// What the pinger thread and the loop's callbacks share. Callbacks hold it by
// shared_ptr: one the thread queued may still run after the scenario returned.
struct Pingpong {
  // The last round answered, or kQuit once the scenario stops waiting.
  static constexpr std::uint64_t kQuit = ~std::uint64_t{0};
  std::atomic<std::uint64_t> answered{0};
  // Loop-thread only. `pinger` is reset when the scenario returns.
  loops::Future<void> pinger_done;
  Activity* pinger = nullptr;
};

void answer(Pingpong& shared, std::uint64_t round) {
  std::uint64_t previous = round - 1;
  // Fails only after kQuit: then nobody waits for the answer.
  if (shared.answered.compare_exchange_strong(previous, round, std::memory_order_release)) {
    shared.answered.notify_one();
  }
}

// The thread's side. Returns early when the scenario gives up (kQuit).
void ping(loops::EventLoop& loop, const std::shared_ptr<Pingpong>& shared, std::uint64_t rounds,
          std::vector<std::int64_t>& round_trips_ns) {
  for (std::uint64_t round = 1; round <= rounds; ++round) {
    const auto sent = Clock::now();
    loop.call_soon_threadsafe([shared, round] { answer(*shared, round); });
    std::uint64_t seen = shared->answered.load(std::memory_order_acquire);
    while (seen < round) {
      shared->answered.wait(seen, std::memory_order_acquire);
      seen = shared->answered.load(std::memory_order_acquire);
    }
    if (seen == Pingpong::kQuit) {
      return;
    }
    round_trips_ns.push_back(elapsed_ns(sent));
  }
  loop.call_soon_threadsafe([shared] {
    if (shared->pinger == nullptr) {
      return;  // Arrived after the scenario gave up.
    }
    shared->pinger->finished();
    shared->pinger_done.set_result();
  });
}

loops::Task<void> await_pinger(std::shared_ptr<Pingpong> shared) {
  co_await shared->pinger_done;
}

Result run_threadsafe_pingpong(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  auto shared = std::make_shared<Pingpong>();
  shared->pinger_done = loop.create_future<void>();
  shared->pinger = &tracker.single("pinger");
  const auto rounds = static_cast<std::uint64_t>(params.integer("rounds"));
  std::vector<std::int64_t> round_trips_ns;
  round_trips_ns.reserve(rounds);

  shared->pinger->started();
  std::thread pinger(
      [&loop, shared, rounds, &round_trips_ns] { ping(loop, shared, rounds, round_trips_ns); });
  // A pinger stopped before it finished was really cancelled: its thread quit.
  auto stop_pinger = [&] {
    shared->answered.store(Pingpong::kQuit, std::memory_order_release);
    shared->answered.notify_one();
    if (pinger.joinable()) {
      pinger.join();
      shared->pinger->cancelled();
    }
  };
  run_to_completion(loop, params, tracker, await_pinger(shared), stop_pinger);
  stop_pinger();
  shared->pinger = nullptr;
  result.metrics["round_trips"] = static_cast<double>(round_trips_ns.size());
  result.latency_ns = std::move(round_trips_ns);
  return result;
}

}  // namespace

Scenario threadsafe_pingpong_scenario() {
  return {
      .name = "threadsafe_pingpong",
      .description =
          "round trips between a plain thread and the loop via call_soon_threadsafe; latency "
          "percentiles (needs a backend with real threads)",
      .params =
          {
              ParamSpec::integer("rounds", "round trips", 10'000, 1, 100'000'000),
          },
      .run = &run_threadsafe_pingpong,
      .needs = {.threads = true},
      .metrics = {{"round_trips", ""}},
      .items_metric = "round_trips",
      .size_param = "rounds",
      .latency = "each round trip as the thread sees it (steady_clock)",
      .bench_sets = {{{"rounds=10000"}}},
      .repeatability = [](const Params&) { return Repeatability::never; },
      .endless = {"rounds=100000000"},
  };
}

}  // namespace scenarios::detail
