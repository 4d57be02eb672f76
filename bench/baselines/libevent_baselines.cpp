// Baselines written directly on libevent 2.1, the way its reference and its
// own benchmarks (test/bench.c, test/bench_cascade.c) write them: struct
// event records set up with event_assign (event_struct.h, as bench.c does),
// on one event_base configured as the libevent backend's (precise timer,
// environment ignored):
//  - callback_chain: libevent has no call_soon; its documented way to run a
//    callback without I/O is event_active() on an event that is not added.
//    Each link activates the next, which joins the active queue being run,
//    so the whole chain runs in one pass, like the epoll baseline's bare
//    function queue.
//  - timer_storm: one evtimer per timer, added with its relative delay
//    (libevent's min-heap).
//  - parallel_sleeps: the sleepers all wait the same duration, the case for
//    which libevent's reference prescribes a common timeout
//    (event_base_init_common_timeout): a queue per duration instead of the
//    heap.
//  - tcp_echo: ReadinessEcho's sockets behind persistent EV_READ events
//    (bench.c's EV_READ | EV_PERSIST), with an EV_WRITE event added only for
//    what a send leaves; the run ends with event_base_loopbreak().
//
// Outside event_base_loop() libevent caches no time: evtimer_add() reads the
// clock itself, after the run's own clock reading, so each timer is due at
// or after the deadline its lateness is measured from. The events of the
// timers and the chain outlive their base (event_base_free() deletes the ones
// still added); the echo's delete theirs themselves.
#include <event2/event.h>
#include <event2/event_struct.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "../bench_support.hpp"
#include "baselines.hpp"

namespace loopbench::bench {
namespace {

constexpr std::int64_t kNanosPerMicro = 1'000;
constexpr std::int64_t kMicrosPerSecond = 1'000'000;

// `ns` as a relative timeval, rounded up to whole microseconds (libevent's
// resolution), so that no timer is due before its deadline.
timeval delay_of(std::int64_t ns) {
  const std::int64_t micros = (ns + kNanosPerMicro - 1) / kNanosPerMicro;
  timeval delay{};
  delay.tv_sec = static_cast<time_t>(micros / kMicrosPerSecond);
  delay.tv_usec = static_cast<suseconds_t>(micros % kMicrosPerSecond);
  return delay;
}

// A base for one benchmark, configured as the libevent backend's:
// EVENT_BASE_FLAG_PRECISE_TIMER (CLOCK_MONOTONIC, timerfd waits in
// microseconds) and EVENT_BASE_FLAG_IGNORE_ENV (no EVENT_* variable picks
// another method).
class EventBase {
 public:
  EventBase() {
    event_config* config = event_config_new();
    if (config == nullptr) {
      throw std::runtime_error("event_config_new failed");
    }
    event_config_set_flag(config, EVENT_BASE_FLAG_PRECISE_TIMER | EVENT_BASE_FLAG_IGNORE_ENV);
    base_ = event_base_new_with_config(config);
    event_config_free(config);
    if (base_ == nullptr) {
      throw std::runtime_error("event_base_new_with_config failed");
    }
  }
  ~EventBase() { event_base_free(base_); }
  EventBase(const EventBase&) = delete;
  EventBase& operator=(const EventBase&) = delete;
  event_base* get() const noexcept { return base_; }

 private:
  event_base* base_ = nullptr;
};

// --- callback_chain ---------------------------------------------------------------------------

struct Chain {
  event link;  // Assigned, never added: only activated.
  std::int64_t remaining;
};

void chain_link(evutil_socket_t /*fd*/, short /*what*/, void* arg) {
  auto* chain = static_cast<Chain*>(arg);
  if (--chain->remaining == 0) {
    return;
  }
  event_active(&chain->link, EV_TIMEOUT, 1);  // This link schedules the next one.
}

void bm_callback_chain(benchmark::State& state, std::int64_t n) {
  Chain chain{};
  EventBase base;
  event_assign(&chain.link, base.get(), -1, 0, &chain_link, &chain);
  run_baseline(state, false, [&] {
    chain.remaining = n;
    const std::int64_t start = monotonic_ns();
    event_active(&chain.link, EV_TIMEOUT, 1);
    // No event is added, so the loop returns once the active queue is empty:
    // one pass, which runs the whole chain.
    event_base_dispatch(base.get());
    return chain_outcome(n, monotonic_ns() - start);
  });
}

// --- timer_storm ------------------------------------------------------------------------------

struct Storm;

struct StormTimer {
  event ev;
  Storm* storm;
  std::int64_t offset_ns;
};

struct Storm {
  std::vector<StormTimer> timers;
  std::vector<std::int64_t> lateness_ns;
  std::int64_t base_ns = 0;
};

void storm_fired(evutil_socket_t /*fd*/, short /*what*/, void* arg) {
  const auto* timer = static_cast<const StormTimer*>(arg);
  Storm& storm = *timer->storm;
  storm.lateness_ns.push_back(monotonic_ns() - (storm.base_ns + timer->offset_ns));
}

void bm_timer_storm(benchmark::State& state, StormParams params) {
  Storm storm;
  EventBase base;
  storm.timers.resize(static_cast<std::size_t>(params.n));
  storm.lateness_ns.reserve(static_cast<std::size_t>(params.n));
  for (std::int64_t i = 0; i < params.n; ++i) {
    StormTimer& timer = storm.timers[static_cast<std::size_t>(i)];
    timer.storm = &storm;
    timer.offset_ns = storm_offset_ns(params, i);
    evtimer_assign(&timer.ev, base.get(), &storm_fired, &timer);
  }
  run_baseline(state, true, [&] {
    storm.lateness_ns.clear();
    const std::int64_t start = monotonic_ns();
    storm.base_ns = monotonic_ns();
    for (StormTimer& timer : storm.timers) {
      const timeval delay = delay_of(timer.offset_ns);
      evtimer_add(&timer.ev, &delay);
    }
    const std::int64_t scheduled = monotonic_ns();
    event_base_dispatch(base.get());  // Until the last one-shot timer has fired.
    const std::int64_t done = monotonic_ns();
    return storm_outcome(params, scheduled - start, done - start, storm.lateness_ns);
  });
}

// --- parallel_sleeps --------------------------------------------------------------------------

struct Sleepers {
  std::vector<event> timers;
  std::vector<std::int64_t> overshoot_ns;
  std::int64_t deadline_ns = 0;
};

void sleeper_woke(evutil_socket_t /*fd*/, short /*what*/, void* arg) {
  auto* sleepers = static_cast<Sleepers*>(arg);
  sleepers->overshoot_ns.push_back(monotonic_ns() - sleepers->deadline_ns);
}

void bm_parallel_sleeps(benchmark::State& state, SleepsParams params) {
  Sleepers sleepers;
  EventBase base;
  sleepers.timers.resize(static_cast<std::size_t>(params.n));
  sleepers.overshoot_ns.reserve(static_cast<std::size_t>(params.n));
  for (event& timer : sleepers.timers) {
    evtimer_assign(&timer, base.get(), &sleeper_woke, &sleepers);
  }
  const timeval delay = delay_of(params.duration.count());
  // A marker timeval that evtimer_add() takes as "this common queue" and as
  // the same delay.
  const timeval* common = event_base_init_common_timeout(base.get(), &delay);
  if (common == nullptr) {
    throw std::runtime_error("event_base_init_common_timeout failed");
  }
  run_baseline(state, true, [&] {
    sleepers.overshoot_ns.clear();
    const std::int64_t start = monotonic_ns();
    sleepers.deadline_ns = monotonic_ns() + params.duration.count();
    for (event& timer : sleepers.timers) {
      evtimer_add(&timer, common);
    }
    event_base_dispatch(base.get());
    return sleeps_outcome(params, monotonic_ns() - start, sleepers.overshoot_ns);
  });
}

// --- tcp_echo ---------------------------------------------------------------------------------

// Events for ReadinessEcho: both ends' persistent EV_READ events added, an
// EV_WRITE event added only for what a send leaves; the run ends with
// event_base_loopbreak().
class Echo final : public ReadinessEcho {
 public:
  Echo(const EventBase& base, EchoParams params) : ReadinessEcho(params), base_(base.get()) {
    for (auto& connection : connections()) {
      Events& e = *events_.emplace_back(std::make_unique<Events>());
      e.echo = this;
      e.connection = connection.get();
      for (const Side side : {kClient, kServer}) {
        event_assign(&e.readable[side], base_, connection->fd(side), EV_READ | EV_PERSIST,
                     &on_readable_event, &e);
        event_add(&e.readable[side], nullptr);
        event_assign(&e.writable[side], base_, connection->fd(side), EV_WRITE | EV_PERSIST,
                     &on_writable_event, &e);
      }
    }
  }
  // The base outlives this: take the events out of it before their memory goes.
  ~Echo() override {
    for (auto& e : events_) {
      for (const Side side : {kClient, kServer}) {
        event_del(&e->readable[side]);
        event_del(&e->writable[side]);
      }
    }
  }
  Echo(const Echo&) = delete;
  Echo& operator=(const Echo&) = delete;

 private:
  // One connection's events, by Side. libevent keeps pointers to added ones:
  // they never move.
  struct Events {
    event readable[2];
    event writable[2];
    Echo* echo;
    Connection* connection;
  };

  // Until loopbreak: the read events stay added.
  void run_loop() override { event_base_dispatch(base_); }
  void stop_loop() override { event_base_loopbreak(base_); }
  void watch_writable(Connection& c, Side side, bool on) override {
    toggle(events_[c.index]->writable[side], on);
  }
  void watch_served(Connection& c, bool on) override {
    toggle(events_[c.index]->readable[kServer], on);
  }

  static void toggle(event& ev, bool on) {
    if (on) {
      event_add(&ev, nullptr);
    } else {
      event_del(&ev);
    }
  }

  // Which end a callback is for: the descriptor it was called with.
  static Side side_of(evutil_socket_t fd, const Connection& c) {
    return fd == c.fd(kClient) ? kClient : kServer;
  }
  static void on_readable_event(evutil_socket_t fd, short /*what*/, void* arg) {
    auto& e = *static_cast<Events*>(arg);
    e.echo->on_readable(*e.connection, side_of(fd, *e.connection));
  }
  static void on_writable_event(evutil_socket_t fd, short /*what*/, void* arg) {
    auto& e = *static_cast<Events*>(arg);
    e.echo->on_writable(*e.connection, side_of(fd, *e.connection));
  }

  event_base* base_;
  std::vector<std::unique_ptr<Events>> events_;
};

void bm_tcp_echo(benchmark::State& state, EchoParams params) {
  EventBase base;
  Echo echo(base, params);
  run_baseline(state, false, [&] {
    const std::int64_t start = monotonic_ns();
    const std::vector<std::int64_t>& rtt_ns = echo.run();
    return echo_outcome(params, monotonic_ns() - start, rtt_ns);
  });
}

}  // namespace

LibraryBaselines libevent_baselines() {
  return {"libevent", &bm_callback_chain, &bm_timer_storm, &bm_parallel_sleeps, &bm_tcp_echo};
}

}  // namespace loopbench::bench
