// callback_chain: each call_soon callback schedules the next, n in all, so
// every callback costs one loop iteration. Metric ns_per_callback.
#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

struct Chain {
  loops::EventLoop* loop;
  Activity* activity;
  std::int64_t remaining;
  // The link still queued, so that a run cut short can cancel it.
  loops::Handle next;
  loops::Future<void> done;
};

void link(Chain* chain) {
  if (--chain->remaining == 0) {
    chain->done.set_result();
    return;
  }
  chain->next = chain->loop->call_soon([chain] { link(chain); });
}

loops::Task<void> chain_main(Chain* chain, std::int64_t n) {
  chain->activity->started();
  chain->next = chain->loop->call_soon([chain] { link(chain); });
  co_await chain->done;
  chain->activity->finished(0, std::to_string(n) + " callbacks");
}

Result run_callback_chain(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  const std::int64_t n = params.integer("n");
  Chain chain{&loop, &tracker.single("chain"), n, {}, loop.create_future<void>()};
  const loops::Task<void> main = chain_main(&chain, n);
  chain.activity->attach(main);
  run_to_completion(loop, params, tracker, main, [&chain] { chain.next.cancel(); });
  const std::int64_t ran = n - chain.remaining;
  result.metrics["callbacks"] = static_cast<double>(ran);
  result.metrics["ns_per_callback"] = per_item_ns(result.wall_ns, ran);
  return result;
}

}  // namespace

Scenario callback_chain_scenario() {
  return {
      .name = "callback_chain",
      .description = "each call_soon callback schedules the next; ns per callback",
      .params =
          {
              ParamSpec::integer("n", "callbacks in the chain", 1'000'000, 1, 1'000'000'000),
          },
      .run = &run_callback_chain,
      .metrics = {{"callbacks", ""}, {"ns_per_callback", "ns"}},
      .items_metric = "callbacks",
      .size_param = "n",
      .bench_sets = {{{"n=1000000"}}},
      .endless = {"n=1000000000"},
  };
}

}  // namespace scenarios::detail
