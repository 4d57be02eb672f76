// Baselines written directly on libev, the way its manual (ev(3)) writes
// them, on one loop from ev_loop_new:
//  - callback_chain: libev has no call_soon; the manual's way to run a
//    callback soon without a system call ("Avoiding finishing before
//    returning") is to push a stopped watcher into the pending queue with
//    ev_feed_event. Each link feeds the next, which runs in the same pass
//    over the pending callbacks, like the epoll baseline's bare function
//    queue. (An ev_idle watcher per link instead costs one non-blocking
//    epoll_wait each, as libuv's idle chain does: 1.5 us a link here.)
//  - timer_storm, parallel_sleeps: one ev_timer per timer or sleeper,
//    started with a relative delay (libev's own benchmark starts an ev_timer
//    per descriptor).
//  - tcp_echo: ReadinessEcho's sockets behind ev_io read watchers, with an
//    EV_WRITE watcher started only for what a send leaves; the run ends with
//    ev_break.
//
// ev_timer counts from ev_now(), libev's time as of the start of the
// iteration, which is stale when a run starts (the untimed warm-up and the
// benchmark's own work came since). So each run reads the clock, then calls
// ev_now_update() (the manual's remedy), and starts its timers in one go, as
// a libev program started from one callback does: libev's due time
// ev_now() + delay is then at or after the clock reading + delay, the
// deadline the lateness is measured from. Watchers are plain memory; nothing
// needs closing after the timed part.
#include <ev.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "../bench_support.hpp"
#include "baselines.hpp"

namespace loopbench::bench {
namespace {

constexpr double kSecondsPerNano = 1e-9;

double seconds(std::int64_t ns) {
  return static_cast<double>(ns) * kSecondsPerNano;
}

// A loop for one benchmark. EVFLAG_NOENV: LIBEV_FLAGS must not pick another
// backend method than the libev backend's (libev's recommended one).
class EvLoop {
 public:
  EvLoop() : loop_(ev_loop_new(EVFLAG_NOENV)) {
    if (loop_ == nullptr) {
      throw std::runtime_error("ev_loop_new failed");
    }
  }
  ~EvLoop() { ev_loop_destroy(loop_); }
  EvLoop(const EvLoop&) = delete;
  EvLoop& operator=(const EvLoop&) = delete;
  struct ev_loop* get() const noexcept {
    return loop_;
  }

 private:
  struct ev_loop* loop_;
};

// --- callback_chain ---------------------------------------------------------------------------

struct Chain {
  ev_idle link;  // Initialised, never started: only fed.
  std::int64_t remaining;
};

void chain_link(struct ev_loop* loop, ev_idle* link, int /*revents*/) {
  auto* chain = static_cast<Chain*>(link->data);
  if (--chain->remaining == 0) {
    return;
  }
  ev_feed_event(loop, link, 0);  // This link schedules the next one.
}

void bm_callback_chain(benchmark::State& state, std::int64_t n) {
  EvLoop loop;
  Chain chain{};
  ev_idle_init(&chain.link, &chain_link);
  chain.link.data = &chain;
  run_baseline(state, false, [&] {
    chain.remaining = n;
    const std::int64_t start = monotonic_ns();
    ev_feed_event(loop.get(), &chain.link, 0);
    // No watcher is active, so this is one iteration, whose pending-callback
    // pass runs the whole chain.
    ev_run(loop.get(), 0);
    return chain_outcome(n, monotonic_ns() - start);
  });
}

// --- timer_storm ------------------------------------------------------------------------------

struct Storm {
  std::vector<ev_timer> timers;
  std::vector<std::int64_t> lateness_ns;
  std::int64_t base_ns = 0;
  StormParams params{};

  std::int64_t offset_ns(std::int64_t i) const { return storm_offset_ns(params, i); }
};

void storm_fired(struct ev_loop* /*loop*/, ev_timer* timer, int /*revents*/) {
  auto* storm = static_cast<Storm*>(timer->data);
  const std::int64_t index = timer - storm->timers.data();
  storm->lateness_ns.push_back(monotonic_ns() - (storm->base_ns + storm->offset_ns(index)));
}

void bm_timer_storm(benchmark::State& state, StormParams params) {
  EvLoop loop;
  Storm storm;
  storm.params = params;
  storm.timers.resize(static_cast<std::size_t>(params.n));
  storm.lateness_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    storm.lateness_ns.clear();
    const std::int64_t start = monotonic_ns();
    storm.base_ns = monotonic_ns();
    ev_now_update(loop.get());  // Delays count from ev_now(): make it current.
    for (std::int64_t i = 0; i < params.n; ++i) {
      ev_timer& timer = storm.timers[static_cast<std::size_t>(i)];
      ev_timer_init(&timer, &storm_fired, seconds(storm.offset_ns(i)), 0.);
      timer.data = &storm;
      ev_timer_start(loop.get(), &timer);
    }
    const std::int64_t scheduled = monotonic_ns();
    ev_run(loop.get(), 0);  // Until the last one-shot timer has fired.
    const std::int64_t done = monotonic_ns();
    return storm_outcome(params, scheduled - start, done - start, storm.lateness_ns);
  });
}

// --- parallel_sleeps --------------------------------------------------------------------------

struct Sleepers {
  std::vector<ev_timer> timers;
  std::vector<std::int64_t> overshoot_ns;
  std::int64_t deadline_ns = 0;
};

void sleeper_woke(struct ev_loop* /*loop*/, ev_timer* timer, int /*revents*/) {
  auto* sleepers = static_cast<Sleepers*>(timer->data);
  sleepers->overshoot_ns.push_back(monotonic_ns() - sleepers->deadline_ns);
}

void bm_parallel_sleeps(benchmark::State& state, SleepsParams params) {
  EvLoop loop;
  Sleepers sleepers;
  sleepers.timers.resize(static_cast<std::size_t>(params.n));
  sleepers.overshoot_ns.reserve(static_cast<std::size_t>(params.n));
  const double delay = seconds(params.duration.count());
  run_baseline(state, true, [&] {
    sleepers.overshoot_ns.clear();
    const std::int64_t start = monotonic_ns();
    // The sleepers start together, from one ev_now(), as libev intends.
    sleepers.deadline_ns = monotonic_ns() + params.duration.count();
    ev_now_update(loop.get());
    for (ev_timer& timer : sleepers.timers) {
      ev_timer_init(&timer, &sleeper_woke, delay, 0.);
      timer.data = &sleepers;
      ev_timer_start(loop.get(), &timer);
    }
    ev_run(loop.get(), 0);
    return sleeps_outcome(params, monotonic_ns() - start, sleepers.overshoot_ns);
  });
}

// --- tcp_echo ---------------------------------------------------------------------------------

// ev_io watchers for ReadinessEcho: both ends' read watchers active, a write
// watcher started only for what a send leaves; the run ends with ev_break.
class Echo final : public ReadinessEcho {
 public:
  Echo(const EvLoop& loop, EchoParams params) : ReadinessEcho(params), loop_(loop.get()) {
    for (auto& connection : connections()) {
      Watchers& w = *watchers_.emplace_back(std::make_unique<Watchers>());
      w.echo = this;
      w.connection = connection.get();
      for (const Side side : {kClient, kServer}) {
        ev_io_init(&w.readable[side], &on_readable_io, connection->fd(side), EV_READ);
        w.readable[side].data = &w;
        ev_io_start(loop_, &w.readable[side]);
        ev_io_init(&w.writable[side], &on_writable_io, connection->fd(side), EV_WRITE);
        w.writable[side].data = &w;
      }
    }
  }
  // The loop outlives this: stop the watchers before their memory goes.
  ~Echo() override {
    for (auto& w : watchers_) {
      for (const Side side : {kClient, kServer}) {
        ev_io_stop(loop_, &w->readable[side]);
        ev_io_stop(loop_, &w->writable[side]);
      }
    }
  }
  Echo(const Echo&) = delete;
  Echo& operator=(const Echo&) = delete;

 private:
  // One connection's watchers, by Side. libev keeps pointers to active ones:
  // they never move.
  struct Watchers {
    ev_io readable[2];
    ev_io writable[2];
    Echo* echo;
    Connection* connection;
  };

  void run_loop() override { ev_run(loop_, 0); }  // Until ev_break: the read watchers stay active.
  void stop_loop() override { ev_break(loop_, EVBREAK_ALL); }
  void watch_writable(Connection& c, Side side, bool on) override {
    toggle(watchers_[c.index]->writable[side], on);
  }
  void watch_served(Connection& c, bool on) override {
    toggle(watchers_[c.index]->readable[kServer], on);
  }

  void toggle(ev_io& io, bool on) {
    if (on) {
      ev_io_start(loop_, &io);
    } else {
      ev_io_stop(loop_, &io);
    }
  }

  static Side side_of(const ev_io* io, const ev_io (&pair)[2]) {
    return io == &pair[kClient] ? kClient : kServer;
  }
  static void on_readable_io(struct ev_loop* /*loop*/, ev_io* io, int /*revents*/) {
    auto& w = *static_cast<Watchers*>(io->data);
    w.echo->on_readable(*w.connection, side_of(io, w.readable));
  }
  static void on_writable_io(struct ev_loop* /*loop*/, ev_io* io, int /*revents*/) {
    auto& w = *static_cast<Watchers*>(io->data);
    w.echo->on_writable(*w.connection, side_of(io, w.writable));
  }

  struct ev_loop* loop_;
  std::vector<std::unique_ptr<Watchers>> watchers_;
};

void bm_tcp_echo(benchmark::State& state, EchoParams params) {
  EvLoop loop;
  Echo echo(loop, params);
  run_baseline(state, false, [&] {
    const std::int64_t start = monotonic_ns();
    const std::vector<std::int64_t>& rtt_ns = echo.run();
    return echo_outcome(params, monotonic_ns() - start, rtt_ns);
  });
}

}  // namespace

LibraryBaselines libev_baselines() {
  return {"libev", &bm_callback_chain, &bm_timer_storm, &bm_parallel_sleeps, &bm_tcp_echo};
}

}  // namespace loopbench::bench
