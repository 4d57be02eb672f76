#include "bench_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "scenarios/scenario.hpp"

namespace loopbench::bench {

std::string BenchParams::text() const {
  std::string out;
  for (const auto& [key, value] : assignments) {
    if (!out.empty()) {
      out += ',';
    }
    out.append(key).append(1, '=').append(value);
  }
  return out.empty() ? "defaults" : out;
}

std::vector<BenchParams> bench_params(const scenarios::Scenario& scenario, const Sizes& sizes) {
  std::vector<BenchParams> out;
  for (const scenarios::BenchSet& set : scenario.benchmark_sets()) {
    BenchParams params;
    params.large = set.large;
    params.baselines = set.baselines;
    std::vector<std::string> assignments;
    for (const auto& assignment : set.assignments) {
      const auto eq = assignment.find('=');
      std::string key = assignment.substr(0, eq);
      std::string value = assignment.substr(eq + 1);
      if (key == scenario.size_param) {
        value = std::to_string(sizes.count(std::stoll(value)));
      }
      assignments.push_back(key + "=" + value);
      params.assignments.emplace_back(std::move(key), std::move(value));
    }
    params.values = scenario.parse(assignments);
    out.push_back(std::move(params));
  }
  return out;
}

std::string baseline_name(const std::string& library, const std::string& scenario,
                          const std::string& params, bool large) {
  return "baseline/" + library + "/" + scenario + "/" + params + (large ? "/large" : "");
}

namespace {
double min_of(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::min_element(values.begin(), values.end());
}
}  // namespace

benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b) {
  // No Unit(): it would override --benchmark_time_unit (main() makes ms the default).
  b->UseManualTime()->ComputeStatistics("min", &min_of);
  // Counted: a fixed number of runs, so that every repetition counts alike.
  return counted_registration() ? b->Iterations(kCountedRuns) : b;
}

void register_baseline(const std::string& name, std::function<void(benchmark::State&)> body) {
  if (counted_registration() && !counts_repeat(name + "/manual_time")) {
    return;
  }
  configure(
      benchmark::RegisterBenchmark(name.c_str(), [body = std::move(body)](benchmark::State& state) {
        try {
          body(state);
        } catch (const std::exception& error) {
          state.SkipWithError(error.what());
        }
      }));
}

std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t thread_cpu_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// --- Echo baselines -------------------------------------------------------------------------

namespace {

void check_errno(int result, const char* what) {
  if (result != 0) {
    throw std::system_error(errno, std::generic_category(), what);
  }
}

void set_nodelay(int fd) {
  const int on = 1;
  check_errno(::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), "TCP_NODELAY");
}

}  // namespace

LoopbackConnection loopback_connection() {
  const Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  auto* raw = reinterpret_cast<sockaddr*>(&addr);
  check_errno(::bind(listener.get(), raw, len), "bind 127.0.0.1");
  check_errno(::listen(listener.get(), 1), "listen");
  check_errno(::getsockname(listener.get(), raw, &len), "getsockname");
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
  // Loopback completes the handshake from the backlog, before accept().
  check_errno(::connect(client.get(), raw, len), "connect 127.0.0.1");
  Fd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC), "accept4");
  set_nodelay(client.get());
  set_nodelay(server.get());
  return {client.release(), server.release()};
}

ReadinessEcho::Connection::Connection(LoopbackConnection ends)
    : ends{Fd(ends.client, "socket"), Fd(ends.server, "accept4")} {
  // The readiness libraries' manuals: watched descriptors are non-blocking.
  for (const Fd& end : this->ends) {
    const int flags = ::fcntl(end.get(), F_GETFL);
    check_errno(flags < 0 ? flags : ::fcntl(end.get(), F_SETFL, flags | O_NONBLOCK),
                "fcntl(O_NONBLOCK)");
  }
}

ReadinessEcho::ReadinessEcho(EchoParams params) : params_(params) {
  const auto size = static_cast<std::size_t>(params.size);
  for (std::int64_t i = 0; i < params.connections; ++i) {
    Connection& c = *connections_.emplace_back(std::make_unique<Connection>(loopback_connection()));
    c.message.assign(size, 'e');
    c.echo.resize(size);
    c.served.resize(size);
    c.index = static_cast<std::size_t>(i);
  }
  rtt_ns_.reserve(static_cast<std::size_t>(params.connections * params.round_trips));
}

const std::vector<std::int64_t>& ReadinessEcho::run() {
  rtt_ns_.clear();
  active_ = params_.connections;
  for (auto& connection : connections_) {
    connection->remaining = params_.round_trips;
    send(*connection);
  }
  if (error_.empty()) {
    run_loop();
  }
  if (!error_.empty()) {
    throw std::runtime_error(error_);
  }
  return rtt_ns_;
}

void ReadinessEcho::fail(const char* what, int error) {
  if (error_.empty()) {
    error_ = std::string(what) + ": " + std::strerror(error);
  }
  stop_loop();
}

bool ReadinessEcho::write(Connection& c, Side side, const char* data, std::size_t size) {
  const ssize_t sent = ::send(c.fd(side), data, size, MSG_NOSIGNAL);
  if (sent == static_cast<ssize_t>(size)) {
    return true;
  }
  if (sent < 0 && errno != EAGAIN && errno != EINTR) {
    fail("send", errno);
    return true;
  }
  const auto taken = static_cast<std::size_t>(sent > 0 ? sent : 0);
  c.unsent[side] = data + taken;
  c.left[side] = size - taken;
  watch_writable(c, side, true);
  return false;
}

void ReadinessEcho::send(Connection& c) {
  c.sent_at = monotonic_ns();
  write(c, kClient, c.message.data(), c.message.size());
}

void ReadinessEcho::on_writable(Connection& c, Side side) {
  const ssize_t sent = ::send(c.fd(side), c.unsent[side], c.left[side], MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno != EAGAIN && errno != EINTR) fail("send", errno);
    return;
  }
  c.unsent[side] += sent;
  c.left[side] -= static_cast<std::size_t>(sent);
  if (c.left[side] > 0) {
    return;
  }
  watch_writable(c, side, false);
  if (side == kServer) {
    watch_served(c, true);  // The echo is out: read the next message.
  }
}

void ReadinessEcho::on_readable(Connection& c, Side side) {
  const bool client = side == kClient;
  char* into = client ? c.echo.data() + c.echo_received : c.served.data();
  const std::size_t room = client ? c.echo.size() - c.echo_received : c.served.size();
  const ssize_t got = ::recv(c.fd(side), into, room, 0);
  if (got <= 0) {
    const char* what = client ? "client read" : "server read";
    if (got == 0) {
      fail(what, ECONNRESET);
    } else if (errno != EAGAIN && errno != EINTR) {
      fail(what, errno);
    }
    return;
  }
  if (!client) {
    // `served` is in use until the echo is written: read no more meanwhile.
    if (!write(c, kServer, c.served.data(), static_cast<std::size_t>(got))) {
      watch_served(c, false);
    }
    return;
  }
  c.echo_received += static_cast<std::size_t>(got);
  if (c.echo_received < c.echo.size()) {
    return;
  }
  c.echo_received = 0;
  rtt_ns_.push_back(monotonic_ns() - c.sent_at);
  if (--c.remaining > 0) {
    send(c);
  } else if (--active_ == 0) {
    stop_loop();
  }
}

Outcome chain_outcome(std::int64_t n, std::int64_t wall_ns) {
  Outcome outcome;
  outcome.wall_ns = wall_ns;
  outcome.items = static_cast<double>(n);
  outcome.metrics = {{"callbacks", static_cast<double>(n)},
                     {"ns_per_callback", per_item(wall_ns, n)}};
  return outcome;
}

Outcome storm_outcome(const StormParams& p, std::int64_t schedule_ns, std::int64_t total_ns,
                      const std::vector<std::int64_t>& lateness_ns) {
  Outcome outcome;
  outcome.wall_ns = total_ns;
  outcome.items = static_cast<double>(p.n);
  outcome.metrics = {
      {"timers", static_cast<double>(p.n)},
      {"schedule_ns", static_cast<double>(schedule_ns)},
      {"schedule_ns_per_timer", per_item(schedule_ns, p.n)},
      {"dispatch_ns", static_cast<double>(total_ns - schedule_ns)},
      {"total_ns", static_cast<double>(total_ns)},
  };
  outcome.latency_ns = &lateness_ns;
  return outcome;
}

Outcome sleeps_outcome(const SleepsParams& p, std::int64_t wall_ns,
                       const std::vector<std::int64_t>& overshoot_ns) {
  Outcome outcome;
  outcome.wall_ns = wall_ns;
  outcome.items = static_cast<double>(p.n);
  outcome.metrics = {
      {"tasks", static_cast<double>(p.n)},
      {"overhead_ns_per_task", per_item(wall_ns - p.duration.count(), p.n)},
  };
  outcome.latency_ns = &overshoot_ns;
  return outcome;
}

Outcome echo_outcome(const EchoParams& p, std::int64_t wall_ns,
                     const std::vector<std::int64_t>& rtt_ns) {
  const std::int64_t round_trips = p.connections * p.round_trips;
  Outcome outcome;
  outcome.wall_ns = wall_ns;
  outcome.items = static_cast<double>(round_trips);
  outcome.metrics = {
      {"round_trips", static_cast<double>(round_trips)},
      {"mb_per_s", static_cast<double>(round_trips * p.size) * 1e3 / static_cast<double>(wall_ns)},
  };
  outcome.latency_ns = &rtt_ns;
  return outcome;
}

// --- Peak memory ------------------------------------------------------------------------------

void reset_peak_rss() noexcept {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  // "5" resets only the peak-RSS mark (Linux >= 4.0); it touches no page.
  [[maybe_unused]] const ssize_t written = ::write(fd, "5", 1);
  ::close(fd);
}

double peak_rss_mb() noexcept {
  // VmHWM honours the reset above; ru_maxrss does not.
  if (std::FILE* status = std::fopen("/proc/self/status", "re")) {
    char line[256];
    long kb = -1;
    while (std::fgets(line, sizeof line, status) != nullptr) {
      if (std::strncmp(line, "VmHWM:", 6) == 0) {
        kb = std::strtol(line + 6, nullptr, 10);
        break;
      }
    }
    std::fclose(status);
    if (kb >= 0) {
      return static_cast<double>(kb) / 1024.0;
    }
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// --- Counters ---------------------------------------------------------------------------------

void Recorder::add(std::int64_t wall_ns, std::int64_t cpu_ns, double items,
                   const std::map<std::string, double>& metrics,
                   const std::vector<std::int64_t>& latency_ns) {
  ++iterations_;
  wall_ns_ += wall_ns;
  cpu_ns_ += cpu_ns;
  items_ += items;
  for (const auto& [name, value] : metrics) {
    metric_sums_[name] += value;
  }
  if (lateness_) {
    early_ += std::count_if(latency_ns.begin(), latency_ns.end(), [](auto v) { return v < 0; });
  }
  // Pooled rather than averaged per iteration: a benchmark with one sample per
  // run (stop_race) still gets real percentiles. Capped, so that a long run of
  // big iterations cannot exhaust memory; the counts stay exact.
  const std::size_t room = kMaxPooledSamples - std::min(kMaxPooledSamples, samples_.size());
  const std::size_t take = std::min(room, latency_ns.size());
  samples_.insert(samples_.end(), latency_ns.begin(),
                  latency_ns.begin() + static_cast<std::ptrdiff_t>(take));
}

void Recorder::publish(benchmark::State& state) const {
  if (iterations_ == 0) {
    return;
  }
  const auto mean = [this](double sum) { return sum / static_cast<double>(iterations_); };
  for (const auto& [name, sum] : metric_sums_) {
    if (name == "early_wakeups") {
      continue;  // Published as a total below.
    }
    state.counters[name] = mean(sum);
  }
  if (items_ > 0 && wall_ns_ > 0) {
    state.counters["items_per_s"] = items_ * 1e9 / static_cast<double>(wall_ns_);
    state.counters["cpu_ns_per_item"] = static_cast<double>(cpu_ns_) / items_;
  }
  if (!samples_.empty()) {
    const scenarios::LatencySummary summary = scenarios::summarize(samples_);
    state.counters["samples"] = static_cast<double>(summary.count);
    state.counters["min_ns"] = static_cast<double>(summary.min);
    state.counters["p50_ns"] = static_cast<double>(summary.p50);
    state.counters["p90_ns"] = static_cast<double>(summary.p90);
    state.counters["p99_ns"] = static_cast<double>(summary.p99);
    state.counters["p999_ns"] = static_cast<double>(summary.p999);
    state.counters["max_ns"] = static_cast<double>(summary.max);
  }
  if (lateness_) {
    state.counters["early_wakeups"] = static_cast<double>(early_);
  } else if (const auto it = metric_sums_.find("early_wakeups"); it != metric_sums_.end()) {
    state.counters["early_wakeups"] = it->second;
  }
  state.counters["peak_rss_mb"] = peak_rss_mb();
}

}  // namespace loopbench::bench
