// Baselines written directly on Boost.Asio: an io_context run by one thread
// (concurrency hint 1, Asio's own single-threaded setting, under which a post
// from the running thread takes no lock), post() for the callback chain,
// steady_timer::async_wait with a completion handler for the timer storm, and
// C++20 coroutines (co_spawn + use_awaitable) for parallel sleepers, since a
// sleeping task is what parallel_sleeps measures, and ip::tcp::socket with
// async_write / async_read / async_read_some completion handlers for the echo.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "../bench_support.hpp"
#include "baselines.hpp"

namespace loopbench::bench {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux.

std::int64_t since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - start).count();
}

// --- callback_chain ---------------------------------------------------------------------------

struct Chain {
  asio::io_context* io;
  std::int64_t remaining;
};

void chain_link(Chain* chain) {
  if (--chain->remaining == 0) {
    return;
  }
  asio::post(*chain->io, [chain] { chain_link(chain); });
}

void bm_callback_chain(benchmark::State& state, std::int64_t n) {
  asio::io_context io(1);
  run_baseline(state, false, [&] {
    io.restart();  // run() returned for lack of work last time.
    Chain chain{&io, n};
    const auto start = SteadyClock::now();
    asio::post(io, [&chain] { chain_link(&chain); });
    io.run();
    return chain_outcome(n, since(start));
  });
}

// --- timer_storm ------------------------------------------------------------------------------

void bm_timer_storm(benchmark::State& state, StormParams params) {
  asio::io_context io(1);
  std::vector<asio::steady_timer> timers;
  std::vector<std::int64_t> lateness_ns;
  // Reserved once: the timers never move while they wait.
  timers.reserve(static_cast<std::size_t>(params.n));
  lateness_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    io.restart();
    lateness_ns.clear();
    const auto start = SteadyClock::now();
    const auto base = SteadyClock::now();
    for (std::int64_t i = 0; i < params.n; ++i) {
      const auto deadline = base + std::chrono::nanoseconds(storm_offset_ns(params, i));
      asio::steady_timer& timer = timers.emplace_back(io, deadline);
      timer.async_wait([&lateness_ns, deadline](const boost::system::error_code& error) {
        if (!error) {
          lateness_ns.push_back((SteadyClock::now() - deadline).count());
        }
      });
    }
    const std::int64_t schedule_ns = since(start);
    io.run();
    const std::int64_t total_ns = since(start);
    const auto teardown_start = SteadyClock::now();
    timers.clear();
    Outcome outcome = storm_outcome(params, schedule_ns, total_ns, lateness_ns);
    outcome.metrics["teardown_ns"] = static_cast<double>(since(teardown_start));
    return outcome;
  });
}

// --- parallel_sleeps --------------------------------------------------------------------------

struct Sleepers {
  std::chrono::nanoseconds duration;
  std::vector<std::int64_t> overshoot_ns;
};

asio::awaitable<void> sleeper(Sleepers* sleepers) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = SteadyClock::now() + sleepers->duration;
  timer.expires_at(deadline);
  co_await timer.async_wait(asio::use_awaitable);
  sleepers->overshoot_ns.push_back((SteadyClock::now() - deadline).count());
}

void bm_parallel_sleeps(benchmark::State& state, SleepsParams params) {
  asio::io_context io(1);
  Sleepers sleepers{params.duration, {}};
  sleepers.overshoot_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    io.restart();
    sleepers.overshoot_ns.clear();
    const auto start = SteadyClock::now();
    for (std::int64_t i = 0; i < params.n; ++i) {
      asio::co_spawn(io, sleeper(&sleepers), asio::detached);
    }
    io.run();
    return sleeps_outcome(params, since(start), sleepers.overshoot_ns);
  });
}

// --- tcp_echo ---------------------------------------------------------------------------------

using Tcp = asio::ip::tcp;

// One connection, both ends in this io_context. A round trip runs from the
// client's async_write of the message to the completion of its async_read of
// the whole echo; the server echoes whatever async_read_some brings.
struct EchoConnection {
  EchoConnection(asio::io_context& io, LoopbackConnection fds, std::size_t size)
      : client(io, Tcp::v4(), fds.client),
        server(io, Tcp::v4(), fds.server),
        message(size, 'x'),
        echo(size),
        served(size) {}

  Tcp::socket client;
  Tcp::socket server;
  std::vector<char> message;
  std::vector<char> echo;
  std::vector<char> served;
  std::int64_t remaining = 0;
  SteadyClock::time_point sent_at;
};

class Echo {
 public:
  Echo(asio::io_context& io, EchoParams params) : io_(io), params_(params) {
    for (std::int64_t i = 0; i < params.connections; ++i) {
      auto& connection = connections_.emplace_back(std::make_unique<EchoConnection>(
          io, loopback_connection(), static_cast<std::size_t>(params.size)));
      serve(*connection);
    }
    rtt_ns_.reserve(static_cast<std::size_t>(params.connections * params.round_trips));
  }

  // Runs every connection's round trips; returns the round-trip times.
  const std::vector<std::int64_t>& run() {
    rtt_ns_.clear();
    active_ = params_.connections;
    io_.restart();  // stop() ended the previous run.
    for (auto& connection : connections_) {
      connection->remaining = params_.round_trips;
      send(*connection);
    }
    io_.run();
    return rtt_ns_;
  }

 private:
  void serve(EchoConnection& c) {
    c.server.async_read_some(
        asio::buffer(c.served), [this, &c](const boost::system::error_code& error, std::size_t n) {
          check(error);
          asio::async_write(c.server, asio::buffer(c.served.data(), n),
                            [this, &c](const boost::system::error_code& write_error, std::size_t) {
                              check(write_error);
                              serve(c);
                            });
        });
  }

  void send(EchoConnection& c) {
    c.sent_at = SteadyClock::now();
    asio::async_write(c.client, asio::buffer(c.message),
                      [](const boost::system::error_code& error, std::size_t) { check(error); });
    asio::async_read(c.client, asio::buffer(c.echo),
                     [this, &c](const boost::system::error_code& error, std::size_t) {
                       check(error);
                       rtt_ns_.push_back(since(c.sent_at));
                       if (--c.remaining > 0) {
                         send(c);
                       } else if (--active_ == 0) {
                         io_.stop();
                       }
                     });
  }

  // Out of io_context::run() and the benchmark, which then reports it.
  static void check(const boost::system::error_code& error) {
    if (error) {
      throw boost::system::system_error(error, "tcp_echo");
    }
  }

  asio::io_context& io_;
  EchoParams params_;
  std::vector<std::unique_ptr<EchoConnection>> connections_;
  std::vector<std::int64_t> rtt_ns_;
  std::int64_t active_ = 0;
};

void bm_tcp_echo(benchmark::State& state, EchoParams params) {
  asio::io_context io(1);
  Echo echo(io, params);
  run_baseline(state, false, [&] {
    const auto start = SteadyClock::now();
    const std::vector<std::int64_t>& rtt_ns = echo.run();
    return echo_outcome(params, since(start), rtt_ns);
  });
}

}  // namespace

LibraryBaselines asio_baselines() {
  return {"asio", &bm_callback_chain, &bm_timer_storm, &bm_parallel_sleeps, &bm_tcp_echo};
}

}  // namespace loopbench::bench
