// What the TCP scenarios (tcp_echo, fetch_many) share: an echo server on
// 127.0.0.1 served by the loop under test, and the bounds that keep a run
// within the process's descriptors.
#pragma once

#include <chrono>
#include <cstdint>

#include "loops/loops.hpp"

namespace scenarios::detail {

// An echo server on 127.0.0.1 and an ephemeral port. Each connection gets
// every byte back until end of stream; with a `delay`, each chunk is held
// that long first (a slow service).
loops::Task<loops::Server> start_echo_server(
    std::chrono::nanoseconds delay = std::chrono::nanoseconds(0));

// Closes a server when the run leaves its scope however it leaves (a
// deadline cancels the run's tasks), so that it never outlives the run.
class CloseOnExit {
 public:
  explicit CloseOnExit(loops::Server& server) : server_(server) {}
  CloseOnExit(const CloseOnExit&) = delete;
  CloseOnExit& operator=(const CloseOnExit&) = delete;
  ~CloseOnExit() { server_.close(); }

 private:
  loops::Server& server_;
};

// Raises the soft RLIMIT_NOFILE towards the hard one so that `connections`
// client-and-server pairs (two descriptors each) fit; throws RuntimeError
// naming the limit when they cannot.
void reserve_descriptors(std::int64_t connections);

}  // namespace scenarios::detail
