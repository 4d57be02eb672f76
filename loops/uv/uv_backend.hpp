// The libuv backend: a private uv_loop_t driven one uv_run() at a time.
//
//  - deadline: one uv_timer_t, armed so that it can never fire before the
//    deadline on now()'s clock (libuv's millisecond timers fire up to 1 ms
//    early otherwise: libuv#4773, uvloop#739);
//  - wake(): one uv_async_t (uv_async_send is libuv's only thread-safe call);
//  - watch(): one uv_poll_t per descriptor;
//  - submit(): a uv_tcp_t per connected descriptor (uv_tcp_open: libuv owns
//    the fd from then on, so close_socket() closes it through uv_close, and a
//    backend destroyed first closes it too), and a uv_poll_t per listening one
//    (see start_accept()). libuv's callbacks append readiness and results
//    to the poll's batch; none of them calls into the core.
//
// uv_stop() is never used: asyncio's stop() belongs to the core (SEMANTICS
// LOOP-STOP-01/02); this backend only waits.
#pragma once

#include "loops/registry.hpp"

namespace loops::uv {

// The registry entry for "uv". libuv stays out of this header: the backend
// is defined in uv_backend.cpp alone.
BackendEntry backend_entry();

}  // namespace loops::uv
