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
// Every function is called on the loop thread unless its comment says otherwise.
#pragma once

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

// What a backend can do; the conformance suite skips, with this reason, the
// rules a backend cannot take part in.
struct BackendTraits {
  // The clock is the machine's monotonic clock (false for virtual time).
  bool real_time = true;
  // poll() can be woken from another thread while it blocks.
  bool threads = true;
  // watch() is implemented.
  bool io = true;
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
};

}  // namespace loops
