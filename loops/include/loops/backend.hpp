// The seam between the asyncio-semantics core and an event-loop engine.
//
// The core (loops/core) owns everything asyncio documents, and it is the one
// place where callbacks and I/O handlers run. A backend only waits and
// reports: it tells the time, sleeps until a deadline on its native timer,
// wakes up when another thread asks, and hands back, as plain records, the
// I/O that became ready during a poll() (as Asio's scheduler_task::run(usec,
// ops) fills an op queue, and CPython's selector loop turns events into
// callbacks with _process_events). It never calls into the core. The core
// crosses this seam once per loop iteration and once per registration change
// or operation, never per callback.
//
// I/O has two shapes; traits() says which a backend offers:
//  - readiness (traits().io): watch() registers a descriptor, poll() reports
//    it when it can be read or written, the core makes the syscalls;
//  - completion (traits().completion_io, on top of readiness): the core
//    submit()s a receive, send, accept or connect, poll() reports its result.
//
// Every function is called on the loop thread unless its comment says otherwise,
// and none is called while poll() runs, except wake() from other threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace loops {

// Nanoseconds on a backend's monotonic clock.
using Nanos = std::int64_t;

// A poll() deadline that never passes: wait for a wake-up or I/O only.
inline constexpr Nanos kNoDeadline = std::numeric_limits<Nanos>::max();

// A poll() deadline that has always passed: look for I/O without blocking.
// Backend clocks start at or above 0, so kNoWait <= now() always holds.
inline constexpr Nanos kNoWait = 0;

// Readiness directions, for watch() and IoReadiness.
enum IoEvents : unsigned {
  kIoNone = 0,
  kIoReadable = 1U << 0,
  kIoWritable = 1U << 1,
};

// The core's receiver of an operation's result. A backend never calls it; it
// hands the pointer back in an IoResult.
class IoCompletion;

enum class IoOpKind : std::uint8_t {
  kRecv,     // up to size bytes into data; result 0 means end of stream
  kSend,     // up to size bytes from data; a short send is a valid result
  kAccept,   // a connection on the listening fd; result is the new descriptor,
             // non-blocking and close-on-exec
  kConnect,  // fd to the sockaddr in data (size bytes); result 0 on success
};

// One completion operation. The core owns the op and its buffer and keeps
// them valid, unmoved, until the op's IoResult has been handed back.
struct IoOp {
  IoOpKind kind = IoOpKind::kRecv;
  int fd = -1;
  void* data = nullptr;
  std::size_t size = 0;
  IoCompletion* completion = nullptr;
};

// A watched descriptor is ready.
struct IoReadiness {
  int fd;
  // The generation watch() was given for the registration this was seen on.
  std::uint32_t generation;
  // kIo* directions that are ready. An error or hang-up sets both, so that
  // the core's next read or write sees it.
  unsigned events;
};

// A submitted op has completed.
struct IoResult {
  IoCompletion* completion;  // the op's
  // See IoOpKind, or -errno; -ECANCELED after cancel() when the op did nothing.
  std::int64_t result;
};

// What poll() found. The core owns it and reuses it from poll to poll, so a
// steady state allocates nothing. A backend only appends to it.
struct IoBatch {
  std::vector<IoReadiness> ready;
  std::vector<IoResult> completed;
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

  // Appends to `batch` the I/O found ready, and blocks until the first of:
  //  - now() >= deadline (a deadline <= now() means: look for I/O, do not block);
  //  - wake() was called since the previous poll() returned (or during this one);
  //  - something was appended.
  // Never returns for the deadline's sake while now() < deadline (timers must
  // not fire early, SLEEP-02), and never busy-spins when the deadline is near
  // (CB-TIME-08). A spurious early return is allowed but costs an iteration.
  // On an exception nothing appended so far may be lost: keep it in `batch`.
  virtual void poll(Nanos deadline, IoBatch& batch) = 0;

  // Makes the current or the next poll() return promptly. Safe from any thread;
  // cheap when called many times before the loop gets to run.
  virtual void wake() noexcept = 0;

  // Readiness (traits().io). With events != kIoNone: starts watching fd, or
  // changes the directions watched, for the registration `generation` (never 0;
  // a new number each time the core starts watching a descriptor afresh, the
  // same number while it changes the directions). With kIoNone: stops (fd may
  // already be closed then). Throws std::system_error when the engine refuses
  // the descriptor (a closed one, a regular file).
  //
  // Readiness is level-triggered: while fd is watched and ready in a watched
  // direction, every poll() reports it, with the registration's generation.
  // Nothing is reported for a registration after it stopped or was replaced.
  // The core drops what a report says about directions no longer watched.
  virtual void watch(int fd, unsigned events, std::uint32_t generation) = 0;

  // Completion (traits().completion_io).
  //
  // Starts op. Its IoResult is appended exactly once, by a later poll() (not
  // inside submit() or cancel()), even when the op is cancelled or the engine
  // fails it. At most one recv and one send may be pending per descriptor;
  // accept and connect are alone on theirs.
  virtual void submit(IoOp& op);
  // Asks a pending op to complete soon. It still completes exactly once, with
  // its result if it had already taken effect (received bytes are never lost)
  // or with -ECANCELED.
  virtual void cancel(IoOp& op);
  // Drops the backend's state for fd (native socket objects) and closes it.
  // No op is pending on fd when this is called. The default just closes it.
  virtual void close_socket(int fd);
};

}  // namespace loops
