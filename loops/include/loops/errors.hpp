// One error kind per asyncio error (SEMANTICS.md "Error mapping"). Tests
// assert on the kind, never on the message.
//
// Ordinary errors derive from std::exception, so user code's catch-all for
// ordinary errors catches them. CancelledError and FatalError deliberately do
// not: since Python 3.8 CancelledError is a BaseException, and FatalError plays
// KeyboardInterrupt/SystemExit, which the loop lets escape from run_forever.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace loops {

// RuntimeError: misuse of the loop (wrong thread, a task's set_result, ...).
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "Event loop is closed".
class LoopClosedError : public RuntimeError {
 public:
  LoopClosedError() : RuntimeError("Event loop is closed") {}
};

// "This event loop is already running" and "Cannot run the event loop while
// another loop is running" (one kind for both, as SEMANTICS lists it).
class LoopRunningError : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

// "Event loop stopped before Future completed."
class LoopStoppedError : public RuntimeError {
 public:
  LoopStoppedError() : RuntimeError("Event loop stopped before Future completed.") {}
};

class InvalidStateError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class ValueError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class TypeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class TimeoutError : public std::runtime_error {
 public:
  TimeoutError() : std::runtime_error("timed out") {}
};

class QueueEmpty : public std::runtime_error {
 public:
  QueueEmpty() : std::runtime_error("queue is empty") {}
};

class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("queue is full") {}
};

class QueueShutDown : public std::runtime_error {
 public:
  QueueShutDown() : std::runtime_error("queue is shut down") {}
};

// ConnectionError and its kinds (OSError subclasses in Python): a stream's
// connection failed or was lost. `code()` is the errno it came from.
class ConnectionError : public std::runtime_error {
 public:
  ConnectionError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// Nothing listens at the address (ECONNREFUSED).
class ConnectionRefusedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// The peer reset the connection (ECONNRESET, EPIPE).
class ConnectionResetError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// read_exactly or read_until reached end of stream first. `partial()` holds
// the bytes that did arrive; they are no longer in the reader's buffer.
class IncompleteReadError : public std::runtime_error {
 public:
  IncompleteReadError(std::string partial, std::size_t expected)
      : std::runtime_error(std::to_string(partial.size()) + " bytes read on a total of " +
                           std::to_string(expected) + " expected bytes"),
        partial_(std::move(partial)),
        expected_(expected) {}
  const std::string& partial() const noexcept { return partial_; }
  std::size_t expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::size_t expected_;
};

// write() or drain() on a stream that is closing or closed.
class StreamClosedError : public RuntimeError {
 public:
  StreamClosedError() : RuntimeError("write to a closed stream") {}
};

// Not a std::exception: `catch (const std::exception&)` lets it through.
class CancelledError {
 public:
  CancelledError() = default;
  explicit CancelledError(std::string message) : message_(std::move(message)) {}
  // The message given to cancel(msg), or empty.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

// The C++ stand-in for KeyboardInterrupt/SystemExit: not handled by the loop's
// exception handler; it propagates out of run_forever / run_until_complete.
class FatalError {
 public:
  explicit FatalError(std::string what) : what_(std::move(what)) {}
  const std::string& what() const noexcept { return what_; }

 private:
  std::string what_;
};

}  // namespace loops
