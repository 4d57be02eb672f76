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
//    (see start_accept()). Results are collected while uv_run() runs and
//    delivered when it has returned, like readiness errors.
//
// uv_stop() is never used: asyncio's stop() belongs to the core (SEMANTICS
// LOOP-STOP-01/02); this backend only waits.
#pragma once

#include <uv.h>

#include <cstdint>
#include <exception>
#include <unordered_map>
#include <utility>
#include <vector>

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
  BackendTraits traits() const noexcept override {
    BackendTraits traits;
    traits.completion_io = true;
    return traits;
  }
  Nanos now() noexcept override;
  void poll(Nanos deadline) override;
  void wake() noexcept override;
  // Note: uv_poll_init() puts fd into non-blocking mode.
  void watch(int fd, unsigned events, IoHandler* handler) override;
  void submit(IoOp& op) override;
  // Withdraws a pending recv or accept, and completes a pending send at once
  // with all its bytes, which libuv then writes from the backend's copy.
  // libuv cannot withdraw a write or a connect (uv_cancel() covers only fs,
  // work and DNS requests, and uv_close() would close the descriptor): a
  // pending connect completes when the kernel has decided it.
  void cancel(IoOp& op) override;
  void close_socket(int fd) override;

 private:
  struct Watch;
  struct Stream;
  struct Listener;

  static void on_timer(uv_timer_t* timer);
  static void on_async(uv_async_t* async);
  static void on_poll(uv_poll_t* poll, int status, int uv_events);
  static void on_watch_closed(uv_handle_t* handle);
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_connect(uv_connect_t* req, int status);
  static void on_listener_ready(uv_poll_t* poll, int status, int uv_events);

  // Each returns 0, or a libuv error (-errno) for submit() to report.
  int start_recv(Stream& stream, IoOp& op);
  int start_send(Stream& stream, IoOp& op);
  int start_connect(Stream& stream, IoOp& op);
  int start_accept(IoOp& op);
  // The Stream for fd, opened on first use (0 or a libuv error).
  int stream_for(int fd, Stream*& stream);
  // Queues op's result for delivery at the end of this or the next poll().
  void complete_later(IoOp& op, std::int64_t result);
  void dispatch_completed();

  // Arms timer_ for deadline; returns false when the deadline has already
  // passed on libuv's clock, so there is nothing to wait for.
  bool arm_timer(Nanos deadline);
  void close_watch(Watch* watch);

  uv_loop_t loop_{};
  uv_timer_t timer_{};
  uv_async_t async_{};
  std::unordered_map<int, Watch*> watches_;
  std::unordered_map<int, Stream*> streams_;
  std::unordered_map<int, Listener*> listeners_;
  std::vector<std::pair<IoCompletion*, std::int64_t>> completed_;
  std::size_t completed_head_ = 0;
  // Set by the callbacks during one poll(): why uv_run() returned.
  bool woken_ = false;
  bool io_ready_ = false;
  // An exception from an IoHandler, held until uv_run() has returned.
  std::exception_ptr pending_error_;
};

BackendEntry backend_entry();

}  // namespace loops::uv
