// What the TCP scenarios (tcp_echo, fetch_many) share: an echo server on
// 127.0.0.1 served by the loop under test, and the bounds that keep a run
// within the process's descriptors.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "loops/loops.hpp"

namespace scenarios::detail {

// The most bytes one step of an echo client or of the echo server copies:
// the server echoes a connection in pieces of this size, and a client writes
// a larger message in such pieces, with a turn of the loop between them.
// With a thousand connections each step is one of a thousand in a batch, and
// a deadline is only seen between batches: at 64 KiB a batch took over half
// a second on a loaded machine.
inline constexpr std::size_t kEchoPiece = 16 * 1024;

// The writing halves of connections, kept so that a deadline can close them
// all at once (see close_all).
using Connections = std::vector<loops::StreamWriter>;

// An echo server on 127.0.0.1 and an ephemeral port. Each connection gets
// every byte back until end of stream; with a `delay`, each chunk is held
// that long first (a slow service). Each accepted connection's writer is
// added to `accepted` when given.
loops::Task<loops::Server> start_echo_server(
    std::chrono::nanoseconds delay = std::chrono::nanoseconds(0), Connections* accepted = nullptr);

// Closes every connection. At a deadline, before the clean-up cancels the
// tasks that use them: a connection closed with data in flight is reset at
// once, where the loop would otherwise first receive and then free what is in
// flight on each of them (for a thousand 1 MB messages, longer than the rest
// of the clean-up).
void close_all(Connections& connections);

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
