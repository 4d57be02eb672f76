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
//  - tcp_echo: ev_io read watchers on non-blocking sockets, which write at
//    once and start an EV_WRITE watcher only for what the socket does not
//    take; the run ends with ev_break.
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
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
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

class Echo;

// Bytes a socket did not take at once, written by an EV_WRITE watcher as
// room appears.
struct Outbox {
  ev_io writable{};
  const char* data = nullptr;
  std::size_t left = 0;
};

// One connection, both ends on this loop. A round trip runs from the client's
// write of the message to the read that completes its echo; the server
// echoes whatever each read brings, reading again once that is written.
struct EchoConnection {
  Fd client;
  Fd server;
  ev_io client_readable{};
  ev_io server_readable{};
  Outbox client_out;
  Outbox server_out;
  std::string message;
  std::vector<char> echo;
  std::vector<char> served;
  std::size_t echo_received = 0;
  std::int64_t remaining = 0;
  std::int64_t sent_at = 0;
  Echo* owner = nullptr;

  explicit EchoConnection(LoopbackConnection ends)
      : client(ends.client, "socket"), server(ends.server, "accept4") {}
};

class Echo {
 public:
  // The connections must outlive `loop`, whose watchers point into them.
  Echo(std::vector<std::unique_ptr<EchoConnection>>& connections, const EvLoop& loop,
       EchoParams params)
      : connections_(connections), loop_(loop.get()), params_(params) {
    const auto size = static_cast<std::size_t>(params.size);
    for (std::int64_t i = 0; i < params.connections; ++i) {
      EchoConnection& c =
          *connections_.emplace_back(std::make_unique<EchoConnection>(loopback_connection()));
      c.message.assign(size, 'e');
      c.echo.resize(size);
      c.served.resize(size);
      c.owner = this;
      // libev's manual: watched descriptors should be non-blocking.
      set_non_blocking(c.client.get());
      set_non_blocking(c.server.get());
      watch(c.client_readable, c.client.get(), EV_READ, &on_echo, c);
      watch(c.server_readable, c.server.get(), EV_READ, &on_served, c);
      ev_io_init(&c.client_out.writable, &on_writable, c.client.get(), EV_WRITE);
      c.client_out.writable.data = &c;
      ev_io_init(&c.server_out.writable, &on_writable, c.server.get(), EV_WRITE);
      c.server_out.writable.data = &c;
    }
    rtt_ns_.reserve(static_cast<std::size_t>(params.connections * params.round_trips));
  }

  // Runs every connection's round trips; returns the round-trip times.
  const std::vector<std::int64_t>& run() {
    rtt_ns_.clear();
    active_ = params_.connections;
    for (auto& connection : connections_) {
      connection->remaining = params_.round_trips;
      send(*connection);
    }
    if (error_.empty()) {
      ev_run(loop_, 0);  // Until ev_break: the read watchers stay active.
    }
    if (!error_.empty()) {
      throw std::runtime_error(error_);
    }
    return rtt_ns_;
  }

 private:
  void watch(ev_io& io, int fd, int events, void (*callback)(struct ev_loop*, ev_io*, int),
             EchoConnection& c) {
    ev_io_init(&io, callback, fd, events);
    io.data = &c;
    ev_io_start(loop_, &io);
  }

  // Callbacks return into libev, so an error ends the run instead of throwing.
  void fail(const char* what, int error) {
    if (error_.empty()) {
      error_ = std::string(what) + ": " + std::strerror(error);
    }
    ev_break(loop_, EVBREAK_ALL);
  }

  // Sends what the socket takes now and leaves the rest to `outbox`'s
  // EV_WRITE watcher. Returns false while some is left.
  bool write(Outbox& outbox, int fd, const char* data, std::size_t size) {
    const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent == static_cast<ssize_t>(size)) {
      return true;
    }
    if (sent < 0 && errno != EAGAIN && errno != EINTR) {
      fail("send", errno);
      return true;
    }
    const auto taken = static_cast<std::size_t>(sent > 0 ? sent : 0);
    outbox.data = data + taken;
    outbox.left = size - taken;
    ev_io_start(loop_, &outbox.writable);
    return false;
  }

  void send(EchoConnection& c) {
    c.sent_at = monotonic_ns();
    write(c.client_out, c.client.get(), c.message.data(), c.message.size());
  }

  static void on_writable(struct ev_loop* loop, ev_io* io, int /*revents*/) {
    auto& c = *static_cast<EchoConnection*>(io->data);
    Outbox& outbox = io == &c.client_out.writable ? c.client_out : c.server_out;
    const ssize_t sent = ::send(io->fd, outbox.data, outbox.left, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno != EAGAIN && errno != EINTR) c.owner->fail("send", errno);
      return;
    }
    outbox.data += sent;
    outbox.left -= static_cast<std::size_t>(sent);
    if (outbox.left > 0) {
      return;
    }
    ev_io_stop(loop, io);
    if (&outbox == &c.server_out) {
      ev_io_start(loop, &c.server_readable);  // The echo is out: read the next message.
    }
  }

  static void on_echo(struct ev_loop* /*loop*/, ev_io* io, int /*revents*/) {
    auto& c = *static_cast<EchoConnection*>(io->data);
    Echo& echo = *c.owner;
    const ssize_t got =
        ::recv(io->fd, c.echo.data() + c.echo_received, c.echo.size() - c.echo_received, 0);
    if (got <= 0) {
      if (got == 0) {
        echo.fail("client read", ECONNRESET);
      } else if (errno != EAGAIN && errno != EINTR) {
        echo.fail("client read", errno);
      }
      return;
    }
    c.echo_received += static_cast<std::size_t>(got);
    if (c.echo_received < c.echo.size()) {
      return;
    }
    c.echo_received = 0;
    echo.rtt_ns_.push_back(monotonic_ns() - c.sent_at);
    if (--c.remaining > 0) {
      echo.send(c);
    } else if (--echo.active_ == 0) {
      ev_break(echo.loop_, EVBREAK_ALL);
    }
  }

  static void on_served(struct ev_loop* loop, ev_io* io, int /*revents*/) {
    auto& c = *static_cast<EchoConnection*>(io->data);
    const ssize_t got = ::recv(io->fd, c.served.data(), c.served.size(), 0);
    if (got <= 0) {
      if (got == 0) {
        c.owner->fail("server read", ECONNRESET);
      } else if (errno != EAGAIN && errno != EINTR) {
        c.owner->fail("server read", errno);
      }
      return;
    }
    // `served` is in use until the echo is written: read no more meanwhile.
    if (!c.owner->write(c.server_out, io->fd, c.served.data(), static_cast<std::size_t>(got))) {
      ev_io_stop(loop, io);
    }
  }

  std::vector<std::unique_ptr<EchoConnection>>& connections_;
  struct ev_loop* loop_;
  EchoParams params_;
  std::vector<std::int64_t> rtt_ns_;
  std::int64_t active_ = 0;
  std::string error_;
};

void bm_tcp_echo(benchmark::State& state, EchoParams params) {
  std::vector<std::unique_ptr<EchoConnection>> connections;
  EvLoop loop;
  Echo echo(connections, loop, params);
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
