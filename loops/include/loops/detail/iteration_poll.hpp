// Backend::poll() for engines driven one iteration at a time whose callbacks
// report into the batch (libev's ev_run, libevent's event_base_loop), written
// once: the deadline on one engine timer, and the loop that keeps an
// iteration which ended early from ending the poll early.
#pragma once

#include "loops/backend.hpp"

namespace loops::detail {

// What the engine's callbacks found during one poll().
struct IterationReport {
  IoBatch* batch = nullptr;  // the poll()'s, which the I/O callbacks append to
  bool woken = false;        // the wake-up callback ran
  bool reported = false;     // an I/O callback appended something
};

// Runs engine iterations until one is woken or reports I/O, or the deadline
// has passed on now()'s clock. `engine` provides now(); arm_timer(deadline),
// its one-shot timer at `deadline` (a no-op if already armed for it);
// disarm_timer(); and run_iteration(block): one iteration, which blocks until
// the timer, a wake-up or I/O if `block`, and only looks otherwise.
template <class Engine>
void poll_by_iterations(Engine& engine, IterationReport& report, Nanos deadline, IoBatch& batch) {
  report = {&batch, false, false};
  struct Detach {
    IterationReport& report;
    ~Detach() { report.batch = nullptr; }
  } detach{report};
  for (;;) {
    bool block = true;
    if (deadline == kNoDeadline) {
      engine.disarm_timer();
    } else if (deadline <= engine.now()) {
      block = false;
    } else {
      engine.arm_timer(deadline);
    }
    engine.run_iteration(block);
    if (report.woken || report.reported || !block ||
        (deadline != kNoDeadline && engine.now() >= deadline)) {
      return;
    }
    // Nothing to report and the deadline not reached on now()'s clock: the
    // engine's timer fired early by its own clock, or the iteration ended
    // with nothing to say (libev's does when epoll reports a descriptor it
    // stopped watching, which it takes out of the epoll set only then). Wait
    // again rather than return early (SLEEP-02); the timer is armed again,
    // so this does not spin.
  }
}

}  // namespace loops::detail
