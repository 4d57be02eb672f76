// The seam between the asyncio-semantics core and an event-loop engine.
//
// The core (loops/core) owns everything asyncio documents: the ready queue and
// its batch semantics, the timer heap and its ordering, stop/close, futures,
// tasks and cancellation. A backend only waits: it tells the time, sleeps until
// a deadline on its native timer, wakes up when another thread asks, and
// reports I/O readiness. The core crosses this seam once per loop iteration
// (plus once per descriptor registration), never per callback or per coroutine
// resume, so a virtual call here costs nothing measurable.
//
// I/O crosses the seam in one of two shapes (DESIGN.md): readiness, where
// watch() reports that a descriptor can be read or written and the core does
// the syscall, or completion, where the core submit()s a receive, send, accept
// or connect and is told when the backend's engine has done it. Every backend
// with traits().io implements watch(); one with traits().completion_io also
// implements submit(), cancel() and close_socket(), and the core's stream layer
// then uses them for sockets instead of watch().
//
// Every function is called on the loop thread unless its comment says otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

namespace loops {

// Nanoseconds on a backend's monotonic clock.
using Nanos = std::int64_t;

// A poll() deadline that never passes: wait for a wake-up or I/O only.
inline constexpr Nanos kNoDeadline = std::numeric_limits<Nanos>::max();

// A poll() deadline that has always passed: look for I/O without blocking.
// Backend clocks start at or above 0, so kNoWait <= now() always holds.
inline constexpr Nanos kNoWait = 0;

// Readiness bits, for watch() and IoHandler::on_ready().
enum IoEvents : unsigned {
  kIoNone = 0,
  kIoReadable = 1U << 0,
  kIoWritable = 1U << 1,
};

// Receives readiness reports for one descriptor. Called from inside poll().
class IoHandler {
 public:
  // events: the kIo* bits that are ready. Errors and hang-ups are reported on
  // every watched direction (at least), so that the next read or write sees
  // the error. Readiness is level-triggered: a descriptor that stays ready is
  // reported again at the next poll while it is watched.
  virtual void on_io_ready(unsigned events) = 0;

 protected:
  ~IoHandler() = default;
};

// Completion-style socket operations (traits().completion_io).
enum class IoOpKind : std::uint8_t {
  kRecv,     // up to size bytes into data; result 0 means end of stream
  kSend,     // up to size bytes from data; a short send is a valid result
  kAccept,   // a connection on the listening fd; result is the new descriptor,
             // non-blocking and close-on-exec
  kConnect,  // fd to the sockaddr in data (size bytes); result 0 on success
};

// Receives the outcome of one IoOp. Called from inside poll().
class IoCompletion {
 public:
  // result: see IoOpKind, or -errno (-ECANCELED after cancel() when the op
  // did nothing).
  virtual void on_io_complete(std::int64_t result) = 0;

 protected:
  ~IoCompletion() = default;
};

// One submitted operation. The op, its buffer and its completion are owned by
// the core and must stay valid until the completion has been called.
struct IoOp {
  IoOpKind kind = IoOpKind::kRecv;
  int fd = -1;
  void* data = nullptr;
  std::size_t size = 0;
  IoCompletion* completion = nullptr;
};

// What a backend can do; the conformance suite skips, with this reason, the
// rules a backend cannot take part in.
struct BackendTraits {
  // now() reads the machine's CLOCK_MONOTONIC, in nanoseconds (false for
  // virtual time). The core then may consult CLOCK_MONOTONIC_COARSE too.
  bool real_time = true;
  // poll() can be woken from another thread while it blocks.
  bool threads = true;
  // watch() is implemented.
  bool io = true;
  // submit(), cancel() and close_socket() are implemented.
  bool completion_io = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // The backend's registered name, e.g. "epoll".
  virtual const char* name() const noexcept = 0;

  virtual BackendTraits traits() const noexcept { return {}; }

  // The current time, >= 0. Monotonic, never cached per iteration: it advances
  // while a callback runs (SEMANTICS CB-TIME-06). The core's timers, loop.time()
  // and every deadline are on this clock. Safe from any thread.
  virtual Nanos now() noexcept = 0;

  // Blocks until the first of:
  //  - now() >= deadline (a deadline <= now() means: look for I/O, do not block);
  //  - wake() was called since the previous poll() returned (or during this one);
  //  - a watched descriptor became ready; its handler has then been called.
  // Contract: never returns for the deadline's sake while now() < deadline
  // (timers must not fire early, SLEEP-02), and never busy-spins when the
  // deadline is near (CB-TIME-08). A spurious early return is allowed but costs
  // an empty iteration. Handlers run inside poll() and may call watch().
  virtual void poll(Nanos deadline) = 0;

  // Makes the current or the next poll() return promptly. Safe from any thread;
  // cheap when called many times before the loop gets to run.
  virtual void wake() noexcept = 0;

  // Starts, changes or (events == kIoNone) stops watching fd for readiness.
  // The handler must stay valid until the descriptor is unwatched. Throws
  // std::system_error when the engine refuses the descriptor.
  virtual void watch(int fd, unsigned events, IoHandler* handler) = 0;

  // Completion I/O; only called when traits().completion_io is true.
  //
  // Starts op. Its completion is called exactly once, from inside a later
  // poll() (never from inside submit()), even when the op is cancelled or the
  // engine fails it. At most one recv and one send may be pending per
  // descriptor; accept and connect are alone on theirs.
  virtual void submit(IoOp& op);
  // Asks a pending op to complete soon. It still completes exactly once, with
  // its result if it had already taken effect (received bytes are never lost)
  // or with -ECANCELED.
  virtual void cancel(IoOp& op);
  // Drops the backend's state for fd (native socket objects) and closes it.
  // No op is pending on fd when this is called.
  virtual void close_socket(int fd);
};

}  // namespace loops
