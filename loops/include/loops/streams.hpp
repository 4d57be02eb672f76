// TCP streams, in the spirit of asyncio's streams: open_connection() gives a
// (reader, writer) pair, start_server() calls a handler with one per accepted
// connection.
//
//   loops::Server server = co_await loops::start_server(echo, "127.0.0.1", 0);
//   loops::Stream client = co_await loops::open_connection("127.0.0.1", server.port());
//   client.writer.write("ping\n");
//   co_await client.writer.drain();
//   std::string line = co_await client.reader.read_until("\n");
//
// Underneath, a socket transport in the core (loops/core/streams.cpp) drives
// the socket through the backend in one of the seam's two shapes: readiness
// (watch() and non-blocking syscalls) or, when traits().completion_io holds,
// completion (submit()). Either way the transport owns the received bytes, so
// cancelling a pending read never loses data, and it stays alive until every
// operation it started has completed.
//
// Hosts: numeric IPv4 addresses and "localhost" (127.0.0.1); there is no DNS.
// Streams need traits().io; on a backend without it (sim) they throw
// RuntimeError. Streams belong to the loop running when they were made; close
// them (or drop every reader and writer of a connection, which closes it)
// before that loop closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "loops/detail/ref_counted.hpp"
#include "loops/task.hpp"

namespace loops {

namespace detail {
class SocketTransport;
class Listener;

// A counted user reference to a transport: when the last reader or writer of
// a connection goes away, the connection is closed.
class TransportHandle {
 public:
  TransportHandle() = default;
  explicit TransportHandle(SocketTransport* transport);
  TransportHandle(const TransportHandle& other);
  TransportHandle& operator=(const TransportHandle& other);
  ~TransportHandle();
  SocketTransport& operator*() const noexcept { return *transport_; }
  SocketTransport* operator->() const noexcept { return transport_; }
  explicit operator bool() const noexcept { return transport_ != nullptr; }

 private:
  void reset() noexcept;
  SocketTransport* transport_ = nullptr;
};
}  // namespace detail

// The receiving half (asyncio.StreamReader). One coroutine at a time may wait
// in it; a second gets RuntimeError.
class StreamReader {
 public:
  StreamReader() = default;

  // Up to n bytes, as soon as at least one is available; empty at end of
  // stream (and for n == 0). Throws ConnectionResetError when the connection
  // was lost with nothing left to read.
  Task<std::string> read(std::size_t n);
  // Exactly n bytes. At end of stream first: IncompleteReadError, whose
  // partial() holds what arrived.
  Task<std::string> read_exactly(std::size_t n);
  // Bytes up to and including the first `separator`. At end of stream first:
  // IncompleteReadError with what arrived (expected() is that size plus the
  // separator's). Throws ValueError for an empty separator.
  Task<std::string> read_until(std::string separator);
  // End of stream was received and every byte before it has been read.
  bool at_eof() const;

 private:
  friend struct StreamAccess;
  explicit StreamReader(detail::TransportHandle transport) : transport_(std::move(transport)) {}
  detail::TransportHandle transport_;
};

// The sending half (asyncio.StreamWriter).
class StreamWriter {
 public:
  // asyncio's defaults: pause above 64 KiB, resume at or below a quarter.
  static constexpr std::size_t kDefaultHighWater = 64 * 1024;

  StreamWriter() = default;

  // Sends at once what the socket takes and buffers the rest. Throws
  // StreamClosedError after close(), ConnectionResetError once the
  // connection was lost.
  void write(std::string_view data);
  // Transport-level backpressure: writing pauses when the buffer goes above
  // the high-water mark and resumes once it has drained to the low-water
  // mark. Returns at once unless writing is paused; else waits for the
  // resumption. Throws like write().
  Task<void> drain();
  // Bytes written but not yet taken by the kernel.
  std::size_t write_buffer_size() const;
  // Sets the marks (asyncio's set_write_buffer_limits); low defaults to
  // high / 4. Throws ValueError when low > high.
  void set_write_buffer_limits(std::size_t high, std::size_t low);
  void set_write_buffer_limits(std::size_t high) { set_write_buffer_limits(high, high / 4); }
  // Stops reading, sends what is buffered, then closes the socket. Idempotent.
  void close();
  bool is_closing() const;
  // Waits until the socket is closed (close() was called or the connection
  // was lost, and every pending operation has completed).
  Task<void> wait_closed();

 private:
  friend struct StreamAccess;
  explicit StreamWriter(detail::TransportHandle transport) : transport_(std::move(transport)) {}
  detail::TransportHandle transport_;
};

// A connection's two halves.
struct Stream {
  StreamReader reader;
  StreamWriter writer;
};

// Connects to host:port. Throws ConnectionRefusedError when nothing listens
// there, ValueError for a host that is not numeric IPv4 or "localhost".
Task<Stream> open_connection(std::string host, std::uint16_t port);

// Called once per accepted connection, as its own task. An error escaping it
// goes to the loop's exception handler.
using ConnectionHandler = std::function<Task<void>(StreamReader, StreamWriter)>;

// A listening socket (asyncio.Server). It listens until close(), whether or
// not a Server object still refers to it.
class Server {
 public:
  Server();
  Server(const Server& other);
  Server(Server&& other) noexcept;
  Server& operator=(const Server& other);
  Server& operator=(Server&& other) noexcept;
  ~Server();

  // The bound port (the kernel's pick when start_server was given 0).
  std::uint16_t port() const;
  bool is_serving() const;
  // Stops accepting; connections already accepted stay open. Idempotent, and
  // a no-op on a default-constructed (or moved-from) Server.
  void close();
  // Waits until the listening socket is closed and every handler has
  // finished (asyncio 3.12's Server.wait_closed).
  Task<void> wait_closed();

 private:
  friend struct StreamAccess;
  explicit Server(detail::Ref<detail::Listener> listener);
  detail::Ref<detail::Listener> listener_;
};

// Listens on host:port (port 0: any free port) and runs `handler` for every
// connection. Throws std::system_error when the address cannot be bound.
// With g++ 12, build a capturing handler before the co_await, not inside it:
// that compiler destroys such an argument twice there.
//   Task<Server> starting = start_server([state](auto r, auto w) {...}, host, 0);
//   Server server = co_await starting;
Task<Server> start_server(ConnectionHandler handler, std::string host, std::uint16_t port);

}  // namespace loops
