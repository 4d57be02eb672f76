#include "uring_backend.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loops/detail/posix.hpp"

namespace loops::uring {

namespace {

// user_data layout: the low three bits say what completed. Watch records are
// heap objects aligned to at least 8, so their address carries kTagWatch (0);
// so are IoOps, whose address carries kTagOp.
constexpr std::uint64_t kTagMask = 7;
constexpr std::uint64_t kTagWatch = 0;
constexpr std::uint64_t kTagWake = 1;
constexpr std::uint64_t kTagTimer = 2;   // generation << 3 | kTagTimer
constexpr std::uint64_t kTagIgnore = 3;  // removals and cancels: their result does not matter
constexpr std::uint64_t kTagOp = 4;      // IoOp address | kTagOp
static_assert(alignof(IoOp) > kTagMask, "IoOp addresses must leave the tag bits free");

// SQEs per poll are few (a timer, a wake read, re-arms); the CQ is larger so
// that many ready descriptors rarely spill into the kernel's overflow list.
constexpr unsigned kSqEntries = 256;
constexpr unsigned kCqEntries = 4096;

constexpr Nanos kNanosPerSecond = 1'000'000'000;

using detail::throw_errno;

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::generic_category().message(err);
}

// Says whether the admin switched io_uring off (Linux 6.6+): 1 = only for
// members of kernel.io_uring_group, 2 = for everyone.
std::string disabled_hint() {
  std::ifstream in("/proc/sys/kernel/io_uring_disabled");
  int value = 0;
  if (in >> value && value != 0) {
    return " (kernel.io_uring_disabled=" + std::to_string(value) + ")";
  }
  return {};
}

// Tries the cheaper-to-run setup first and falls back for older kernels:
// COOP_TASKRUN and TASKRUN_FLAG (5.19) stop the kernel from interrupting the
// loop thread to post completions, SUBMIT_ALL (5.18) keeps one bad SQE from
// holding back the rest of a batch, CQSIZE (5.5) decouples the CQ size.
// SINGLE_ISSUER/DEFER_TASKRUN are left out on purpose: they bind the ring to the
// creating thread, and a loop may be created on one thread and run on another.
// On success `used` holds the flags that worked and the kernel's features.
int init_ring(io_uring& ring, io_uring_params& used) {
  const unsigned attempts[] = {
      IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
          IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_CQSIZE,
      0,
  };
  int rc = -EINVAL;
  for (unsigned flags : attempts) {
    io_uring_params params{};
    params.flags = flags;
    params.cq_entries = kCqEntries;
    rc = io_uring_queue_init_params(kSqEntries, &ring, &params);
    if (rc == 0) {
      used = params;
      return 0;
    }
    // Only EINVAL means "this kernel does not know a flag"; anything else
    // (EPERM, ENOSYS, ENOMEM) will not improve with fewer flags.
    if (rc != -EINVAL) {
      return rc;
    }
  }
  return rc;
}

unsigned to_poll_mask(unsigned events) {
  return detail::to_engine_events(events, POLLIN, POLLOUT);  // POLLERR, POLLHUP: always
}

unsigned to_io_events(unsigned mask) {
  return detail::from_engine_events(mask, POLLIN | POLLPRI | POLLRDHUP, POLLOUT,
                                    POLLERR | POLLHUP | POLLNVAL);
}

std::uint64_t op_user_data(const IoOp& op) {
  return reinterpret_cast<std::uintptr_t>(&op) | kTagOp;
}

// -EAGAIN and -EINTR say "not now" rather than fail: 5.x kernels answer an
// accept on an O_NONBLOCK listener with -EAGAIN instead of waiting for a
// connection, and a signal can interrupt an op that a kernel worker runs. A
// connect cannot be issued twice, so its -EAGAIN (no local port) is an error.
bool worth_retrying(const IoOp& op, int res) {
  return (res == -EAGAIN || res == -EINTR) && op.kind != IoOpKind::kConnect;
}

template <typename T>
bool erase_one(std::vector<T>& items, const T& item) {
  const auto it = std::ranges::find(items, item);
  if (it == items.end()) {
    return false;
  }
  items.erase(it);
  return true;
}

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
  void poll(Nanos deadline, IoBatch& batch) override;
  void wake() noexcept override;
  void watch(int fd, unsigned events, std::uint32_t generation) override;
  BackendTraits traits() const noexcept override { return {.completion_io = true}; }
  void submit(IoOp& op) override;
  void cancel(IoOp& op) override;
  void close_socket(int fd) override;

 private:
  struct Watch;
  // What one poll() found; it returns early only for a wake-up or I/O.
  struct Seen {
    IoBatch& batch;
    bool woke = false;
    bool io = false;
  };

  io_uring_sqe* next_sqe();
  void arm_wake_read();
  void arm_watch(Watch* w);
  void retire(std::unique_ptr<Watch> w);
  void rearm_reported();
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
  // Watches that reported in the last poll, re-armed by the next one: after
  // the core has acted on the report, so that the kernel checks readiness
  // afresh, and after any change of interest the core made meanwhile.
  std::vector<Watch*> reported_;

  // Pending ops that cancel() was called for (few: streams cancel rarely).
  std::vector<IoOp*> cancel_requested_;
  // Ops waiting, after -EAGAIN or -EINTR, for the readiness poll that precedes
  // their next attempt.
  std::vector<IoOp*> retrying_;
};

}  // namespace

struct alignas(8) UringBackend::Watch {
  Watch(int fd_, unsigned events_, std::uint32_t generation_)
      : fd(fd_), events(events_), generation(generation_) {}
  int fd;
  unsigned events;
  std::uint32_t generation;
  // A POLL_ADD carrying this record's address is in the SQ or the kernel.
  bool armed = false;
  // Still the current watch for fd (false once removed or replaced).
  bool live = true;
  // The kernel refused to poll fd (e.g. EBADF); not re-armed until watch()
  // is called again, so a broken descriptor cannot make the loop spin.
  bool failed = false;
};

std::optional<std::string> probe_unavailable_reason() {
  io_uring ring{};
  int rc = io_uring_queue_init(4, &ring, 0);
  if (rc < 0) {
    return errno_text("io_uring_setup", -rc) + disabled_hint();
  }

  std::optional<std::string> reason;
  // IORING_REGISTER_PROBE (5.6) is also the oldest kernel with IORING_OP_READ.
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring); probe == nullptr) {
    reason = "io_uring: cannot probe opcodes (kernel older than 5.6?)";
  } else {
    const std::pair<int, const char*> needed[] = {
        {IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"},
        {IORING_OP_POLL_REMOVE, "IORING_OP_POLL_REMOVE"},
        {IORING_OP_TIMEOUT, "IORING_OP_TIMEOUT"},
        {IORING_OP_TIMEOUT_REMOVE, "IORING_OP_TIMEOUT_REMOVE"},
        {IORING_OP_READ, "IORING_OP_READ"},
        {IORING_OP_RECV, "IORING_OP_RECV"},
        {IORING_OP_SEND, "IORING_OP_SEND"},
        {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},
        {IORING_OP_CONNECT, "IORING_OP_CONNECT"},
        {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
    };
    for (const auto& [op, op_name] : needed) {
      if (io_uring_opcode_supported(probe, op) == 0) {
        reason = std::string("io_uring: kernel lacks ") + op_name;
        break;
      }
    }
    io_uring_free_probe(probe);
  }
  if (!reason) {
    // A filter may allow io_uring_setup but deny io_uring_enter; a NOP round
    // trip proves the ring is usable.
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait(&ring, 1);
    if (rc >= 0) {
      rc = io_uring_peek_cqe(&ring, &cqe);
    }
    if (rc < 0) {
      reason = errno_text("io_uring_enter", -rc);
    }
  }
  io_uring_queue_exit(&ring);
  return reason;
}

BackendEntry backend_entry() {
  BackendEntry entry;
  entry.name = "uring";
  entry.description =
      "Linux io_uring via liburing: absolute ns timeouts, eventfd-read wake-ups, "
      "one-shot POLL_ADD readiness, RECV/SEND/ACCEPT/CONNECT completion I/O";
  entry.create = [] { return std::make_unique<UringBackend>(); };
  entry.unavailable_reason = [] {
    // Availability does not change while the process runs; probe once.
    static const std::optional<std::string> reason = probe_unavailable_reason();
    return reason;
  };
  return entry;
}

UringBackend::UringBackend() {
  io_uring_params used{};
  if (int rc = init_ring(ring_, used); rc < 0) {
    throw_errno(-rc, "io_uring_setup");
  }
  taskrun_flag_ = (used.flags & IORING_SETUP_TASKRUN_FLAG) != 0;
  // IORING_TIMEOUT_UPDATE came in 5.11 and has no feature bit of its own;
  // IORING_FEAT_NATIVE_WORKERS (5.12) proves a kernel at least that new.
  timeout_update_ = (used.features & IORING_FEAT_NATIVE_WORKERS) != 0;
  // Removals and timeout updates complete inline while poll() submits; their
  // success CQE would end the wait at once and cost a second io_uring_enter.
  // IOSQE_CQE_SKIP_SUCCESS (5.17) drops it; failures (-ENOENT) still post.
  if ((used.features & IORING_FEAT_CQE_SKIP) != 0) {
    quiet_flags_ = IOSQE_CQE_SKIP_SUCCESS;
  }
  // Blocking on purpose: io_uring answers a read on an O_NONBLOCK file with
  // -EAGAIN, while on a blocking eventfd it waits for the counter internally.
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    const int err = errno;
    io_uring_queue_exit(&ring_);
    throw_errno(err, "eventfd");
  }
  // Queued now, submitted by the first poll(); a wake() before that is kept
  // by the eventfd counter.
  arm_wake_read();
}

UringBackend::~UringBackend() {
  // Closing the ring cancels the outstanding timeout, polls and eventfd read
  // before the kernel lets go of their buffers (wake_buf_, timer_ts_, records).
  io_uring_queue_exit(&ring_);
  ::close(wake_fd_);
}

Nanos UringBackend::now() noexcept {
  // CLOCK_MONOTONIC is the clock IORING_TIMEOUT_ABS measures deadlines on.
  return detail::read_clock(CLOCK_MONOTONIC);
}

void UringBackend::wake() noexcept {
  // One eventfd write per loop turn is enough; later callers see the flag set
  // and skip the syscall. The loop clears the flag when it reaps the read.
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  const std::uint64_t one = 1;
  // Cannot fail: the counter is at most the number of unreaped writes.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

io_uring_sqe* UringBackend::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // SQ full: hand the queued SQEs to the kernel now and take a fresh slot.
    const int rc = io_uring_submit(&ring_);
    if (rc < 0) {
      throw_errno(-rc, "io_uring_submit");
    }
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      throw_errno(EBUSY, "io_uring_get_sqe");
    }
  }
  return sqe;
}

void UringBackend::arm_wake_read() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
  io_uring_sqe_set_data64(sqe, kTagWake);
}

void UringBackend::arm_watch(Watch* w) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_poll_add(sqe, w->fd, to_poll_mask(w->events));
  io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(w));
  w->armed = true;
}

void UringBackend::retire(std::unique_ptr<Watch> w) {
  w->live = false;
  // Kept first, so that even if queueing the removal throws, the record
  // outlives its poll; reap() frees it once no poll carries its address.
  Watch* raw = w.get();
  retired_.push_back(std::move(w));
  if (raw->armed) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_poll_remove(sqe, reinterpret_cast<std::uintptr_t>(raw));
    io_uring_sqe_set_data64(sqe, kTagIgnore);
    io_uring_sqe_set_flags(sqe, quiet_flags_);
  }
}

void UringBackend::watch(int fd, unsigned events, std::uint32_t generation) {
  auto it = watches_.find(fd);
  if (events == kIoNone) {
    if (it == watches_.end()) {
      return;
    }
    std::unique_ptr<Watch> old = std::move(it->second);
    watches_.erase(it);
    retire(std::move(old));
    return;
  }
  // Same refusals as the epoll backend, so that backends differ only in speed.
  if (it == watches_.end()) {
    if (fd == wake_fd_ || fd == ring_.ring_fd) {
      throw_errno(EINVAL, "io_uring watch: backend-owned fd");
    }
    // POLL_ADD reports a bad descriptor only in its completion, and reports a
    // regular file or directory as always ready where epoll (and so asyncio's
    // add_reader, libuv and Asio) refuse it with EPERM. Check here, so that
    // watch() refuses the same descriptors, synchronously, on every backend.
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
      throw_errno(errno, "io_uring watch");
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      throw_errno(EPERM, "io_uring watch");
    }
    auto w = std::make_unique<Watch>(fd, events, generation);
    arm_watch(w.get());
    watches_.emplace(fd, std::move(w));
    return;
  }
  Watch* w = it->second.get();
  w->generation = generation;
  if (w->events == events && !w->failed) {
    return;
  }
  if (!w->armed) {
    // Reported in the last poll and not re-armed yet (or failed): nothing in
    // flight, so the record can simply be re-armed with the new mask.
    w->events = events;
    w->failed = false;
    arm_watch(w);
    return;
  }
  // The armed poll has the old mask. Replace the record rather than update it,
  // so that the old poll's completion (cancelled, or already on its way) is
  // recognised by its address as stale.
  auto fresh = std::make_unique<Watch>(fd, events, generation);
  arm_watch(fresh.get());
  std::unique_ptr<Watch> old = std::exchange(it->second, std::move(fresh));
  retire(std::move(old));
}

void UringBackend::submit(IoOp& op) {
  // Queued only: the SQE goes out with the next poll()'s batch, and its
  // completion is reaped there at the earliest, never inside this call.
  queue_op(op);
}

void UringBackend::queue_op(IoOp& op) {
  io_uring_sqe* sqe = next_sqe();
  switch (op.kind) {
    case IoOpKind::kRecv:
      io_uring_prep_recv(sqe, op.fd, op.data, op.size, 0);
      break;
    case IoOpKind::kSend:
      // A peer that has gone away must fail the send with EPIPE, not raise
      // SIGPIPE in the whole process. The kernel here (6.18) suppresses the
      // signal for io_uring sends by itself; the flag says so for every kernel.
      io_uring_prep_send(sqe, op.fd, op.data, op.size, MSG_NOSIGNAL);
      break;
    case IoOpKind::kAccept:
      io_uring_prep_accept(sqe, op.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case IoOpKind::kConnect:
      io_uring_prep_connect(sqe, op.fd, static_cast<const sockaddr*>(op.data),
                            static_cast<socklen_t>(op.size));
      break;
  }
  io_uring_sqe_set_data64(sqe, op_user_data(op));
}

void UringBackend::queue_retry_poll(IoOp& op) {
  io_uring_sqe* sqe = next_sqe();
  const bool outgoing = op.kind == IoOpKind::kSend;
  io_uring_prep_poll_add(sqe, op.fd, outgoing ? POLLOUT : POLLIN);
  io_uring_sqe_set_data64(sqe, op_user_data(op));
  retrying_.push_back(&op);
}

void UringBackend::cancel(IoOp& op) {
  if (std::ranges::find(cancel_requested_, &op) != cancel_requested_.end()) {
    return;  // already asked; the op still completes once
  }
  // Remembered so that the op's completion, however it races with the cancel,
  // reports -ECANCELED rather than being retried or re-issued.
  cancel_requested_.push_back(&op);
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel64(sqe, op_user_data(op), 0);
  io_uring_sqe_set_data64(sqe, kTagIgnore);
  io_uring_sqe_set_flags(sqe, quiet_flags_);
}

void UringBackend::close_socket(int fd) {
  // The only native state a socket can have here is a readiness watch; its
  // poll holds a reference to the socket, which would keep it open.
  watch(fd, kIoNone, 0);
  ::close(fd);
}

void UringBackend::sync_timer(Nanos deadline) {
  if (timer_armed_ && timer_deadline_ == deadline) {
    return;
  }
  const std::uint64_t current = (timer_gen_ << 3) | kTagTimer;
  if (deadline != kNoDeadline) {
    timer_ts_.tv_sec = deadline / kNanosPerSecond;
    timer_ts_.tv_nsec = deadline % kNanosPerSecond;
  }
  if (timer_armed_ && deadline != kNoDeadline && timeout_update_) {
    // Move the armed timeout in place: one SQE, same user_data. If it fired
    // before the update reached it, the update fails with -ENOENT and the
    // -ETIME completion (same generation) clears timer_armed_; poll() then
    // sees now() < deadline, waits again and this function arms afresh.
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_timeout_update(sqe, &timer_ts_, current, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(sqe, kTagIgnore);
    io_uring_sqe_set_flags(sqe, quiet_flags_);
    timer_deadline_ = deadline;
    return;
  }
  if (timer_armed_) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_timeout_remove(sqe, current, 0);
    io_uring_sqe_set_data64(sqe, kTagIgnore);
    io_uring_sqe_set_flags(sqe, quiet_flags_);
    timer_armed_ = false;
  }
  if (deadline == kNoDeadline) {
    return;
  }
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_timeout(sqe, &timer_ts_, 0, IORING_TIMEOUT_ABS);
  // A new generation, so that the completion of the timeout just removed
  // (-ECANCELED, or -ETIME if it fired first) is recognised as stale.
  ++timer_gen_;
  io_uring_sqe_set_data64(sqe, (timer_gen_ << 3) | kTagTimer);
  timer_armed_ = true;
  timer_deadline_ = deadline;
}

void UringBackend::submit_nowait() {
  const bool queued = io_uring_sq_ready(&ring_) > 0;
  // With COOP_TASKRUN, completions wait as task work until we enter the
  // kernel; the kernel tells us through IORING_SQ_TASKRUN that some do.
  const bool deferred =
      taskrun_flag_ &&
      (std::atomic_ref<unsigned>(*ring_.sq.kflags).load(std::memory_order_relaxed) &
       IORING_SQ_TASKRUN) != 0;
  if (!queued && !deferred) {
    return;  // nothing for the kernel: no syscall
  }
  const int rc = io_uring_submit_and_get_events(&ring_);
  if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    throw_errno(-rc, "io_uring_submit");
  }
}

void UringBackend::rearm_reported() {
  for (Watch* w : reported_) {
    if (w->live && !w->armed && !w->failed) {
      arm_watch(w);
    }
  }
  reported_.clear();
}

void UringBackend::poll(Nanos deadline, IoBatch& batch) {
  // Before any reaping: reap() frees retired records, which the list may hold.
  rearm_reported();
  Seen seen{batch};
  if (deadline <= now()) {
    submit_nowait();
    reap(seen);
    return;
  }
  for (;;) {
    sync_timer(deadline);
    const int rc = io_uring_submit_and_wait(&ring_, 1);
    // EINTR: a signal; EAGAIN/EBUSY: the kernel is short of memory or has
    // overflowed CQEs to flush, which reaping below resolves.
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      throw_errno(-rc, "io_uring_submit_and_wait");
    }
    reap(seen);
    // Only a wake-up, readiness or the deadline itself ends the wait: a stale
    // timer completion or a removal's result must not make a timer fire early.
    if (seen.woke || seen.io || now() >= deadline) {
      return;
    }
  }
}

void UringBackend::reap(Seen& seen) {
  constexpr unsigned kBatch = 64;
  io_uring_cqe* batch[kBatch];
  // Reap only what had completed on entry. Re-arms and retries queue SQEs,
  // and a full SQ submits them mid-reap; a re-issued op can complete at once,
  // so without this bound one poll() could keep reaping. The rest waits in
  // the CQ and makes the next poll() return at once.
  unsigned budget = io_uring_cq_ready(&ring_);
  if (budget == 0) {
    // Empty ring: the peek flushes CQEs the kernel holds back (overflow, or
    // task work under COOP_TASKRUN) into it.
    budget = io_uring_peek_batch_cqe(&ring_, batch, kBatch);
  }
  while (budget > 0) {
    const unsigned n = io_uring_peek_batch_cqe(&ring_, batch, budget < kBatch ? budget : kBatch);
    if (n == 0) {
      break;
    }
    budget -= n;
    for (unsigned i = 0; i < n; ++i) {
      // Copy, then consume this one CQE before acting on it: should that
      // throw, the rest stay in the CQ for the next poll.
      const std::uint64_t user_data = batch[i]->user_data;
      const int res = batch[i]->res;
      io_uring_cq_advance(&ring_, 1);
      dispatch(user_data, res, seen);
    }
  }
  if (!retired_.empty()) {
    std::erase_if(retired_, [](const std::unique_ptr<Watch>& w) { return !w->armed; });
  }
}

void UringBackend::dispatch(std::uint64_t user_data, int res, Seen& seen) {
  switch (user_data & kTagMask) {
    case kTagWatch: {
      // The kernel hands back the record address that arm_watch() gave it;
      // the round trip through an integer is the io_uring API, not a choice.
      // NOLINTNEXTLINE(performance-no-int-to-ptr)
      auto* w = reinterpret_cast<Watch*>(static_cast<std::uintptr_t>(user_data));
      on_watch_done(w, res, seen);
      break;
    }
    case kTagWake:
      // -ECANCELED: the thread that submitted the read exited (older kernels
      // cancel its requests); the counter still holds any wake-up, so re-arm.
      if (res >= 0) {
        // Clearing before poll() returns means a wake() that saw the flag set
        // is covered by this return; acq_rel pairs with wake()'s exchange.
        wake_pending_.exchange(false, std::memory_order_acq_rel);
        seen.woke = true;
      } else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
        arm_wake_read();
        throw_errno(-res, "io_uring eventfd read");
      }
      arm_wake_read();
      break;
    case kTagTimer:
      // -ETIME: the deadline passed; -ECANCELED: removed (or its thread
      // exited). Either way the current timeout is gone; older generations
      // were replaced and mean nothing.
      if ((user_data >> 3) == timer_gen_) {
        timer_armed_ = false;
      }
      break;
    case kTagOp:
      // NOLINTNEXTLINE(performance-no-int-to-ptr): as for watch records
      on_op_done(reinterpret_cast<IoOp*>(static_cast<std::uintptr_t>(user_data & ~kTagMask)), res,
                 seen);
      break;
    default:
      break;
  }
}

void UringBackend::on_op_done(IoOp* op, int res, Seen& seen) {
  const bool was_retry_poll = !retrying_.empty() && erase_one(retrying_, op);
  const bool cancel_asked = !cancel_requested_.empty() && erase_one(cancel_requested_, op);
  // Between attempts nothing has been transferred yet.
  const bool between_attempts = was_retry_poll || worth_retrying(*op, res);
  if (cancel_asked) {
    if (between_attempts) {
      res = -ECANCELED;
    }
  } else if (was_retry_poll || res == -ECANCELED) {
    // Ready again (a failed poll leaves the error to the op itself); or
    // cancelled by the kernel, not by us (older kernels cancel the requests of
    // an exiting submitter thread). Either way the op has not happened: issue it.
    queue_op(*op);
    return;
  } else if (between_attempts) {
    queue_retry_poll(*op);
    return;
  }
  seen.io = true;
  seen.batch.completed.push_back({op->completion, res});
}

void UringBackend::on_watch_done(Watch* w, int res, Seen& seen) {
  w->armed = false;
  if (!w->live) {
    return;  // removed or replaced; reap() frees it
  }
  if (res == -ECANCELED) {
    // Cancelled by the kernel (not by us: we only cancel retired records),
    // e.g. because the submitting thread exited; keep watching.
    arm_watch(w);
    return;
  }
  // A failed poll (e.g. EBADF) reports both directions, so that the core's
  // next read or write sees the error, and is not re-armed until watch().
  w->failed = res < 0;
  const unsigned ready =
      (res < 0 ? kIoReadable | kIoWritable : to_io_events(static_cast<unsigned>(res))) & w->events;
  if (ready == kIoNone) {
    arm_watch(w);  // nothing the core asked for: keep waiting in this poll
    return;
  }
  seen.io = true;
  seen.batch.ready.push_back({w->fd, w->generation, ready});
  reported_.push_back(w);
}

}  // namespace loops::uring
