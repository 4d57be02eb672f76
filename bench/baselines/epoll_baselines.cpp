// Baselines on the raw kernel interfaces: a minimal loop on epoll + one
// timerfd (library "epoll"), bare blocking timerfd waits (library "timerfd")
// for sleep_precision's 1000 sequential 1 ms sleeps, and tcp_echo as one
// epoll_wait loop over two non-blocking sockets (library "epoll": the floor
// for 64-byte round trips on one connection).
//
// RawEpollLoop is what any single-threaded epoll program needs for this work
// and no more: a ready list of plain function pointers run in batches, a
// binary heap of timers, and the earliest deadline armed on a timerfd
// (absolute CLOCK_MONOTONIC, so no timer slack and no rounding) that
// epoll_wait blocks on. No futures, handles, cancellation or thread safety:
// that difference is what the ratio to our scenarios measures.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include "../bench_support.hpp"
#include "baselines.hpp"

namespace loopbench::bench {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

itimerspec absolute(std::int64_t deadline_ns) {
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(deadline_ns / kNanosPerSecond);
  spec.it_value.tv_nsec = static_cast<long>(deadline_ns % kNanosPerSecond);
  return spec;
}

class RawEpollLoop {
 public:
  using Callback = void (*)(void* arg);
  using TimerCallback = void (*)(void* arg, std::int64_t deadline_ns);

  RawEpollLoop() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = timer_.get();
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &ev) < 0) {
      throw_errno("epoll_ctl");
    }
  }

  // Runs fn(arg) in the next batch.
  void post(Callback fn, void* arg) { ready_.push_back({fn, arg}); }

  // Runs fn(arg, deadline_ns) once CLOCK_MONOTONIC reaches deadline_ns.
  void add_timer(std::int64_t deadline_ns, TimerCallback fn, void* arg) {
    timers_.push_back({deadline_ns, sequence_++, fn, arg});
    std::push_heap(timers_.begin(), timers_.end(), later);
  }

  // Runs until nothing is ready and no timer is left.
  void run() {
    for (;;) {
      if (ready_.empty()) {
        if (timers_.empty()) {
          return;
        }
        wait_until(timers_.front().deadline_ns);
      }
      if (!timers_.empty()) {
        fire_due_timers();
      }
      // Callbacks posted by this batch run in the next one.
      running_.swap(ready_);
      for (const Ready& item : running_) {
        item.fn(item.arg);
      }
      running_.clear();
    }
  }

 private:
  struct Ready {
    Callback fn;
    void* arg;
  };
  struct Timer {
    std::int64_t deadline_ns;
    std::uint64_t sequence;  // FIFO among equal deadlines.
    TimerCallback fn;
    void* arg;
  };
  static bool later(const Timer& a, const Timer& b) noexcept {
    return a.deadline_ns != b.deadline_ns ? a.deadline_ns > b.deadline_ns : a.sequence > b.sequence;
  }

  void fire_due_timers() {
    const std::int64_t now = monotonic_ns();
    while (!timers_.empty() && timers_.front().deadline_ns <= now) {
      std::pop_heap(timers_.begin(), timers_.end(), later);
      const Timer timer = timers_.back();
      timers_.pop_back();
      timer.fn(timer.arg, timer.deadline_ns);
    }
  }

  void wait_until(std::int64_t deadline_ns) {
    if (deadline_ns <= monotonic_ns()) {
      return;
    }
    if (armed_ != deadline_ns) {
      const itimerspec spec = absolute(deadline_ns);
      if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) < 0) {
        throw_errno("timerfd_settime");
      }
      armed_ = deadline_ns;
    }
    epoll_event ev{};
    int count = 0;
    do {
      count = ::epoll_wait(epoll_.get(), &ev, 1, -1);
    } while (count < 0 && errno == EINTR);
    if (count < 0) {
      throw_errno("epoll_wait");
    }
    // The timerfd is the only descriptor: drain it; it is now disarmed.
    std::uint64_t expirations = 0;
    [[maybe_unused]] const ssize_t got = ::read(timer_.get(), &expirations, sizeof expirations);
    armed_ = -1;
  }

  Fd epoll_{::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"};
  Fd timer_{::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create"};
  std::int64_t armed_ = -1;
  std::vector<Ready> ready_;
  std::vector<Ready> running_;
  std::vector<Timer> timers_;
  std::uint64_t sequence_ = 0;
};

// --- callback_chain ---------------------------------------------------------------------------

struct Chain {
  RawEpollLoop* loop;
  std::int64_t remaining;
};

void chain_link(void* arg) {
  auto* chain = static_cast<Chain*>(arg);
  if (--chain->remaining == 0) {
    return;
  }
  chain->loop->post(&chain_link, chain);
}

void bm_callback_chain(benchmark::State& state, std::int64_t n) {
  RawEpollLoop loop;
  run_baseline(state, false, [&] {
    Chain chain{&loop, n};
    const std::int64_t start = monotonic_ns();
    loop.post(&chain_link, &chain);
    loop.run();
    return chain_outcome(n, monotonic_ns() - start);
  });
}

// --- timer_storm ------------------------------------------------------------------------------

struct Storm {
  std::vector<std::int64_t> lateness_ns;
};

void storm_fired(void* arg, std::int64_t deadline_ns) {
  static_cast<Storm*>(arg)->lateness_ns.push_back(monotonic_ns() - deadline_ns);
}

void bm_timer_storm(benchmark::State& state, StormParams params) {
  RawEpollLoop loop;
  Storm storm;
  storm.lateness_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    storm.lateness_ns.clear();
    const std::int64_t start = monotonic_ns();
    const std::int64_t base = monotonic_ns();
    for (std::int64_t i = 0; i < params.n; ++i) {
      loop.add_timer(base + storm_offset_ns(params, i), &storm_fired, &storm);
    }
    const std::int64_t scheduled = monotonic_ns();
    loop.run();
    const std::int64_t done = monotonic_ns();
    return storm_outcome(params, scheduled - start, done - start, storm.lateness_ns);
  });
}

// --- parallel_sleeps --------------------------------------------------------------------------

struct Sleepers {
  std::vector<std::int64_t> overshoot_ns;
};

void sleeper_woke(void* arg, std::int64_t deadline_ns) {
  static_cast<Sleepers*>(arg)->overshoot_ns.push_back(monotonic_ns() - deadline_ns);
}

void bm_parallel_sleeps(benchmark::State& state, SleepsParams params) {
  RawEpollLoop loop;
  Sleepers sleepers;
  sleepers.overshoot_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    sleepers.overshoot_ns.clear();
    const std::int64_t start = monotonic_ns();
    // Each sleeper takes its own deadline from the clock, as each task does.
    for (std::int64_t i = 0; i < params.n; ++i) {
      loop.add_timer(monotonic_ns() + params.duration.count(), &sleeper_woke, &sleepers);
    }
    loop.run();
    return sleeps_outcome(params, monotonic_ns() - start, sleepers.overshoot_ns);
  });
}

// --- sleep_precision on a bare timerfd --------------------------------------------------------

void bm_timerfd_sleeps(benchmark::State& state, SleepsParams params) {
  // Blocking: read() itself is the wait, with nothing else in between.
  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), "timerfd_create");
  std::vector<std::int64_t> overshoot_ns;
  overshoot_ns.reserve(static_cast<std::size_t>(params.n));
  run_baseline(state, true, [&] {
    overshoot_ns.clear();
    const std::int64_t start = monotonic_ns();
    for (std::int64_t i = 0; i < params.n; ++i) {
      const std::int64_t deadline = monotonic_ns() + params.duration.count();
      const itimerspec spec = absolute(deadline);
      if (::timerfd_settime(timer.get(), TFD_TIMER_ABSTIME, &spec, nullptr) < 0) {
        throw_errno("timerfd_settime");
      }
      std::uint64_t expirations = 0;
      while (::read(timer.get(), &expirations, sizeof expirations) < 0) {
        if (errno != EINTR) {
          throw_errno("read(timerfd)");
        }
      }
      overshoot_ns.push_back(monotonic_ns() - deadline);
    }
    Outcome outcome;
    outcome.wall_ns = monotonic_ns() - start;
    outcome.items = static_cast<double>(params.n);
    outcome.metrics = {{"sleeps", static_cast<double>(params.n)}};
    outcome.latency_ns = &overshoot_ns;
    return outcome;
  });
}

// --- tcp_echo on raw epoll -------------------------------------------------------------------

// One connection over 127.0.0.1 with both ends in this thread, as in the
// scenario: the client sends s bytes; the server end sends back whatever it
// receives; the round trip ends when the client has all s bytes back. Both
// sockets stay registered (level-triggered EPOLLIN) and writes go straight to
// send(): 64-byte messages never fill a socket buffer.
class EchoConnection {
 public:
  EchoConnection() : EchoConnection(loopback_connection()) {}

  explicit EchoConnection(LoopbackConnection ends)
      : client_(ends.client, "socket"), server_(ends.server, "accept4") {
    for (const int fd : {client_.get(), server_.get()}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
        throw_errno("epoll_ctl");
      }
    }
  }

  // Sends `message` and waits until all of it has come back.
  void round_trip(const std::string& message) {
    send_all(client_.get(), message.data(), message.size());
    std::size_t echoed = 0;
    while (echoed < message.size()) {
      epoll_event events[2];
      const int count = ::epoll_wait(epoll_.get(), events, 2, -1);
      if (count < 0 && errno != EINTR) {
        throw_errno("epoll_wait");
      }
      for (int i = 0; i < count; ++i) {
        const int fd = events[i].data.fd;
        const std::size_t got = receive(fd);
        if (fd == server_.get()) {
          send_all(fd, buffer_, got);
        } else {
          echoed += got;
        }
      }
    }
  }

 private:
  std::size_t receive(int fd) {
    const ssize_t n = ::recv(fd, buffer_, sizeof buffer_, 0);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      throw_errno("recv");
    }
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  static void send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) {
          continue;
        }
        throw_errno("send");
      }
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  Fd epoll_{::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"};
  Fd client_;
  Fd server_;
  char buffer_[64 * 1024];
};

void bm_tcp_echo(benchmark::State& state, EchoParams params) {
  std::vector<std::int64_t> rtt_ns;
  rtt_ns.reserve(static_cast<std::size_t>(params.round_trips));
  const std::string message(static_cast<std::size_t>(params.size), 'e');
  EchoConnection connection;
  run_baseline(state, false, [&] {
    rtt_ns.clear();
    const std::int64_t start = monotonic_ns();
    for (std::int64_t i = 0; i < params.round_trips; ++i) {
      const std::int64_t sent = monotonic_ns();
      connection.round_trip(message);
      rtt_ns.push_back(monotonic_ns() - sent);
    }
    return echo_outcome(params, monotonic_ns() - start, rtt_ns);
  });
}

}  // namespace

LibraryBaselines epoll_baselines() {
  return {"epoll", &bm_callback_chain, &bm_timer_storm, &bm_parallel_sleeps, &bm_tcp_echo};
}

LibraryBaselines timerfd_baselines() {
  return {.library = "timerfd", .sleep_precision = &bm_timerfd_sleeps};
}

}  // namespace loopbench::bench
