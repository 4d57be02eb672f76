// Baselines written directly on libuv: uv_idle_t for the callback chain
// (libuv has no call_soon; an idle handle started by one link runs the next
// link in the next loop iteration, which is how uvloop runs its ready queue),
// and one uv_timer_t per timer or sleeper, as libuv's own million_timers
// benchmark does. The echo is uv_tcp_t streams: uv_read_start and
// uv_try_write (uv_write for what the socket does not take at once), as
// uvloop writes.
//
// libuv's timers count whole milliseconds from uv_now(), which is cached per
// iteration and truncated, so these baselines can fire before the deadline
// measured on CLOCK_MONOTONIC (libuv#4773): their early_wakeups counter shows
// what our uv backend pays to never do that. Handles are closed after the
// timed part, as teardown_ns.
#include <uv.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../bench_support.hpp"
#include "baselines.hpp"

namespace loopbench::bench {
namespace {

constexpr std::int64_t kNanosPerMilli = 1'000'000;

void check(int result, const char* what) {
  if (result < 0) {
    throw std::runtime_error(std::string(what) + ": " + uv_strerror(result));
  }
}

// Whole milliseconds, rounded up: never a shorter timeout than asked for.
std::uint64_t timeout_ms(std::int64_t ns) {
  return static_cast<std::uint64_t>((ns + kNanosPerMilli - 1) / kNanosPerMilli);
}

std::int64_t hrtime() {
  return static_cast<std::int64_t>(uv_hrtime());  // CLOCK_MONOTONIC.
}

// A uv_loop_t for one benchmark. Its destructor closes the handles still open
// (on any path out of the benchmark), so they must outlive it: declare them first.
class UvLoop {
 public:
  UvLoop() { check(uv_loop_init(&loop_), "uv_loop_init"); }
  ~UvLoop() {
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
          if (uv_is_closing(handle) == 0) {
            uv_close(handle, nullptr);
          }
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  UvLoop(const UvLoop&) = delete;
  UvLoop& operator=(const UvLoop&) = delete;
  uv_loop_t* get() noexcept { return &loop_; }

  // Closes every handle in `handles` and runs the loop until they are closed.
  template <class Handles, class Project>
  void close_all(Handles& handles, Project project) {
    for (auto& handle : handles) {
      uv_close(reinterpret_cast<uv_handle_t*>(project(handle)), nullptr);
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

 private:
  uv_loop_t loop_{};
};

// --- callback_chain ---------------------------------------------------------------------------

struct Chain {
  uv_idle_t idle;
  std::int64_t remaining;
};

void chain_link(uv_idle_t* idle) {
  auto* chain = static_cast<Chain*>(idle->data);
  uv_idle_stop(idle);  // This link has run...
  if (--chain->remaining == 0) {
    return;
  }
  uv_idle_start(idle, &chain_link);  // ...and it schedules the next one.
}

void bm_callback_chain(benchmark::State& state, std::int64_t n) {
  Chain chain{};
  UvLoop loop;
  check(uv_idle_init(loop.get(), &chain.idle), "uv_idle_init");
  chain.idle.data = &chain;
  run_baseline(state, false, [&] {
    chain.remaining = n;
    const std::int64_t start = hrtime();
    check(uv_idle_start(&chain.idle, &chain_link), "uv_idle_start");
    uv_run(loop.get(), UV_RUN_DEFAULT);
    return chain_outcome(n, hrtime() - start);
  });
}

// --- timer_storm ------------------------------------------------------------------------------

struct Storm {
  std::vector<uv_timer_t> timers;
  std::vector<std::int64_t> lateness_ns;
  std::int64_t base_ns = 0;
  StormParams params{};

  std::int64_t offset_ns(std::int64_t i) const { return storm_offset_ns(params, i); }
};

void storm_fired(uv_timer_t* timer) {
  auto* storm = static_cast<Storm*>(timer->data);
  const std::int64_t index = timer - storm->timers.data();
  storm->lateness_ns.push_back(hrtime() - (storm->base_ns + storm->offset_ns(index)));
}

void bm_timer_storm(benchmark::State& state, StormParams params) {
  Storm storm;
  UvLoop loop;
  storm.params = params;
  storm.timers.resize(static_cast<std::size_t>(params.n));
  storm.lateness_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    storm.lateness_ns.clear();
    const std::int64_t start = hrtime();
    uv_update_time(loop.get());  // Timeouts count from uv_now(): make it current.
    storm.base_ns = hrtime();
    for (std::int64_t i = 0; i < params.n; ++i) {
      uv_timer_t& timer = storm.timers[static_cast<std::size_t>(i)];
      check(uv_timer_init(loop.get(), &timer), "uv_timer_init");
      timer.data = &storm;
      check(uv_timer_start(&timer, &storm_fired, timeout_ms(storm.offset_ns(i)), 0),
            "uv_timer_start");
    }
    const std::int64_t scheduled = hrtime();
    uv_run(loop.get(), UV_RUN_DEFAULT);
    const std::int64_t done = hrtime();
    loop.close_all(storm.timers, [](uv_timer_t& timer) { return &timer; });
    Outcome outcome = storm_outcome(params, scheduled - start, done - start, storm.lateness_ns);
    outcome.metrics["teardown_ns"] = static_cast<double>(hrtime() - done);
    return outcome;
  });
}

// --- parallel_sleeps --------------------------------------------------------------------------

struct Sleeper {
  uv_timer_t timer;
  std::int64_t deadline_ns;
  std::vector<std::int64_t>* overshoot_ns;
};

void sleeper_woke(uv_timer_t* timer) {
  auto* sleeper = static_cast<Sleeper*>(timer->data);
  sleeper->overshoot_ns->push_back(hrtime() - sleeper->deadline_ns);
}

void bm_parallel_sleeps(benchmark::State& state, SleepsParams params) {
  std::vector<Sleeper> sleepers(static_cast<std::size_t>(params.n));
  UvLoop loop;
  std::vector<std::int64_t> overshoot_ns;
  overshoot_ns.reserve(static_cast<std::size_t>(params.n));
  const std::uint64_t delay_ms = timeout_ms(params.duration.count());
  run_baseline(state, true, [&] {
    overshoot_ns.clear();
    const std::int64_t start = hrtime();
    uv_update_time(loop.get());
    for (Sleeper& sleeper : sleepers) {
      check(uv_timer_init(loop.get(), &sleeper.timer), "uv_timer_init");
      sleeper.timer.data = &sleeper;
      sleeper.overshoot_ns = &overshoot_ns;
      // Each sleeper takes its own deadline from the clock, as each task does.
      sleeper.deadline_ns = hrtime() + params.duration.count();
      check(uv_timer_start(&sleeper.timer, &sleeper_woke, delay_ms, 0), "uv_timer_start");
    }
    uv_run(loop.get(), UV_RUN_DEFAULT);
    const std::int64_t done = hrtime();
    loop.close_all(sleepers, [](Sleeper& sleeper) { return &sleeper.timer; });
    Outcome outcome = sleeps_outcome(params, done - start, overshoot_ns);
    outcome.metrics["teardown_ns"] = static_cast<double>(hrtime() - done);
    return outcome;
  });
}

// --- tcp_echo ---------------------------------------------------------------------------------

class Echo;

// One connection, both ends on this loop. A round trip runs from the client's
// write of the message to the read that completes its echo; the server
// echoes whatever each read brings (reading again once that is written).
struct EchoConnection {
  uv_tcp_t client{};
  uv_tcp_t server{};
  uv_write_t client_write{};
  uv_write_t server_write{};
  std::vector<char> message;
  std::vector<char> echo;
  std::vector<char> served;
  std::size_t echo_received = 0;
  std::int64_t remaining = 0;
  std::int64_t sent_at = 0;
  Echo* owner = nullptr;
};

class Echo {
 public:
  // The connections must outlive `loop`, which closes their handles.
  Echo(std::vector<std::unique_ptr<EchoConnection>>& connections, UvLoop& loop, EchoParams params)
      : connections_(connections), loop_(loop), params_(params) {
    const auto size = static_cast<std::size_t>(params.size);
    for (std::int64_t i = 0; i < params.connections; ++i) {
      EchoConnection& c = *connections_.emplace_back(std::make_unique<EchoConnection>());
      c.message.assign(size, 'x');
      c.echo.resize(size);
      c.served.resize(size);
      c.owner = this;
      const LoopbackConnection fds = loopback_connection();
      open(c.client, fds.client, c);
      open(c.server, fds.server, c);
      check(uv_read_start(as_stream(c.client), &alloc_echo, &on_echo), "uv_read_start");
      check(uv_read_start(as_stream(c.server), &alloc_served, &on_served), "uv_read_start");
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
    uv_run(loop_.get(), UV_RUN_DEFAULT);  // until uv_stop(): the reads stay active
    if (!error_.empty()) {
      throw std::runtime_error(error_);
    }
    return rtt_ns_;
  }

 private:
  static uv_stream_t* as_stream(uv_tcp_t& tcp) { return reinterpret_cast<uv_stream_t*>(&tcp); }
  static EchoConnection& of(uv_handle_t* handle) {
    return *static_cast<EchoConnection*>(handle->data);
  }
  static EchoConnection& of(uv_stream_t* stream) {
    return of(reinterpret_cast<uv_handle_t*>(stream));
  }

  void open(uv_tcp_t& tcp, int fd, EchoConnection& c) {
    check(uv_tcp_init(loop_.get(), &tcp), "uv_tcp_init");
    tcp.data = &c;
    check(uv_tcp_open(&tcp, fd), "uv_tcp_open");
  }

  // Callbacks cannot throw through libuv: the error ends the run instead.
  void fail(int status, const char* what) {
    error_ = std::string(what) + ": " + uv_strerror(status);
    uv_stop(loop_.get());
  }

  // Writes [data, data + size): uv_try_write, then uv_write for the rest.
  // Returns false while uv_write has some left (`done` runs when it is written).
  bool write_all(uv_tcp_t& tcp, uv_write_t& req, char* data, std::size_t size, uv_write_cb done) {
    uv_buf_t buf = uv_buf_init(data, static_cast<unsigned>(size));
    const int sent = uv_try_write(as_stream(tcp), &buf, 1);
    if (sent == static_cast<int>(size)) {
      return true;
    }
    if (sent < 0 && sent != UV_EAGAIN) {
      fail(sent, "uv_try_write");
      return true;
    }
    const auto taken = static_cast<std::size_t>(std::max(sent, 0));
    buf = uv_buf_init(data + taken, static_cast<unsigned>(size - taken));
    if (const int err = uv_write(&req, as_stream(tcp), &buf, 1, done); err != 0) {
      fail(err, "uv_write");
      return true;
    }
    return false;
  }

  void send(EchoConnection& c) {
    c.sent_at = hrtime();
    write_all(c.client, c.client_write, c.message.data(), c.message.size(), &on_sent);
  }

  static void on_sent(uv_write_t* req, int status) {
    if (status != 0) {
      of(req->handle).owner->fail(status, "client write");
    }
  }

  static void alloc_echo(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) {
    EchoConnection& c = of(handle);
    *buf = uv_buf_init(c.echo.data() + c.echo_received,
                       static_cast<unsigned>(c.echo.size() - c.echo_received));
  }

  static void on_echo(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
    EchoConnection& c = of(stream);
    Echo& echo = *c.owner;
    if (nread < 0) {
      echo.fail(static_cast<int>(nread), "client read");
      return;
    }
    c.echo_received += static_cast<std::size_t>(nread);
    if (c.echo_received < c.echo.size()) {
      return;
    }
    c.echo_received = 0;
    echo.rtt_ns_.push_back(hrtime() - c.sent_at);
    if (--c.remaining > 0) {
      echo.send(c);
    } else if (--echo.active_ == 0) {
      uv_stop(echo.loop_.get());
    }
  }

  static void alloc_served(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) {
    EchoConnection& c = of(handle);
    *buf = uv_buf_init(c.served.data(), static_cast<unsigned>(c.served.size()));
  }

  static void on_served(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
    EchoConnection& c = of(stream);
    if (nread < 0) {
      c.owner->fail(static_cast<int>(nread), "server read");
      return;
    }
    // `served` is in use until the echo is written: read no more meanwhile.
    if (!c.owner->write_all(c.server, c.server_write, c.served.data(),
                            static_cast<std::size_t>(nread), &on_echoed)) {
      uv_read_stop(stream);
    }
  }

  static void on_echoed(uv_write_t* req, int status) {
    EchoConnection& c = of(req->handle);
    if (status != 0) {
      c.owner->fail(status, "server write");
      return;
    }
    if (const int err = uv_read_start(req->handle, &alloc_served, &on_served); err != 0) {
      c.owner->fail(err, "uv_read_start");
    }
  }

  std::vector<std::unique_ptr<EchoConnection>>& connections_;
  UvLoop& loop_;
  EchoParams params_;
  std::vector<std::int64_t> rtt_ns_;
  std::int64_t active_ = 0;
  std::string error_;
};

void bm_tcp_echo(benchmark::State& state, EchoParams params) {
  std::vector<std::unique_ptr<EchoConnection>> connections;
  UvLoop loop;
  Echo echo(connections, loop, params);
  run_baseline(state, false, [&] {
    const std::int64_t start = hrtime();
    const std::vector<std::int64_t>& rtt_ns = echo.run();
    return echo_outcome(params, hrtime() - start, rtt_ns);
  });
}

}  // namespace

LibraryBaselines uv_baselines() {
  return {"uv", &bm_callback_chain, &bm_timer_storm, &bm_parallel_sleeps, &bm_tcp_echo};
}

}  // namespace loopbench::bench
