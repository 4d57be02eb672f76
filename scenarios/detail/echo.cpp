#include "scenarios/detail/echo.hpp"

#include <sys/resource.h>

#include <string>

namespace scenarios::detail {

namespace {

// Descriptors the process needs besides the connections (loop, stdio, ...).
constexpr rlim_t kSpareDescriptors = 64;

loops::Task<void> echo_connection(std::chrono::nanoseconds delay, loops::StreamReader reader,
                                  loops::StreamWriter writer) {
  for (;;) {
    const std::string chunk = co_await reader.read(kEchoPiece);
    if (chunk.empty()) break;
    if (delay.count() > 0) co_await loops::sleep(delay);
    writer.write(chunk);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

}  // namespace

loops::Task<loops::Server> start_echo_server(std::chrono::nanoseconds delay,
                                             Connections* accepted) {
  // Not inside the co_await: see start_server in loops/streams.hpp.
  loops::Task<loops::Server> starting = loops::start_server(
      [delay, accepted](loops::StreamReader reader, loops::StreamWriter writer) {
        if (accepted != nullptr) accepted->push_back(writer);
        return echo_connection(delay, std::move(reader), std::move(writer));
      },
      "127.0.0.1", 0);
  co_return co_await starting;
}

void close_all(Connections& connections) {
  for (loops::StreamWriter& writer : connections) writer.close();
}

void reserve_descriptors(std::int64_t connections) {
  const rlim_t needed = 2 * static_cast<rlim_t>(connections) + kSpareDescriptors;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  if (limit.rlim_max < needed) {
    throw loops::RuntimeError(std::to_string(connections) + " connections need " +
                              std::to_string(needed) + " descriptors; RLIMIT_NOFILE allows " +
                              std::to_string(limit.rlim_max));
  }
  limit.rlim_cur = needed;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace scenarios::detail
