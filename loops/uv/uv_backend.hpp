// The libuv backend: a private uv_loop_t driven one uv_run() at a time.
//
//  - deadline: one uv_timer_t, armed so that it can never fire before the
//    deadline on now()'s clock (libuv's millisecond timers fire up to 1 ms
//    early otherwise: libuv#4773, uvloop#739);
//  - wake(): one uv_async_t (uv_async_send is libuv's only thread-safe call);
//  - watch(): one uv_poll_t per descriptor.
//
// uv_stop() is never used: asyncio's stop() belongs to the core (SEMANTICS
// LOOP-STOP-01/02); this backend only waits.
#pragma once

#include <uv.h>

#include <exception>
#include <unordered_map>

#include "loops/backend.hpp"
#include "loops/registry.hpp"

namespace loops::uv {

class UvBackend final : public Backend {
 public:
  UvBackend();
  ~UvBackend() override;
  // libuv handles point back at this object: it never moves.
  UvBackend(const UvBackend&) = delete;
  UvBackend& operator=(const UvBackend&) = delete;

  const char* name() const noexcept override { return "uv"; }
  Nanos now() noexcept override;
  void poll(Nanos deadline) override;
  void wake() noexcept override;
  // Note: uv_poll_init() puts fd into non-blocking mode.
  void watch(int fd, unsigned events, IoHandler* handler) override;

 private:
  struct Watch;

  static void on_timer(uv_timer_t* timer);
  static void on_async(uv_async_t* async);
  static void on_poll(uv_poll_t* poll, int status, int uv_events);
  static void on_watch_closed(uv_handle_t* handle);

  // Arms timer_ for deadline; returns false when the deadline has already
  // passed on libuv's clock, so there is nothing to wait for.
  bool arm_timer(Nanos deadline);
  void close_watch(Watch* watch);

  uv_loop_t loop_{};
  uv_timer_t timer_{};
  uv_async_t async_{};
  std::unordered_map<int, Watch*> watches_;
  // Set by the callbacks during one poll(): why uv_run() returned.
  bool woken_ = false;
  bool io_ready_ = false;
  // An exception from an IoHandler, held until uv_run() has returned.
  std::exception_ptr pending_error_;
};

BackendEntry backend_entry();

}  // namespace loops::uv
