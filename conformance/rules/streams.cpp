// streams-catalogue.md: TCP streams (STREAM-*), plus the load test that 1,000
// concurrent connections leave no descriptor behind. Client and server run on
// the loop under test, over 127.0.0.1.
#include <sys/resource.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace conformance {
namespace {

using loops::Future;
using loops::Server;
using loops::Stream;
using loops::StreamReader;
using loops::StreamWriter;
using loops::Task;

constexpr const char* kLocalhost = "127.0.0.1";
// Far above what any of these exchanges needs: a failure, never a hang.
constexpr auto kExchangeLimit = 20s;

#define REQUIRE_IO()                                                              \
  if (!traits().io)                                                               \
  GTEST_SKIP() << backend()                                                       \
               << " has no socket I/O (traits().io is false): stream rules need " \
                  "real sockets"

// One connection with both ends on this loop, and the server that made it.
struct Pair {
  Server server;
  Stream client;
  Stream accepted;
};

Task<void> keep_accepted(std::shared_ptr<std::optional<Stream>> slot, Future<void> arrived,
                         StreamReader reader, StreamWriter writer) {
  *slot = Stream{std::move(reader), std::move(writer)};
  arrived.set_result();
  co_return;
}

Task<Pair> connected_pair() {
  auto slot = std::make_shared<std::optional<Stream>>();
  Future<void> arrived = loops::get_running_loop().create_future<void>();
  // Not inside the co_await: see start_server in loops/streams.hpp.
  Task<Server> starting = loops::start_server(
      [slot, arrived](StreamReader reader, StreamWriter writer) {
        return keep_accepted(slot, arrived, std::move(reader), std::move(writer));
      },
      kLocalhost, 0);
  Server server = co_await starting;
  Stream client = co_await loops::open_connection(kLocalhost, server.port());
  co_await arrived;
  co_return Pair{server, client, **slot};
}

Task<void> close_pair(Pair& pair) {
  pair.client.writer.close();
  pair.accepted.writer.close();
  co_await pair.client.writer.wait_closed();
  co_await pair.accepted.writer.wait_closed();
  pair.server.close();
  co_await pair.server.wait_closed();
}

// Everything until end of stream.
Task<std::string> read_to_end(StreamReader reader) {
  std::string all;
  for (;;) {
    std::string chunk = co_await reader.read(64 * 1024);
    if (chunk.empty()) co_return all;
    all += chunk;
  }
}

Task<void> yield_iterations(int count) {
  for (int i = 0; i < count; ++i) co_await loops::sleep(0s);
}

// Runs `body` on the loop, failing with TimeoutError rather than hanging.
template <class T>
T run_bounded(loops::EventLoop& loop, Task<T> body) {
  return loop.run_until_complete(loops::wait_for(std::move(body), kExchangeLimit));
}

// --- STREAM-EOF-01 --------------------------------------------------------------------

struct EofSeen {
  std::string data;
  std::string after_eof = "not read";
  bool at_eof = false;
};

Task<void> read_past_eof(EofSeen* seen) {
  Pair pair = co_await connected_pair();
  pair.accepted.writer.write("abc");
  pair.accepted.writer.close();
  seen->data = co_await read_to_end(pair.client.reader);
  seen->after_eof = co_await pair.client.reader.read(100);
  seen->at_eof = pair.client.reader.at_eof();
  co_await close_pair(pair);
}

TEST_P(Conformance, STREAM_EOF_01) {
  REQUIRE_IO();
  EofSeen seen;
  run_bounded(loop(), read_past_eof(&seen));
  EXPECT_EQ(seen.data, "abc");
  EXPECT_EQ(seen.after_eof, "");
  EXPECT_TRUE(seen.at_eof);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

// --- STREAM-EXACT-01 ------------------------------------------------------------------

struct IncompleteSeen {
  bool raised = false;
  std::string partial;
  std::size_t expected = 0;
};

Task<void> read_exactly_past_eof(IncompleteSeen* seen) {
  Pair pair = co_await connected_pair();
  pair.accepted.writer.write("xyz");
  pair.accepted.writer.close();
  try {
    co_await pair.client.reader.read_exactly(10);
  } catch (const loops::IncompleteReadError& error) {
    seen->raised = true;
    seen->partial = error.partial();
    seen->expected = error.expected();
  }
  co_await close_pair(pair);
}

TEST_P(Conformance, STREAM_EXACT_01) {
  REQUIRE_IO();
  IncompleteSeen seen;
  run_bounded(loop(), read_exactly_past_eof(&seen));
  EXPECT_TRUE(seen.raised);
  EXPECT_EQ(seen.partial, "xyz");
  EXPECT_EQ(seen.expected, 10U);
}

// --- STREAM-UNTIL-01 ------------------------------------------------------------------

Task<void> read_until_split_separator(std::string* line, std::string* rest) {
  Pair pair = co_await connected_pair();
  Task<std::string> reading =
      loops::get_running_loop().create_task([](StreamReader reader) -> Task<std::string> {
        co_return co_await reader.read_until("\r\n");
      }(pair.client.reader));
  pair.accepted.writer.write("one\r");
  co_await loops::sleep(20ms);  // The first half arrives on its own.
  pair.accepted.writer.write("\ntwo");
  pair.accepted.writer.close();
  *line = co_await reading;
  *rest = co_await read_to_end(pair.client.reader);
  co_await close_pair(pair);
}

TEST_P(Conformance, STREAM_UNTIL_01) {
  REQUIRE_IO();
  std::string line;
  std::string rest;
  run_bounded(loop(), read_until_split_separator(&line, &rest));
  EXPECT_EQ(line, "one\r\n");
  EXPECT_EQ(rest, "two");
}

// --- STREAM-DRAIN-01 ------------------------------------------------------------------

constexpr std::size_t kHighWater = 1024 * 1024;
constexpr std::size_t kLowWater = 256 * 1024;
// More than loopback's socket buffers take, so that most of it stays ours.
constexpr std::size_t kFlood = 16 * 1024 * 1024;
constexpr std::size_t kReadStep = 16 * 1024;

struct DrainSeen {
  bool small_drain_suspended = true;
  std::size_t buffered_after_flood = 0;
  bool pending_after_flood = false;
  // After the high mark was raised above the buffer: between the marks.
  bool pending_between_marks = false;
  bool new_drain_waits_between_marks = false;
  std::size_t buffered_when_resumed = 0;
  // (write buffer size, drain finished) after each step of the peer's reads.
  std::vector<std::pair<std::size_t, bool>> steps;
  std::size_t received = 0;
};

Task<void> drain_then_note(StreamWriter writer, DrainSeen* seen) {
  co_await writer.drain();
  seen->buffered_when_resumed = writer.write_buffer_size();
}

Task<void> flood_slow_reader(DrainSeen* seen) {
  loops::EventLoop& loop = loops::get_running_loop();
  Pair pair = co_await connected_pair();
  StreamWriter& writer = pair.client.writer;
  writer.set_write_buffer_limits(kHighWater, kLowWater);

  writer.write(std::string(100, 's'));
  const std::uint64_t before = loop.iterations();
  co_await writer.drain();
  seen->small_drain_suspended = loop.iterations() != before;
  seen->received += (co_await pair.accepted.reader.read_exactly(100)).size();

  writer.write(std::string(kFlood, 'f'));
  Task<void> draining = loop.create_task(drain_then_note(writer, seen));
  co_await loops::sleep(20ms);
  seen->buffered_after_flood = writer.write_buffer_size();
  seen->pending_after_flood = !draining.done();
  // Between the marks nothing resumes: only the low mark does.
  writer.set_write_buffer_limits(2 * seen->buffered_after_flood, kLowWater);
  Task<void> second = loop.create_task(writer.drain());
  co_await loops::sleep(20ms);
  seen->pending_between_marks = !draining.done();
  seen->new_drain_waits_between_marks = !second.done();
  while (seen->received < kFlood + 100) {
    seen->received += (co_await pair.accepted.reader.read(kReadStep)).size();
    seen->steps.emplace_back(writer.write_buffer_size(), draining.done());
  }
  co_await draining;
  co_await second;
  co_await close_pair(pair);
}

TEST_P(Conformance, STREAM_DRAIN_01) {
  REQUIRE_IO();
  DrainSeen seen;
  run_bounded(loop(), flood_slow_reader(&seen));
  EXPECT_FALSE(seen.small_drain_suspended) << "drain() below the high mark returns at once";
  EXPECT_GT(seen.buffered_after_flood, kHighWater);
  EXPECT_TRUE(seen.pending_after_flood);
  EXPECT_LE(seen.buffered_when_resumed, kLowWater);
  EXPECT_TRUE(seen.pending_between_marks);
  EXPECT_TRUE(seen.new_drain_waits_between_marks);
  EXPECT_EQ(seen.received, kFlood + 100);
  for (const auto& [buffered, drained] : seen.steps) {
    EXPECT_FALSE(drained && buffered > kLowWater) << "drain finished with " << buffered;
  }
}

// --- STREAM-CLOSE-01 ------------------------------------------------------------------

struct CloseSeen {
  bool write_raised = false;
  bool drain_raised = false;
  bool closing = false;
  std::string peer_got;
};

Task<void> write_after_close(CloseSeen* seen) {
  Pair pair = co_await connected_pair();
  StreamWriter& writer = pair.client.writer;
  writer.write("bye");
  writer.close();
  seen->closing = writer.is_closing();
  try {
    writer.write("x");
  } catch (const loops::StreamClosedError&) {
    seen->write_raised = true;
  }
  try {
    co_await writer.drain();
  } catch (const loops::StreamClosedError&) {
    seen->drain_raised = true;
  }
  co_await writer.wait_closed();
  seen->peer_got = co_await read_to_end(pair.accepted.reader);
  co_await close_pair(pair);
}

TEST_P(Conformance, STREAM_CLOSE_01) {
  REQUIRE_IO();
  record_compat("asyncio drops a write after close with a logged warning; this raises");
  CloseSeen seen;
  run_bounded(loop(), write_after_close(&seen));
  EXPECT_TRUE(seen.closing);
  EXPECT_TRUE(seen.write_raised);
  EXPECT_TRUE(seen.drain_raised);
  EXPECT_EQ(seen.peer_got, "bye") << "close() sends what was buffered, and nothing after";
}

// --- STREAM-CANCEL-01 -----------------------------------------------------------------

Task<std::string> read_five(StreamReader reader) {
  co_return co_await reader.read_exactly(5);
}

// The read is cancelled `delay` iterations after the bytes were sent: before
// they arrive, as they arrive, or after the reader was woken.
Task<std::string> cancel_read_after(int delay) {
  loops::EventLoop& loop = loops::get_running_loop();
  Pair pair = co_await connected_pair();
  Task<std::string> reading = loop.create_task(read_five(pair.client.reader));
  co_await loops::sleep(0s);  // The read is now waiting.
  pair.accepted.writer.write("hello");
  co_await yield_iterations(delay);
  reading.cancel();
  std::string got;
  bool cancelled = false;
  try {
    got = co_await reading;  // Finished before the cancellation landed.
  } catch (const loops::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) got = co_await pair.client.reader.read_exactly(5);
  co_await close_pair(pair);
  co_return got;
}

// A read takes at most n of the buffered bytes and leaves the rest for the next.
Task<std::vector<std::string>> read_in_parts() {
  Pair pair = co_await connected_pair();
  pair.accepted.writer.write("hello");
  co_await pair.accepted.writer.drain();
  std::vector<std::string> parts;
  parts.push_back(co_await pair.client.reader.read_exactly(1));
  parts.push_back(co_await pair.client.reader.read(2));
  parts.push_back(co_await pair.client.reader.read_exactly(2));
  co_await close_pair(pair);
  co_return parts;
}

TEST_P(Conformance, STREAM_CANCEL_01) {
  REQUIRE_IO();
  for (int delay = 0; delay <= 5; ++delay) {
    EXPECT_EQ(run_bounded(loop(), cancel_read_after(delay)), "hello") << "delay " << delay;
  }
  EXPECT_EQ(run_bounded(loop(), read_in_parts()), (std::vector<std::string>{"h", "el", "lo"}));
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

// --- STREAM-REFUSED-01 ----------------------------------------------------------------

Task<void> ignore_connection(StreamReader, StreamWriter) {
  co_return;
}

// A port that was just listened on and is now closed.
Task<std::uint16_t> closed_port() {
  Server server = co_await loops::start_server(&ignore_connection, kLocalhost, 0);
  const std::uint16_t port = server.port();
  server.close();
  co_await server.wait_closed();
  co_return port;
}

Task<int> connect_refused() {
  const std::uint16_t port = co_await closed_port();
  try {
    co_await loops::open_connection("localhost", port);
  } catch (const loops::ConnectionRefusedError& error) {
    co_return error.code();
  }
  co_return 0;
}

TEST_P(Conformance, STREAM_REFUSED_01) {
  REQUIRE_IO();
  EXPECT_EQ(run_bounded(loop(), connect_refused()), ECONNREFUSED);
}

// --- STREAM-SERVER-01 -----------------------------------------------------------------

struct ServerLog {
  int served = 0;
  int finished = 0;
  Future<void> release;
};

Task<void> echo_one_byte_then_hold(ServerLog* log, StreamReader reader, StreamWriter writer) {
  ++log->served;
  writer.write(co_await reader.read_exactly(1));
  co_await log->release;
  ++log->finished;
}

struct ServerSeen {
  std::uint16_t port = 0;
  std::string echoes;
  bool serving_after_close = true;
  bool closed_before_handlers = true;
  int finished_when_closed = 0;
  bool refused_after = false;
};

Task<void> serve_two_then_close(ServerSeen* seen) {
  loops::EventLoop& loop = loops::get_running_loop();
  ServerLog log{0, 0, loop.create_future<void>()};
  Task<Server> starting = loops::start_server(
      [&log](StreamReader reader, StreamWriter writer) {
        return echo_one_byte_then_hold(&log, std::move(reader), std::move(writer));
      },
      kLocalhost, 0);
  Server server = co_await starting;
  seen->port = server.port();
  std::vector<Stream> clients;
  for (const char* byte : {"a", "b"}) {
    clients.push_back(co_await loops::open_connection(kLocalhost, server.port()));
    clients.back().writer.write(byte);
    seen->echoes += co_await clients.back().reader.read_exactly(1);
  }
  server.close();
  seen->serving_after_close = server.is_serving();
  Task<void> closing = loop.create_task(server.wait_closed());
  co_await loops::sleep(20ms);
  seen->closed_before_handlers = closing.done();
  log.release.set_result();
  co_await closing;
  seen->finished_when_closed = log.finished;
  try {
    co_await loops::open_connection(kLocalhost, seen->port);
  } catch (const loops::ConnectionRefusedError&) {
    seen->refused_after = true;
  }
  for (auto& client : clients) {
    client.writer.close();
    co_await client.writer.wait_closed();
  }
}

TEST_P(Conformance, STREAM_SERVER_01) {
  REQUIRE_IO();
  ServerSeen seen;
  run_bounded(loop(), serve_two_then_close(&seen));
  EXPECT_NE(seen.port, 0);
  EXPECT_EQ(seen.echoes, "ab");
  EXPECT_FALSE(seen.serving_after_close);
  EXPECT_FALSE(seen.closed_before_handlers);
  EXPECT_EQ(seen.finished_when_closed, 2);
  EXPECT_TRUE(seen.refused_after);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

// --- Load: 1,000 concurrent connections -----------------------------------------------

class StreamLoad : public Conformance {};

constexpr int kConnections = 1000;
constexpr std::size_t kMessage = 16;

std::size_t open_descriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// Every connection needs two descriptors here (both ends are ours).
void raise_descriptor_limit() {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
}

Task<void> echo_until_eof(StreamReader reader, StreamWriter writer) {
  for (;;) {
    std::string chunk = co_await reader.read(1024);
    if (chunk.empty()) break;
    writer.write(chunk);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

Task<bool> one_exchange(std::uint16_t port) {
  Stream stream = co_await loops::open_connection(kLocalhost, port);
  const std::string message(kMessage, 'm');
  stream.writer.write(message);
  const bool echoed = co_await stream.reader.read_exactly(kMessage) == message;
  stream.writer.close();
  co_await stream.writer.wait_closed();
  co_return echoed;
}

Task<int> many_exchanges() {
  Server server = co_await loops::start_server(&echo_until_eof, kLocalhost, 0);
  std::vector<Task<bool>> exchanges;
  for (int i = 0; i < kConnections; ++i) exchanges.push_back(one_exchange(server.port()));
  const std::vector<bool> echoed = co_await loops::gather(std::move(exchanges));
  server.close();
  co_await server.wait_closed();
  co_return static_cast<int>(std::count(echoed.begin(), echoed.end(), true));
}

TEST_P(StreamLoad, ThousandConnectionsLeaveNoDescriptorBehind) {
  REQUIRE_IO();
  raise_descriptor_limit();
  const std::size_t before = open_descriptors();
  EXPECT_EQ(run_bounded(loop(), many_exchanges()), kConnections);
  // io_uring drops the polls of closed sockets in the next submission.
  loop().run_until_complete(yield_iterations(2));
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_TRUE(no_loop_errors(handled_errors));
}

INSTANTIATE_TEST_SUITE_P(, StreamLoad, ::testing::ValuesIn(backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace conformance
