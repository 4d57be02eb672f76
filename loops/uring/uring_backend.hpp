// The io_uring backend: one ring, owned and driven by the loop thread.
//
// - Timers: one IORING_OP_TIMEOUT with an absolute CLOCK_MONOTONIC deadline
//   (IORING_TIMEOUT_ABS, nanosecond resolution), touched only when poll()'s
//   deadline changes: moved in place with IORING_TIMEOUT_UPDATE (5.11+), else
//   removed and re-added. Each new timeout gets a new generation in its
//   user_data, so the completion of a removed one is recognised as stale; and
//   poll() returns for the deadline's sake only once now() >= deadline, so no
//   timer completion, stale or raced, can make a timer fire early.
// - Wake-ups: the submission queue is single-producer, so other threads never
//   touch the ring. wake() writes an eventfd (at most once until the loop has
//   seen it, thanks to an atomic pending flag) and the ring always has a read of
//   that eventfd outstanding; its completion ends the wait.
// - Readiness: one-shot IORING_OP_POLL_ADD per watched descriptor, re-armed
//   after each report. Multishot poll would save that SQE, but it reports edges
//   (a CQE per wake-up of the file, none while data merely stays unread), while
//   watch() promises asyncio's level-triggered add_reader/add_writer meaning;
//   a one-shot poll armed on a ready descriptor completes at once, which is
//   exactly level-triggered. Each watch is a heap record whose address is the
//   poll's user_data; a removed record stays alive until its poll's completion
//   has been reaped, so a late completion never touches freed memory or a newer
//   watch on the same descriptor number.
// - Completion I/O: submit() queues IORING_OP_RECV, SEND (MSG_NOSIGNAL), ACCEPT
//   (SOCK_NONBLOCK | SOCK_CLOEXEC) or CONNECT with the IoOp's address as its
//   user_data; the op's CQE calls its completion from inside poll(). cancel()
//   sends IORING_OP_ASYNC_CANCEL for that user_data, and the kernel settles the
//   race: an op that already took effect completes with its result, one that
//   did not with -ECANCELED, and either way with exactly one CQE. The kernel
//   issues SQEs in order, so a cancel can never hit a newer op that reuses the
//   IoOp's memory: that op's SQE would be queued behind the cancel.
//   An op answered -EAGAIN or -EINTR waits for readiness with a one-shot poll
//   under the same user_data and is then issued again.
// - Batching: SQEs queued by watch(), submit(), the timer and re-arms go to the
//   kernel in the single io_uring_submit_and_wait() of the next blocking poll(). A
//   non-blocking poll() enters the kernel only when it has SQEs to submit or the
//   kernel flagged deferred completion work (IORING_SQ_TASKRUN).
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "loops/backend.hpp"
#include "loops/registry.hpp"

namespace loops::uring {

// Probes, afresh on every call, whether this process can create and use an
// io_uring with the operations this backend needs. Returns nullopt when it can,
// otherwise why not, e.g. "io_uring_setup: Operation not permitted" (seccomp,
// kernel.io_uring_disabled) or "io_uring_setup: Function not implemented" (a
// kernel without io_uring). backend_entry() caches the first answer.
std::optional<std::string> probe_unavailable_reason();

// The registry entry for "uring".
BackendEntry backend_entry();

class UringBackend final : public Backend {
 public:
  // Creates the ring and the wake-up eventfd. Throws std::system_error when the
  // kernel refuses either.
  UringBackend();
  ~UringBackend() override;
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;

  const char* name() const noexcept override { return "uring"; }
  Nanos now() noexcept override;
  void poll(Nanos deadline) override;
  void wake() noexcept override;
  void watch(int fd, unsigned events, IoHandler* handler) override;
  BackendTraits traits() const noexcept override;
  void submit(IoOp& op) override;
  void cancel(IoOp& op) override;
  void close_socket(int fd) override;

 private:
  struct Watch;
  // What one poll() saw; it returns early only for one of these.
  struct Seen {
    bool woke = false;
    bool io = false;
  };

  io_uring_sqe* next_sqe();
  void arm_wake_read();
  void arm_watch(Watch* w);
  void retire(std::unique_ptr<Watch> w);
  void sync_timer(Nanos deadline);
  void submit_nowait();
  void reap(Seen& seen);
  void dispatch(std::uint64_t user_data, int res, Seen& seen);
  void on_watch_done(Watch* w, int res, Seen& seen);
  void queue_op(IoOp& op);
  void queue_retry_poll(IoOp& op);
  void on_op_done(IoOp* op, int res, Seen& seen);

  io_uring ring_{};
  // Set when the ring was created with IORING_SETUP_TASKRUN_FLAG, i.e. the
  // kernel raises IORING_SQ_TASKRUN instead of interrupting us to post CQEs.
  bool taskrun_flag_ = false;
  // The kernel can move an armed timeout (IORING_TIMEOUT_UPDATE).
  bool timeout_update_ = false;
  // SQE flags for requests whose success needs no completion.
  unsigned quiet_flags_ = 0;

  int wake_fd_ = -1;
  std::atomic<bool> wake_pending_{false};
  // Target of the outstanding eventfd read; the kernel writes it.
  std::uint64_t wake_buf_ = 0;

  bool timer_armed_ = false;
  Nanos timer_deadline_ = 0;
  std::uint64_t timer_gen_ = 0;
  // The kernel reads the timespec when the SQE is submitted, so it must
  // outlive the SQE until the next submit.
  __kernel_timespec timer_ts_{};

  std::unordered_map<int, std::unique_ptr<Watch>> watches_;
  // Removed or replaced watches whose poll may still complete.
  std::vector<std::unique_ptr<Watch>> retired_;

  // Pending ops that cancel() was called for (few: streams cancel rarely).
  std::vector<IoOp*> cancel_requested_;
  // Ops waiting, after -EAGAIN or -EINTR, for the readiness poll that precedes
  // their next attempt.
  std::vector<IoOp*> retrying_;
};

}  // namespace loops::uring
