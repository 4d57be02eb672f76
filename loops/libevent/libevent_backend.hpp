// The libevent backend: a private event_base (never a global one, so that
// several EventLoops coexist) driven one event_base_loop() at a time.
//
//  - deadline: one evtimer on a base made with EVENT_BASE_FLAG_PRECISE_TIMER,
//    so that libevent's clock is CLOCK_MONOTONIC, as now()'s is, and its
//    epoll wait ends on a timerfd (microseconds) rather than a timeout in
//    whole milliseconds;
//  - wake(): an eventfd behind a persistent EV_READ event. No libevent call
//    is made from another thread, so the base needs no locks and
//    evthread_use_pthreads() is not called;
//  - watch(): one persistent event per descriptor. Readiness only: libevent
//    has no completion I/O (bufferevents are buffered readiness), so the
//    core's readiness driver makes the syscalls.
//
// event_base_loopbreak() and event_base_loopexit() are never used: asyncio's
// stop() belongs to the core (SEMANTICS LOOP-STOP-01/02); this backend only
// waits.
#pragma once

#include "loops/registry.hpp"

namespace loops::libevent {

// The registry entry for "libevent". libevent's headers stay out of this one:
// the backend is defined in libevent_backend.cpp alone.
BackendEntry backend_entry();

}  // namespace loops::libevent
