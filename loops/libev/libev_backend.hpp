// The libev backend: a private ev_loop (ev_loop_new, never the default loop,
// so that several EventLoops coexist) driven one ev_run() at a time.
//
//  - deadline: one ev_timer, armed from libev's freshly updated clock so that
//    it never fires before the deadline on now()'s clock (ev_timer counts
//    from ev_now(), which libev caches per iteration);
//  - wake(): one ev_async (ev_async_send is libev's thread-safe call);
//  - watch(): one ev_io per descriptor. Readiness only: libev has no
//    completion I/O, so the core's readiness driver makes the syscalls.
//
// ev_break() is never used: asyncio's stop() belongs to the core (SEMANTICS
// LOOP-STOP-01/02); this backend only waits.
#pragma once

#include "loops/registry.hpp"

namespace loops::libev {

// The registry entry for "libev". libev's header stays out of this one: the
// backend is defined in libev_backend.cpp alone.
BackendEntry backend_entry();

}  // namespace loops::libev
