// tcp_echo: c connections to an echo server on 127.0.0.1, client and server on
// the loop under test, each doing m round trips of an s-byte message (write
// and drain, in pieces of kEchoPiece bytes with a turn of the loop between
// them; then read the echo as it arrives). Latency samples: every round
// trip's time, on CLOCK_MONOTONIC (steady_clock). The throughput metrics
// cover the exchange phase only, from all connections open to all round
// trips done.
#include "scenarios/detail/echo.hpp"
#include "scenarios/detail/harness.hpp"

namespace scenarios::detail {

namespace {

struct EchoRun {
  Activity* clients;
  std::int64_t connections;
  std::string message;  // One for every client.
  std::int64_t round_trips;
  std::vector<std::int64_t> rtt_ns{};
  std::int64_t exchange_ns = 0;
  // Closed at the deadline (see close_connections).
  loops::Server server{};
  Connections clients_side{};
  Connections server_side{};
};

loops::Task<loops::Stream> connect_to(std::uint16_t port) {
  co_return co_await loops::open_connection("127.0.0.1", port);
}

loops::Task<void> round_trips(EchoRun* run, loops::Stream stream) {
  const std::string_view message = run->message;
  for (std::int64_t i = 0; i < run->round_trips; ++i) {
    const auto sent = Clock::now();
    for (std::size_t offset = 0; offset < message.size(); offset += kEchoPiece) {
      if (offset > 0) co_await loops::sleep(std::chrono::seconds(0));
      stream.writer.write(message.substr(offset, kEchoPiece));
      co_await stream.writer.drain();
    }
    for (std::size_t received = 0; received < message.size();) {
      const std::string echo = co_await stream.reader.read(message.size() - received);
      if (echo.empty()) throw loops::RuntimeError("the echo ended early");
      if (message.substr(received, echo.size()) != echo) {
        throw loops::RuntimeError("the echo differs from the message");
      }
      received += echo.size();
    }
    run->rtt_ns.push_back(elapsed_ns(sent));
  }
  stream.writer.close();
  co_await stream.writer.wait_closed();
}

loops::Task<void> client(EchoRun* run, loops::Stream stream, std::size_t index) {
  run->clients->started(index);
  try {
    co_await round_trips(run, std::move(stream));
  } catch (const loops::CancelledError&) {
    run->clients->cancelled(index);
    throw;
  }
  run->clients->finished(index);
}

loops::Task<void> echo_exchanges(EchoRun* run) {
  loops::Server server = co_await start_echo_server(std::chrono::nanoseconds(0), &run->server_side);
  const CloseOnExit closer(server);
  run->server = server;
  std::vector<loops::Task<loops::Stream>> connecting;
  for (std::int64_t i = 0; i < run->connections; ++i)
    connecting.push_back(connect_to(server.port()));
  std::vector<loops::Stream> streams = co_await loops::gather(std::move(connecting));

  const auto start = Clock::now();
  std::vector<loops::Task<void>> clients;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    run->clients_side.push_back(streams[i].writer);
    clients.push_back(client(run, streams[i], i));
    run->clients->attach(clients.back(), i);
  }
  streams.clear();  // Each client closes its own connection.
  co_await loops::gather(std::move(clients));
  run->exchange_ns = elapsed_ns(start);
  server.close();
  co_await server.wait_closed();
}

// At the deadline, before the clean-up cancels the tasks: stops accepting
// and closes every connection (see close_all).
void close_connections(EchoRun* run) {
  run->server.close();
  close_all(run->clients_side);
  close_all(run->server_side);
}

Result run_tcp_echo(loops::EventLoop& loop, const Params& params) {
  Result result;
  Tracker tracker(result);
  const std::int64_t connections = params.integer("c");
  reserve_descriptors(connections);
  EchoRun run{.clients = &tracker.group("clients", "client", static_cast<std::size_t>(connections),
                                        static_cast<std::size_t>(connections) <= kDetailLimit),
              .connections = connections,
              .message = std::string(static_cast<std::size_t>(params.integer("s")), 'e'),
              .round_trips = params.integer("m")};
  run.rtt_ns.reserve(static_cast<std::size_t>(connections * run.round_trips));
  run_to_completion(loop, params, tracker, echo_exchanges(&run),
                    [&run] { close_connections(&run); });

  const auto done = static_cast<double>(run.rtt_ns.size());
  const double seconds = static_cast<double>(run.exchange_ns) * 1e-9;
  result.metrics["connections"] = static_cast<double>(connections);
  result.metrics["message_bytes"] = static_cast<double>(run.message.size());
  result.metrics["round_trips"] = done;
  if (seconds > 0) {
    result.metrics["round_trips_per_s"] = done / seconds;
    // Payload echoed per second, counted once (it crosses the socket twice).
    result.metrics["mb_per_s"] = done * static_cast<double>(run.message.size()) / seconds / 1e6;
  }
  if (result.ok()) result.latency_ns = std::move(run.rtt_ns);
  return result;
}

// Bounds the total work, so that no combination runs for hours.
void validate_tcp_echo(const Params& params) {
  constexpr std::int64_t kMaxRoundTrips = 100'000'000;
  if (params.integer("c") * params.integer("m") > kMaxRoundTrips) {
    throw ParamError("c * m must be at most " + std::to_string(kMaxRoundTrips) + " round trips");
  }
}

}  // namespace

Scenario tcp_echo_scenario() {
  return {
      .name = "tcp_echo",
      .description =
          "c connections echo an s-byte message m times each over 127.0.0.1 (client and server on "
          "the loop); round trips/s, MB/s and round-trip time",
      .params =
          {
              ParamSpec::integer("c", "concurrent connections", 1, 1, 1000),
              ParamSpec::integer("s", "message size in bytes", 64, 1, 1'000'000),
              ParamSpec::integer("m", "round trips per connection", 10'000, 1, 10'000'000),
          },
      .run = &run_tcp_echo,
      .validate = &validate_tcp_echo,
      .needs = {.io = true},
      .metrics = {{"connections", ""},
                  {"message_bytes", "B"},
                  {"round_trips", ""},
                  {"round_trips_per_s", "1/s"},
                  {"mb_per_s", "MB/s"}},
      .items_metric = "round_trips",
      .size_param = "m",
      .latency = "each round trip: write and drain, then read the whole echo, on CLOCK_MONOTONIC",
      // The first is also the raw baselines' (64-byte round trips on one
      // connection); the second loads the loop with many connections, which
      // the epoll baseline does not have.
      .bench_sets = {{{"c=1", "s=64", "m=10000"}},
                     {.assignments = {"c=100", "s=1024", "m=100"}, .baselines = false}},
      .repeatability = [](const Params&) { return Repeatability::never; },
      .endless = {"m=10M"},
  };
}

}  // namespace scenarios::detail
