#include "uv_backend.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cassert>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loops/detail/posix.hpp"

namespace loops::uv {

namespace {

constexpr std::uint64_t kNanosPerMilli = 1'000'000;

[[noreturn]] void throw_uv(int err, const char* what) {
  // libuv reports errors as -errno on Unix.
  detail::throw_errno(-err, what);
}

int to_uv_events(unsigned events) {
  return static_cast<int>(detail::to_engine_events(events, UV_READABLE, UV_WRITABLE));
}

class UvBackend final : public Backend {
 public:
  UvBackend();
  ~UvBackend() override;
  // libuv handles point back at this object: it never moves.
  UvBackend(const UvBackend&) = delete;
  UvBackend& operator=(const UvBackend&) = delete;

  const char* name() const noexcept override { return "uv"; }
  BackendTraits traits() const noexcept override { return {.completion_io = true}; }
  Nanos now() noexcept override;
  void poll(Nanos deadline, IoBatch& batch) override;
  void wake() noexcept override;
  // Note: uv_poll_init() puts fd into non-blocking mode.
  void watch(int fd, unsigned events, std::uint32_t generation) override;
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
  // Reports op's result: into this poll's batch, or, outside poll() (from
  // submit() or cancel()), into the next one's.
  void complete(IoOp& op, std::int64_t result);

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
  // The batch of the poll() under way, into which libuv's callbacks report.
  IoBatch* batch_ = nullptr;
  // Results reported outside poll(), for the next one.
  std::vector<IoResult> early_;
  // Set by the callbacks during one poll(): why uv_run() returned (a
  // wake-up, or something appended to the batch).
  bool woken_ = false;
  bool reported_ = false;
};

}  // namespace

// One watched descriptor. Heap-allocated because uv_close() is asynchronous:
// the handle must outlive watch(fd, kIoNone) until on_watch_closed runs.
struct UvBackend::Watch {
  uv_poll_t handle{};
  UvBackend* owner = nullptr;
  int fd = -1;
  std::uint32_t generation = 0;
  int uv_events = 0;
};

// A descriptor used for completion I/O. Heap-allocated for uv_close(), as Watch.
struct UvBackend::Stream {
  // A send libuv writes from a copy of its bytes (see start_send()).
  struct QueuedWrite {
    uv_write_t req{};
    std::vector<char> bytes;
    IoOp* op = nullptr;  // null once cancel() has completed it
  };

  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  IoOp* recv_op = nullptr;
  IoOp* connect_op = nullptr;
  // Oldest first, as libuv completes them.
  std::deque<std::unique_ptr<QueuedWrite>> writes;
  // libuv stops a stream for reading at its end; later receives return 0, as
  // recv(2) does.
  bool at_eof = false;
};

// A listening descriptor with accepts in progress.
struct UvBackend::Listener {
  uv_poll_t poll{};
  IoOp* accept_op = nullptr;
};

namespace {

template <typename Object>
void close_and_delete(Object* object, uv_handle_t* handle) {
  handle->data = object;
  uv_close(handle, [](uv_handle_t* closed) { delete static_cast<Object*>(closed->data); });
}

bool accept_would_block(int err) {
  // ECONNABORTED: the connection went away while queued; wait for the next.
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED;
}

// libuv writes a full connection's queued bytes with writev(), which raises
// SIGPIPE when the peer has gone. Like Python at start-up, ignore the signal
// unless the program chose a handler, so a reset is an error code rather than
// the end of the process.
void ignore_sigpipe_by_default() noexcept {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
}

}  // namespace

UvBackend::UvBackend() {
  ignore_sigpipe_by_default();
  if (int err = uv_loop_init(&loop_); err != 0) {
    throw_uv(err, "uv_loop_init");
  }
  loop_.data = this;
  int err = uv_timer_init(&loop_, &timer_);
  if (err == 0) {
    err = uv_async_init(&loop_, &async_, &UvBackend::on_async);
    if (err != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    }
  }
  if (err != 0) {
    uv_run(&loop_, UV_RUN_DEFAULT);  // completes the timer's close, if any
    uv_loop_close(&loop_);
    throw_uv(err, "uv_timer_init/uv_async_init");
  }
  // libuv opens a spare descriptor (its reserve for EMFILE) with a loop's
  // first stream and keeps it until the loop closes. Taking it now keeps the
  // descriptor count of a live loop flat from its first connection on.
  uv_tcp_t first_stream;
  if (uv_tcp_init(&loop_, &first_stream) == 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&first_stream), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);  // completes the close before first_stream goes
  }
  // The async handle stays active and referenced for the loop's whole life,
  // so uv_run() never finds the loop "not alive" and returns early: an idle
  // poll(kNoDeadline) blocks until wake() or I/O (LOOP-RUN-01, uvloop#408).
}

UvBackend::~UvBackend() {
  for (auto& entry : watches_) {
    close_watch(entry.second);
  }
  watches_.clear();
  // Pending writes and connects end with UV_ECANCELED; their results are
  // dropped with early_: the core is being torn down.
  for (auto& [fd, stream] : streams_) {
    close_and_delete(stream, reinterpret_cast<uv_handle_t*>(&stream->tcp));
  }
  streams_.clear();
  for (auto& [fd, listener] : listeners_) {
    close_and_delete(listener, reinterpret_cast<uv_handle_t*>(&listener->poll));
  }
  listeners_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  // Every handle is closing now, so this only runs close callbacks (which also
  // free the Watch objects of earlier unwatches) and returns.
  uv_run(&loop_, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop_);
  if (rc != 0) {
    // Not expected: a handle we do not know of. Close it rather than leak the loop.
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
          if (uv_is_closing(handle) == 0) {
            uv_close(handle, nullptr);
          }
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop_);
  }
  if (rc != 0) {
    std::fprintf(stderr, "loopbench uv: uv_loop_close failed: %s\n", uv_strerror(rc));
  }
  assert(rc == 0);
}

Nanos UvBackend::now() noexcept {
  // The precise clock (CLOCK_MONOTONIC), not uv_now(): that one is cached per
  // iteration and truncated to milliseconds (CB-TIME-06, uvloop#29).
  return static_cast<Nanos>(uv_hrtime());
}

bool UvBackend::arm_timer(Nanos deadline) {
  // libuv#4773: uv_timer_start(t, cb, delay) fires once uv_now() >= uv_now() +
  // delay, but uv_now() is the clock truncated to whole milliseconds (and may
  // even be the coarse clock), so a delay computed from the precise remaining
  // time fires up to 1 ms before the deadline. Instead aim at the first
  // millisecond boundary at or after the deadline, measured from uv_now()'s
  // own truncated base: when libuv sees uv_now() >= due_ms, the precise clock
  // reads at least due_ms * 1e6 >= deadline, so the timer cannot fire early.
  uv_update_time(&loop_);
  const std::uint64_t base_ms = uv_now(&loop_);
  const auto deadline_ns = static_cast<std::uint64_t>(deadline);  // > now() >= 0
  const std::uint64_t due_ms =
      deadline_ns / kNanosPerMilli + (deadline_ns % kNanosPerMilli != 0 ? 1 : 0);
  if (due_ms <= base_ms) {
    return false;  // deadline <= base_ms * 1e6 <= now()
  }
  // A huge delay is clamped by libuv itself (timer due time and epoll timeout).
  // The timer repeats every millisecond: when the clock passes due_ms between
  // here and uv_run()'s own time update, libuv fires it in the timer phase
  // *before* polling, and a one-shot timer would leave UV_RUN_ONCE blocking
  // on the async handle alone until some wake-up (seen under load: a 10 us
  // poll lasting over 2 s). poll() re-arms or stops it every time.
  uv_timer_start(&timer_, &UvBackend::on_timer, due_ms - base_ms, 1);
  return true;
}

void UvBackend::poll(Nanos deadline, IoBatch& batch) {
  batch_ = &batch;
  struct Detach {
    UvBackend& backend;
    ~Detach() { backend.batch_ = nullptr; }
  } detach{*this};
  woken_ = false;
  reported_ = false;
  // Results reported by submit() or cancel() are due now: look for more I/O
  // without blocking.
  const bool early = !early_.empty();
  batch.completed.insert(batch.completed.end(), early_.begin(), early_.end());
  early_.clear();
  for (;;) {
    bool block = !early;
    if (deadline == kNoDeadline) {
      uv_timer_stop(&timer_);
    } else {
      block = block && deadline > now() && arm_timer(deadline);
    }
    // UV_RUN_ONCE blocks for the timer, the async handle or I/O. Never uv_stop():
    // asyncio's stop() belongs to the core.
    uv_run(&loop_, block ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    if (woken_ || reported_ || !block || (deadline != kNoDeadline && now() >= deadline)) {
      return;
    }
    // uv_run() came back with nothing to report and the deadline not reached
    // (an interrupted wait, or libuv's millisecond clock not yet at the timer's
    // due time): wait again rather than return early. The re-armed timer is
    // still >= 1 ms away on libuv's clock, so this does not spin.
  }
}

void UvBackend::wake() noexcept {
  // The only libuv call that is safe from any thread; sends coalesce.
  uv_async_send(&async_);
}

void UvBackend::watch(int fd, unsigned events, std::uint32_t generation) {
  auto found = watches_.find(fd);
  const int uv_events = to_uv_events(events);
  if (uv_events == 0) {
    if (found != watches_.end()) {
      Watch* watch = found->second;
      watches_.erase(found);
      close_watch(watch);
    }
    return;
  }
  if (found != watches_.end()) {
    Watch* watch = found->second;
    watch->generation = generation;
    // uv_poll_start() re-registers the descriptor; skip it when nothing changed.
    if (watch->uv_events != uv_events ||
        uv_is_active(reinterpret_cast<uv_handle_t*>(&watch->handle)) == 0) {
      watch->uv_events = uv_events;
      if (int err = uv_poll_start(&watch->handle, uv_events, &UvBackend::on_poll); err != 0) {
        throw_uv(err, "uv_poll_start");
      }
    }
    return;
  }
  auto watch = std::make_unique<Watch>();
  watch->owner = this;
  watch->fd = fd;
  watch->generation = generation;
  watch->uv_events = uv_events;
  // Refuses descriptors epoll cannot watch (regular files: EPERM).
  if (int err = uv_poll_init(&loop_, &watch->handle, fd); err != 0) {
    throw_uv(err, "uv_poll_init");
  }
  watch->handle.data = watch.get();
  if (int err = uv_poll_start(&watch->handle, uv_events, &UvBackend::on_poll); err != 0) {
    close_watch(watch.release());
    throw_uv(err, "uv_poll_start");
  }
  watches_.emplace(fd, watch.release());
}

void UvBackend::close_watch(Watch* watch) {
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->handle), &UvBackend::on_watch_closed);
}

void UvBackend::on_watch_closed(uv_handle_t* handle) {
  delete static_cast<Watch*>(handle->data);
}

void UvBackend::on_timer(uv_timer_t* /*timer*/) {
  // Nothing to do: firing makes uv_run() return, and poll() checks now().
}

void UvBackend::on_async(uv_async_t* async) {
  static_cast<UvBackend*>(async->loop->data)->woken_ = true;
}

void UvBackend::on_poll(uv_poll_t* handle, int status, int uv_events) {
  auto* watch = static_cast<Watch*>(handle->data);
  UvBackend* self = watch->owner;
  // libuv turns POLLERR into UV_EBADF, reported as both directions. A bare
  // hang-up (POLLHUP) arrives as the events that were watched: libuv merges
  // them in, so the next read or write still sees it.
  const unsigned ready = status < 0 ? kIoReadable | kIoWritable
                                    : detail::from_engine_events(static_cast<unsigned>(uv_events),
                                                                 UV_READABLE, UV_WRITABLE, 0);
  if (ready != kIoNone) {
    self->batch_->ready.push_back({watch->fd, watch->generation, ready});
    self->reported_ = true;
  }
  // On POLLERR libuv has stopped the handle; the seam keeps a descriptor
  // watched until watch(fd, kIoNone), as level-triggered epoll does: re-arm.
  if (status < 0 && uv_is_active(reinterpret_cast<uv_handle_t*>(handle)) == 0) {
    uv_poll_start(handle, watch->uv_events, &UvBackend::on_poll);
  }
}

void UvBackend::submit(IoOp& op) {
  Stream* stream = nullptr;
  int err = op.kind == IoOpKind::kAccept ? start_accept(op) : stream_for(op.fd, stream);
  if (err == 0 && stream != nullptr) {
    switch (op.kind) {
      case IoOpKind::kRecv:
        err = start_recv(*stream, op);
        break;
      case IoOpKind::kSend:
        err = start_send(*stream, op);
        break;
      case IoOpKind::kConnect:
        err = start_connect(*stream, op);
        break;
      case IoOpKind::kAccept:
        break;
    }
  }
  if (err != 0) {
    complete(op, err);
  }
}

int UvBackend::stream_for(int fd, Stream*& stream) {
  if (auto found = streams_.find(fd); found != streams_.end()) {
    stream = found->second;
    return 0;
  }
  auto fresh = std::make_unique<Stream>();
  if (int err = uv_tcp_init(&loop_, &fresh->tcp); err != 0) {
    return err;
  }
  // Refuses a descriptor that a uv_poll_t already watches (UV_EEXIST).
  if (int err = uv_tcp_open(&fresh->tcp, fd); err != 0) {
    Stream* unopened = fresh.release();
    close_and_delete(unopened, reinterpret_cast<uv_handle_t*>(&unopened->tcp));
    return err;
  }
  fresh->tcp.data = fresh.get();
  stream = fresh.release();
  streams_.emplace(fd, stream);
  return 0;
}

int UvBackend::start_recv(Stream& stream, IoOp& op) {
  if (stream.at_eof) {
    complete(op, 0);
    return 0;
  }
  stream.recv_op = &op;
  const int err = uv_read_start(reinterpret_cast<uv_stream_t*>(&stream.tcp), &UvBackend::on_alloc,
                                &UvBackend::on_read);
  if (err != 0) {
    stream.recv_op = nullptr;
  }
  return err;
}

void UvBackend::on_alloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) {
  // Straight into the op's buffer: no copy. Without an op (never expected:
  // reading stops with each one) libuv gets no room and reports UV_ENOBUFS.
  const IoOp* op = static_cast<Stream*>(handle->data)->recv_op;
  *buf = op != nullptr ? uv_buf_init(static_cast<char*>(op->data), static_cast<unsigned>(op->size))
                       : uv_buf_init(nullptr, 0);
}

void UvBackend::on_read(uv_stream_t* handle, ssize_t nread, const uv_buf_t* /*buf*/) {
  auto* stream = static_cast<Stream*>(handle->data);
  if (nread == 0) {
    return;  // EAGAIN: libuv keeps waiting
  }
  // One read per op: stopping here also ends libuv's read loop for this event.
  uv_read_stop(handle);
  IoOp* op = std::exchange(stream->recv_op, nullptr);
  if (op == nullptr) {
    return;
  }
  if (nread == UV_EOF) {
    stream->at_eof = true;
    nread = 0;
  }
  static_cast<UvBackend*>(handle->loop->data)->complete(*op, nread);
}

int UvBackend::start_send(Stream& stream, IoOp& op) {
  // First the write that usually succeeds at once (one syscall, no request),
  // as uv_try_write() would, but with MSG_NOSIGNAL: uv_try_write() uses
  // write(), which raises SIGPIPE on a connection the peer has closed. Not
  // while libuv still writes an earlier send: the bytes would overtake it.
  if (stream.writes.empty()) {
    const ssize_t sent = ::send(op.fd, op.data, op.size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0) {
      complete(op, sent);  // a short send is a valid result
      return 0;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return -errno;
    }
  }
  // No room: libuv writes the bytes as room appears, from a copy. libuv cannot
  // withdraw one write, so cancel() completes the op with the copy in the
  // backend's hands, as bytes the kernel has buffered, and libuv carries on.
  // (Its writev() can raise SIGPIPE if the peer closes meanwhile; the process
  // must ignore SIGPIPE, as asyncio's does.)
  auto& write = *stream.writes.emplace_back(std::make_unique<Stream::QueuedWrite>());
  const auto* data = static_cast<const char*>(op.data);
  write.bytes.assign(data, data + op.size);
  write.op = &op;
  write.req.data = &write;
  const uv_buf_t buf = uv_buf_init(write.bytes.data(), static_cast<unsigned>(op.size));
  const int err = uv_write(&write.req, reinterpret_cast<uv_stream_t*>(&stream.tcp), &buf, 1,
                           &UvBackend::on_write);
  if (err != 0) {
    stream.writes.pop_back();
  }
  return err;
}

void UvBackend::on_write(uv_write_t* req, int status) {
  auto* stream = static_cast<Stream*>(req->handle->data);
  const auto* write = static_cast<const Stream::QueuedWrite*>(req->data);
  assert(write == stream->writes.front().get());
  if (write->op != nullptr) {
    static_cast<UvBackend*>(req->handle->loop->data)
        ->complete(*write->op,
                   status == 0 ? static_cast<std::int64_t>(write->bytes.size()) : status);
  }
  stream->writes.pop_front();
}

int UvBackend::start_connect(Stream& stream, IoOp& op) {
  stream.connect_op = &op;
  // libuv defers even an immediate result (refused, say) to the loop.
  const int err = uv_tcp_connect(&stream.connect_req, &stream.tcp,
                                 static_cast<const sockaddr*>(op.data), &UvBackend::on_connect);
  if (err != 0) {
    stream.connect_op = nullptr;
  }
  return err;
}

void UvBackend::on_connect(uv_connect_t* req, int status) {
  auto* stream = static_cast<Stream*>(req->handle->data);
  IoOp* op = std::exchange(stream->connect_op, nullptr);
  static_cast<UvBackend*>(req->handle->loop->data)->complete(*op, status);
}

// Accepts are accept4() on readiness from a uv_poll_t, not libuv's listening
// machinery: uv_listen() calls listen() again (overriding the caller's
// backlog), cannot be stopped short of closing the descriptor (so a cancelled
// accept would leave libuv accepting a connection on its own), and hands each
// connection out as a uv_tcp_t rather than the plain descriptor the seam wants.
int UvBackend::start_accept(IoOp& op) {
  const int fd = ::accept4(op.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0 || !accept_would_block(errno)) {
    complete(op, fd >= 0 ? fd : -errno);
    return 0;
  }
  Listener* listener = nullptr;
  if (auto found = listeners_.find(op.fd); found != listeners_.end()) {
    listener = found->second;
  } else {
    auto fresh = std::make_unique<Listener>();
    if (int err = uv_poll_init(&loop_, &fresh->poll, op.fd); err != 0) {
      return err;
    }
    fresh->poll.data = fresh.get();
    listener = fresh.release();
    listeners_.emplace(op.fd, listener);
  }
  listener->accept_op = &op;
  const int err = uv_poll_start(&listener->poll, UV_READABLE, &UvBackend::on_listener_ready);
  if (err != 0) {
    listener->accept_op = nullptr;
  }
  return err;
}

void UvBackend::on_listener_ready(uv_poll_t* handle, int /*status*/, int /*uv_events*/) {
  auto* listener = static_cast<Listener*>(handle->data);
  if (listener->accept_op == nullptr) {
    return;
  }
  // On an error status too: accept4() then tells which error it is.
  const int fd = ::accept4(listener->accept_op->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0 && accept_would_block(errno)) {
    return;
  }
  uv_poll_stop(handle);
  IoOp* op = std::exchange(listener->accept_op, nullptr);
  static_cast<UvBackend*>(handle->loop->data)->complete(*op, fd >= 0 ? fd : -errno);
}

void UvBackend::cancel(IoOp& op) {
  if (op.kind == IoOpKind::kRecv) {
    auto found = streams_.find(op.fd);
    // Reads happen only inside uv_run(), and each completes its op there, so
    // a pending receive has taken no bytes.
    if (found != streams_.end() && found->second->recv_op == &op) {
      found->second->recv_op = nullptr;
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&found->second->tcp));
      complete(op, -ECANCELED);
    }
  } else if (op.kind == IoOpKind::kSend) {
    auto found = streams_.find(op.fd);
    if (found != streams_.end() && !found->second->writes.empty() &&
        found->second->writes.back()->op == &op) {
      found->second->writes.back()->op = nullptr;
      complete(op, static_cast<std::int64_t>(op.size));
    }
  } else if (op.kind == IoOpKind::kAccept) {
    auto found = listeners_.find(op.fd);
    if (found != listeners_.end() && found->second->accept_op == &op) {
      found->second->accept_op = nullptr;
      uv_poll_stop(&found->second->poll);
      complete(op, -ECANCELED);
    }
  }
}

void UvBackend::close_socket(int fd) {
  if (auto found = streams_.find(fd); found != streams_.end()) {
    // uv_close() closes the descriptor libuv was given by uv_tcp_open().
    close_and_delete(found->second, reinterpret_cast<uv_handle_t*>(&found->second->tcp));
    streams_.erase(found);
    return;
  }
  if (auto found = listeners_.find(fd); found != listeners_.end()) {
    // Removes fd from libuv's epoll set before the close below.
    close_and_delete(found->second, reinterpret_cast<uv_handle_t*>(&found->second->poll));
    listeners_.erase(found);
  }
  ::close(fd);
}

void UvBackend::complete(IoOp& op, std::int64_t result) {
  (batch_ != nullptr ? batch_->completed : early_).push_back({op.completion, result});
  reported_ = true;
}

BackendEntry backend_entry() {
  BackendEntry entry;
  entry.name = "uv";
  entry.description = std::string("libuv ") + uv_version_string() +
                      ": uv_timer_t deadlines (ms, rounded up: never early), uv_async_t "
                      "wake-ups, uv_poll_t readiness, uv_tcp_t reads/writes/connects";
  entry.create = [] { return std::make_unique<UvBackend>(); };
  return entry;
}

}  // namespace loops::uv
