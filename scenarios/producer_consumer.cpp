// producer_consumer: one producer puts `items` items into a Queue, one
// consumer gets them. Strategies bound the queue differently:
//   bounded   - Queue(maxsize k): put() waits while the queue is full;
//   join_at   - the seed's: unbounded queue, the producer awaits join()
//               whenever qsize >= k;
//   unbounded - no bound: the producer runs ahead of the consumer.
// Termination: the seed gathered producer and consumer, and its consumer
// never ends. Here the producer is awaited, then join(), then the consumer is
// cancelled (cancel) or the queue shut down (shutdown). termination=none keeps
// the seed's gather, which hangs until the deadline: a timeout result.
// Latency samples: put-to-get time on the loop clock (every sample_every-th item).
// Up to 16 items, the trace shows every put and get as it returns, and every
// join() of the join_at producer: the interleaving that asyncio's Queue
// defines (who runs when a put wakes a getter, when a full queue blocks).
#include <algorithm>

#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

using namespace std::chrono_literals;

constexpr loops::Nanos kNotSampled = -1;

// The producer yields to the loop (sleep(0)) after this many items. put()
// does not suspend while the queue has room: with a bound the queue never
// reaches, the producer would otherwise put every item in one step, which
// nothing can interrupt, so a deadline could not cut it. The consumer, whose
// get() does not suspend while items are queued, then takes at most this many
// in one step.
constexpr std::int64_t kItemsPerStep = 100'000;

struct Item {
  std::int64_t sequence;
  loops::Nanos put_at;  // kNotSampled for items without a latency sample.
};

struct PcRun {
  loops::EventLoop* loop;
  Tracker* tracker;
  loops::Queue<Item> queue;
  std::int64_t items;
  std::int64_t k;
  std::int64_t sample_every;
  bool join_at;
  bool detailed;  // Every put, get and join traced.
  std::size_t max_qsize = 0;
  std::int64_t consumed = 0;
  bool out_of_order = false;
  std::vector<std::int64_t> latency_ns{};
};

loops::Task<void> produce(PcRun* run) {
  for (std::int64_t i = 0; i < run->items; ++i) {
    const bool sampled = run->sample_every > 0 && i % run->sample_every == 0;
    co_await run->queue.put(Item{i, sampled ? run->loop->now() : kNotSampled});
    if (run->detailed) {
      run->tracker->event("put " + std::to_string(i));
    }
    const std::size_t size = run->queue.qsize();
    run->max_qsize = std::max(run->max_qsize, size);
    if (run->join_at && size >= static_cast<std::size_t>(run->k)) {
      if (run->detailed) {
        run->tracker->event("join queue");
      }
      co_await run->queue.join();
      if (run->detailed) {
        run->tracker->event("joined queue");
      }
    }
    if ((i + 1) % kItemsPerStep == 0) {
      co_await loops::sleep(0s);
    }
  }
}

loops::Task<void> consume(PcRun* run) {
  for (;;) {
    Item item{};
    try {
      item = co_await run->queue.get();
    } catch (const loops::QueueShutDown&) {
      co_return;  // Shut down and drained: the clean way out.
    }
    if (run->detailed) {
      run->tracker->event("get " + std::to_string(item.sequence));
    }
    if (item.put_at != kNotSampled) {
      run->latency_ns.push_back(run->loop->now() - item.put_at);
    }
    if (item.sequence != run->consumed) {
      run->out_of_order = true;
    }
    ++run->consumed;
    run->queue.task_done();
  }
}

loops::Task<void> producer_consumer_main(PcRun* run, Tracker* tracker,
                                         const std::string& termination) {
  loops::EventLoop& loop = *run->loop;
  auto producer = spawn(loop, *tracker, "producer", produce(run));
  auto consumer = spawn(loop, *tracker, "consumer", consume(run));
  if (termination == "none") {
    co_await loops::gather(producer, consumer);  // The seed's program: never returns.
    co_return;
  }
  co_await producer;
  tracker->event("join queue");
  co_await run->queue.join();
  tracker->event("joined queue");
  if (termination == "cancel") {
    tracker->event("cancel consumer");
    consumer.cancel();
    // wait() does not raise the consumer's CancelledError; it only waits for it.
    std::vector<loops::Task<void>> cancelled;
    cancelled.push_back(consumer);
    co_await loops::wait(std::move(cancelled));
  } else {
    tracker->event("shutdown queue");
    run->queue.shutdown();
    co_await consumer;
  }
}

Result run_producer_consumer(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  const std::string& strategy = params.choice("strategy");
  const std::int64_t k = params.integer("k");
  PcRun run{.loop = &loop,
            .tracker = &tracker,
            .queue = loops::Queue<Item>(strategy == "bounded" ? k : 0),
            .items = params.integer("items"),
            .k = k,
            .sample_every = params.integer("sample_every"),
            .join_at = strategy == "join_at",
            .detailed = params.integer("items") <= static_cast<std::int64_t>(kDetailLimit)};
  if (run.sample_every > 0) {
    run.latency_ns.reserve(static_cast<std::size_t>(run.items / run.sample_every + 1));
  }
  run_to_completion(loop, params, tracker,
                    producer_consumer_main(&run, &tracker, params.choice("termination")));

  if (result.ok() && run.consumed != run.items) {
    fail(result, "consumed " + std::to_string(run.consumed) + " of " + std::to_string(run.items) +
                     " items");
  }
  if (result.ok() && run.out_of_order) {
    fail(result, "items were consumed out of order");
  }
  result.metrics["items"] = static_cast<double>(run.consumed);
  result.metrics["max_qsize"] = static_cast<double>(run.max_qsize);
  result.metrics["items_per_s"] = result.wall_ns > 0 ? static_cast<double>(run.consumed) * 1e9 /
                                                           static_cast<double>(result.wall_ns)
                                                     : 0.0;
  // A run cut before every item was consumed reports no samples, as an
  // incomplete series: summarising a hundred million of them took seconds
  // past the deadline.
  if (run.consumed == run.items) {
    result.latency_ns = std::move(run.latency_ns);
  }
  return result;
}

}  // namespace

Scenario producer_consumer_scenario() {
  return {
      .name = "producer_consumer",
      .description =
          "a producer and a consumer over a Queue (bounded, join_at or unbounded); items/s, "
          "put-to-get latency, largest qsize, clean termination",
      .params =
          {
              ParamSpec::choice("strategy",
                                "bounded: Queue(maxsize k); join_at: join() whenever qsize >= k "
                                "(the seed); unbounded: no bound",
                                {"bounded", "join_at", "unbounded"}),
              ParamSpec::integer("items", "items produced", 1'000'000, 0, 100'000'000),
              ParamSpec::integer("k", "bounded: maxsize; join_at: the qsize that triggers join()",
                                 10, 1, 1'000'000'000),
              ParamSpec::choice("termination",
                                "after join(): cancel the consumer or shut the queue down; none: "
                                "the seed's endless gather (times out)",
                                {"cancel", "shutdown", "none"}),
              ParamSpec::integer("sample_every",
                                 "record put-to-get latency for every Nth item (0: none; larger "
                                 "values read the clock less when measuring throughput)",
                                 0, 0, 1'000'000'000),
          },
      .run = &run_producer_consumer,
      .metrics = {{"items", ""}, {"max_qsize", ""}, {"items_per_s", "1/s"}},
      .items_metric = "items",
      .size_param = "items",
      .latency = "each sampled item's put-to-get time on the loop clock",
      // Throughput without a clock read per item (sample_every=0), then
      // latency on every item, then the seed's join_at strategy.
      .bench_sets = {{{"strategy=bounded", "k=10", "items=1000000", "sample_every=0"}},
                     {{"strategy=bounded", "k=10", "items=100000", "sample_every=1"}},
                     {{"strategy=join_at", "k=10", "items=100000", "sample_every=0"}}},
      .endless = {"termination=none", "items=10"},
  };
}

}  // namespace scenarios::detail
