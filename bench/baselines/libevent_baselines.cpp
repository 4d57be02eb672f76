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
//  - tcp_echo: persistent EV_READ events on non-blocking sockets (bench.c's
//    EV_READ | EV_PERSIST), which write at once and add an EV_WRITE event
//    only for what the socket does not take; the run ends with
//    event_base_loopbreak().
//
// Outside event_base_loop() libevent caches no time: evtimer_add() reads the
// clock itself, after the run's own clock reading, so each timer is due at
// or after the deadline its lateness is measured from. The events must
// outlive the base: event_base_free() deletes the ones still added.
#include <event2/event.h>
#include <event2/event_struct.h>
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

class Echo;
struct EchoConnection;

// Bytes a socket did not take at once, written by an EV_WRITE event as room
// appears.
struct Outbox {
  event writable{};
  EchoConnection* connection = nullptr;
  const char* data = nullptr;
  std::size_t left = 0;
};

// One connection, both ends on this base. A round trip runs from the
// client's write of the message to the read that completes its echo; the
// server echoes whatever each read brings, reading again once that is
// written.
struct EchoConnection {
  Fd client;
  Fd server;
  event client_readable{};
  event server_readable{};
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
  // The connections must outlive `base`, which deletes their events when freed.
  Echo(std::vector<std::unique_ptr<EchoConnection>>& connections, const EventBase& base,
       EchoParams params)
      : connections_(connections), base_(base.get()), params_(params) {
    const auto size = static_cast<std::size_t>(params.size);
    for (std::int64_t i = 0; i < params.connections; ++i) {
      EchoConnection& c =
          *connections_.emplace_back(std::make_unique<EchoConnection>(loopback_connection()));
      c.message.assign(size, 'e');
      c.echo.resize(size);
      c.served.resize(size);
      c.owner = this;
      // libevent's reference: sockets in an event loop are non-blocking
      // (what evutil_make_socket_nonblocking does).
      set_non_blocking(c.client.get());
      set_non_blocking(c.server.get());
      event_assign(&c.client_readable, base_, c.client.get(), EV_READ | EV_PERSIST, &on_echo, &c);
      event_assign(&c.server_readable, base_, c.server.get(), EV_READ | EV_PERSIST, &on_served, &c);
      event_add(&c.client_readable, nullptr);
      event_add(&c.server_readable, nullptr);
      for (Outbox* outbox : {&c.client_out, &c.server_out}) {
        const int fd = outbox == &c.client_out ? c.client.get() : c.server.get();
        outbox->connection = &c;
        event_assign(&outbox->writable, base_, fd, EV_WRITE | EV_PERSIST, &on_writable, outbox);
      }
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
      event_base_dispatch(base_);  // Until loopbreak: the read events stay added.
    }
    if (!error_.empty()) {
      throw std::runtime_error(error_);
    }
    return rtt_ns_;
  }

 private:
  // Callbacks return into libevent, so an error ends the run instead of throwing.
  void fail(const char* what, int error) {
    if (error_.empty()) {
      error_ = std::string(what) + ": " + std::strerror(error);
    }
    event_base_loopbreak(base_);
  }

  // Sends what the socket takes now and leaves the rest to `outbox`'s
  // EV_WRITE event. Returns false while some is left.
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
    event_add(&outbox.writable, nullptr);
    return false;
  }

  void send(EchoConnection& c) {
    c.sent_at = monotonic_ns();
    write(c.client_out, c.client.get(), c.message.data(), c.message.size());
  }

  static void on_writable(evutil_socket_t fd, short /*what*/, void* arg) {
    auto& outbox = *static_cast<Outbox*>(arg);
    EchoConnection& c = *outbox.connection;
    const ssize_t sent = ::send(fd, outbox.data, outbox.left, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno != EAGAIN && errno != EINTR) c.owner->fail("send", errno);
      return;
    }
    outbox.data += sent;
    outbox.left -= static_cast<std::size_t>(sent);
    if (outbox.left > 0) {
      return;
    }
    event_del(&outbox.writable);
    if (&outbox == &c.server_out) {
      event_add(&c.server_readable, nullptr);  // The echo is out: read the next message.
    }
  }

  static void on_echo(evutil_socket_t fd, short /*what*/, void* arg) {
    auto& c = *static_cast<EchoConnection*>(arg);
    Echo& echo = *c.owner;
    const ssize_t got =
        ::recv(fd, c.echo.data() + c.echo_received, c.echo.size() - c.echo_received, 0);
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
      event_base_loopbreak(echo.base_);
    }
  }

  static void on_served(evutil_socket_t fd, short /*what*/, void* arg) {
    auto& c = *static_cast<EchoConnection*>(arg);
    const ssize_t got = ::recv(fd, c.served.data(), c.served.size(), 0);
    if (got <= 0) {
      if (got == 0) {
        c.owner->fail("server read", ECONNRESET);
      } else if (errno != EAGAIN && errno != EINTR) {
        c.owner->fail("server read", errno);
      }
      return;
    }
    // `served` is in use until the echo is written: read no more meanwhile.
    if (!c.owner->write(c.server_out, fd, c.served.data(), static_cast<std::size_t>(got))) {
      event_del(&c.server_readable);
    }
  }

  std::vector<std::unique_ptr<EchoConnection>>& connections_;
  event_base* base_;
  EchoParams params_;
  std::vector<std::int64_t> rtt_ns_;
  std::int64_t active_ = 0;
  std::string error_;
};

void bm_tcp_echo(benchmark::State& state, EchoParams params) {
  std::vector<std::unique_ptr<EchoConnection>> connections;
  EventBase base;
  Echo echo(connections, base, params);
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
