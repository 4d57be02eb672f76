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
//   exactly level-triggered. A watch that reported is re-armed by the next
//   poll(), once the core has acted on the report. Each watch is a heap record whose address is the
//   poll's user_data; a removed record stays alive until its poll's completion
//   has been reaped, so a late completion never touches freed memory or a newer
//   watch on the same descriptor number.
// - Completion I/O: submit() queues IORING_OP_RECV, SEND (MSG_NOSIGNAL), ACCEPT
//   (SOCK_NONBLOCK | SOCK_CLOEXEC) or CONNECT with the IoOp's address as its
//   user_data; the op's CQE becomes its result in poll()'s batch. cancel()
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

#include <optional>
#include <string>

#include "loops/registry.hpp"

namespace loops::uring {

// Probes, afresh on every call, whether this process can create and use an
// io_uring with the operations this backend needs. Returns nullopt when it can,
// otherwise why not, e.g. "io_uring_setup: Operation not permitted" (seccomp,
// kernel.io_uring_disabled) or "io_uring_setup: Function not implemented" (a
// kernel without io_uring). backend_entry() caches the first answer.
std::optional<std::string> probe_unavailable_reason();

// The registry entry for "uring". liburing stays out of this header: the
// backend is defined in uring_backend.cpp alone.
BackendEntry backend_entry();

}  // namespace loops::uring
