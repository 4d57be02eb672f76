// The Boost.Asio backend: one io_context, run on the loop thread only.
//
// Mapping onto the seam (loops/include/loops/backend.hpp):
//  - now():   std::chrono::steady_clock, which is CLOCK_MONOTONIC on Linux and is
//             also the clock asio's steady_timer compares against;
//  - poll():  a steady_timer armed at the absolute deadline (re-armed only when
//             the deadline changes), run_one() until the deadline passed, a wake
//             or I/O, then poll() to collect whatever else is already complete;
//  - wake():  post() of a small handler, at most one outstanding at a time;
//  - watch(): a non-owning posix::stream_descriptor per fd with async_wait
//             (wait_read / wait_write), re-armed after each report once
//             Asio's run has returned;
//  - submit(): a socket object per descriptor (borrowing the fd until
//             close_socket()) with async_receive / async_send / async_connect,
//             and async_wait + accept4() for accepts; cancel() is Asio's
//             per-operation cancellation (a cancellation_signal per op slot).
//             Asio's handlers append readiness and results to the poll's
//             batch; none of them calls into the core.
//  An executor_work_guard keeps an idle io_context from returning out of run
//  (SEMANTICS LOOP-RUN-01); io_context::stop() is never used: stop semantics
//  belong to the core.
//
// Boost stays out of this header (the state lives in Impl) so that including
// the registry does not pull in all of Asio.
#pragma once

#include <cstdint>
#include <memory>

#include "loops/backend.hpp"
#include "loops/registry.hpp"

namespace loops::asio {

class AsioBackend final : public Backend {
 public:
  AsioBackend();
  ~AsioBackend() override;
  AsioBackend(const AsioBackend&) = delete;
  AsioBackend& operator=(const AsioBackend&) = delete;

  const char* name() const noexcept override { return "asio"; }
  BackendTraits traits() const noexcept override { return {.completion_io = true}; }
  Nanos now() noexcept override;
  void poll(Nanos deadline, IoBatch& batch) override;
  void wake() noexcept override;
  void watch(int fd, unsigned events, std::uint32_t generation) override;
  void submit(IoOp& op) override;
  void cancel(IoOp& op) override;
  void close_socket(int fd) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

BackendEntry backend_entry();

}  // namespace loops::asio
