// The socket transport behind loops/streams.hpp, with its two drivers:
//  - readiness (every backend with traits().io): the loop's watch() says
//    when the socket can be read or written, and the transport makes the
//    non-blocking recv/send/accept4/connect calls itself;
//  - completion (traits().completion_io): the transport submit()s recv, send,
//    accept and connect operations and is told their results.
// Everything else (buffers, waiters, flow control, closing; a listener's
// handlers and closing) is written once, in SocketTransport and Listener.
// driver_for() is the one place that chooses a driver for a loop.
//
// Lifetime: a transport holds a reference to itself from creation until its
// socket is closed, and one more per submitted operation until that operation
// completes, so neither the socket nor a buffer the backend writes into can
// go away under the engine. Readers and writers hold counted user handles;
// when the last one goes, the connection is closed.
#include "loops/streams.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "loops/detail/posix.hpp"
#include "loops/run.hpp"

namespace loops {
namespace detail {
namespace {

using namespace std::chrono_literals;

// Bytes asked for by one receive.
constexpr std::size_t kReceiveChunk = 64 * 1024;
// Reading pauses while this much is buffered and unread (asyncio pauses at
// twice its 64 KiB limit); a reader waiting for more resumes it.
constexpr std::size_t kPauseReadingAbove = 128 * 1024;
// Receives per readiness report before yielding to other descriptors.
constexpr int kReceivesPerReport = 4;
// Accepts per readiness report.
constexpr int kAcceptsPerReport = 64;
// How long a listener rests after accept() failed for lack of resources
// (EMFILE, ENOBUFS...), instead of spinning on a backlog it cannot take.
constexpr auto kAcceptBackoff = 100ms;

std::exception_ptr connection_error(int code, const std::string& what) {
  const std::string message = what + ": " + std::strerror(code);
  switch (code) {
    case ECONNREFUSED:
      return std::make_exception_ptr(ConnectionRefusedError(code, message));
    case ECONNRESET:
    case EPIPE:
      return std::make_exception_ptr(ConnectionResetError(code, message));
    default:
      return std::make_exception_ptr(ConnectionError(code, message));
  }
}

sockaddr_in resolve(const std::string& host, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  const char* numeric = host == "localhost" ? "127.0.0.1" : host.c_str();
  if (::inet_pton(AF_INET, numeric, &address.sin_addr) != 1) {
    throw ValueError("host '" + host + "' is not a numeric IPv4 address or localhost");
  }
  return address;
}

EventLoop& io_loop() {
  EventLoop& loop = get_running_loop();
  if (!loop.backend().traits().io) {
    throw RuntimeError(std::string("backend ") + loop.backend().name() + " has no socket I/O");
  }
  return loop;
}

int new_socket() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(errno, "socket");
  return fd;
}

// Small messages go out at once, as asyncio sets it on every TCP transport.
void set_no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Futures that waiting coroutines await, one each, so that cancelling one
// waiter (which cancels the future it awaits) leaves the others waiting.
class Waiters {
 public:
  Future<void> add(EventLoop& loop) { return waiting_.emplace_back(loop.create_future<void>()); }
  // Whether a waiter is still waiting (one that was cancelled is not).
  bool any() {
    std::erase_if(waiting_, [](const Future<void>& future) { return future.done(); });
    return !waiting_.empty();
  }
  void wake_all() {
    for (const auto& future : std::exchange(waiting_, {})) {
      if (!future.done()) future.set_result();
    }
  }
  void fail_all(const std::exception_ptr& error) {
    for (const auto& future : std::exchange(waiting_, {})) {
      if (!future.done()) future.set_exception(error);
    }
  }

 private:
  std::vector<Future<void>> waiting_;
};

// Bytes written and not yet sent. The front part may be under a submitted
// send, so appending never moves it: new bytes go to a second string while
// the first is in use.
class WriteBuffer {
 public:
  std::size_t size() const noexcept { return sending_.size() - offset_ + queued_.size(); }
  bool empty() const noexcept { return sending_.empty(); }
  void append(std::string_view data) {
    if (sending_.empty()) {
      sending_.append(data);
    } else {
      queued_.append(data);
    }
  }
  // The bytes to send next (the first of them all).
  std::string_view front() const noexcept {
    return {sending_.data() + offset_, sending_.size() - offset_};
  }
  void consume(std::size_t n) {
    offset_ += n;
    if (offset_ == sending_.size()) {
      sending_.clear();
      offset_ = 0;
      sending_.swap(queued_);
    }
  }

 private:
  std::string sending_;
  std::string queued_;
  std::size_t offset_ = 0;
};

}  // namespace

// --- The transport, written once -----------------------------------------------------

class SocketTransport : public RefCounted {
 public:
  // A transport of the right driver for `loop`'s backend, reading already.
  // Takes ownership of fd. The caller gets no reference: hand it to handles.
  static SocketTransport* create(EventLoop& loop, int fd);

  // --- User handles ---
  void add_user() noexcept { ++users_; }
  void remove_user() {
    if (--users_ == 0) close();
  }

  // --- Reading ---
  std::size_t buffered() const noexcept { return received_.size() - read_offset_; }
  std::string_view unread() const noexcept {
    return std::string_view(received_).substr(read_offset_);
  }
  // Removes and returns the first n unread bytes (n <= buffered()).
  std::string take(std::size_t n) {
    std::string out = received_.substr(read_offset_, n);
    read_offset_ += n;
    if (read_offset_ == received_.size()) {
      received_.clear();
      read_offset_ = 0;
    } else if (read_offset_ > received_.size() / 2) {
      received_.erase(0, read_offset_);
      read_offset_ = 0;
    }
    if (paused_ && buffered() < kPauseReadingAbove) {
      paused_ = false;
      reading_changed();
    }
    return out;
  }
  // No more bytes will arrive (end of stream, loss, or our own close).
  bool eof() const noexcept { return eof_; }
  bool at_eof() const noexcept { return eof_ && buffered() == 0; }
  const std::exception_ptr& error() const noexcept { return error_; }
  // A future set when bytes or end of stream arrive.
  Future<void> wait_for_data() {
    if (reader_.any()) {
      throw RuntimeError("read called while another coroutine is already waiting for data");
    }
    Future<void> arrival = reader_.add(loop_);
    paused_ = false;  // Waiting for more than the pause limit must not deadlock.
    reading_changed();
    return arrival;
  }

  // --- Writing ---
  void write(std::string_view data) {
    check_writable();
    if (data.empty()) return;
    out_.append(data);
    writing_changed();
    if (out_.size() > high_water_) writing_paused_ = true;
  }
  // A future set once the buffer is at or below the low-water mark, or null
  // when there is nothing to wait for. Writing pauses when the buffer goes
  // above the high-water mark and resumes only at the low one, as asyncio's
  // pause_writing / resume_writing do: in between, drain() waits.
  Future<void> wait_for_drain() {
    check_writable();
    if (!writing_paused_) return {};
    return drainers_.add(loop_);
  }
  std::size_t write_buffer_size() const noexcept { return out_.size(); }
  void set_write_buffer_limits(std::size_t high, std::size_t low) {
    if (low > high) throw ValueError("low water mark above high water mark");
    high_water_ = high;
    low_water_ = low;
    if (out_.size() > high_water_) writing_paused_ = true;
  }

  // --- Closing ---
  void close() {
    if (closing_) return;
    closing_ = true;
    eof_ = true;
    if (loop_.is_closed()) {
      abandon();
      return;
    }
    reader_.wake_all();
    reading_changed();
    if (out_.empty() || error_) begin_shutdown();
  }
  bool is_closing() const noexcept { return closing_; }
  Future<void> wait_closed() {
    if (closed_) {
      Future<void> done = loop_.create_future<void>();
      done.set_result();
      return done;
    }
    return closers_.add(loop_);
  }

 protected:
  SocketTransport(EventLoop& loop, int fd)
      : loop_(loop), fd_(fd), chunk_(std::make_unique<char[]>(kReceiveChunk)) {}
  // Only a transport that failed to start still has its socket here.
  ~SocketTransport() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // Whether the driver should be receiving now.
  bool reading_wanted() const noexcept { return !eof_ && !shutting_down_ && !paused_; }
  bool shutting_down() const noexcept { return shutting_down_; }

  // --- What the drivers report ---
  void received(std::size_t n) {
    received_.append(chunk_.get(), n);
    if (buffered() >= kPauseReadingAbove) paused_ = true;
    reader_.wake_all();
  }
  void received_eof() {
    eof_ = true;
    reader_.wake_all();
  }
  void sent(std::size_t n) {
    out_.consume(n);
    if (writing_paused_ && out_.size() <= low_water_) {
      writing_paused_ = false;
      drainers_.wake_all();
    }
    if (closing_ && out_.empty()) begin_shutdown();
  }
  void lost(int code, const char* what) {
    if (error_) return;
    error_ = connection_error(code, what);
    eof_ = true;
    reader_.wake_all();
    drainers_.fail_all(error_);
    begin_shutdown();
  }
  // The socket is closed and no operation is pending: the end.
  void finished() {
    closed_ = true;
    if (!loop_.is_closed()) {
      drainers_.fail_all(std::make_exception_ptr(StreamClosedError()));
      closers_.wake_all();
    }
    release();  // The transport's reference to itself.
  }

  // --- What the drivers do ---
  // reading_wanted() may have changed.
  virtual void reading_changed() = 0;
  // The write buffer has new bytes.
  virtual void writing_changed() = 0;
  // Stops every operation, closes the socket, then calls finished().
  virtual void shut() = 0;
  // The loop is closed: no completion will come; close the socket if possible.
  virtual void abandon() = 0;

  EventLoop& loop_;
  int fd_;
  std::unique_ptr<char[]> chunk_;  // Where receives land.
  WriteBuffer out_;

 private:
  void check_writable() const {
    if (closing_) throw StreamClosedError();
    if (error_) std::rethrow_exception(error_);
  }
  void begin_shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    shut();
  }

  std::string received_;
  std::size_t read_offset_ = 0;
  Waiters reader_;
  Waiters drainers_;
  Waiters closers_;
  std::exception_ptr error_;
  std::size_t high_water_ = StreamWriter::kDefaultHighWater;
  std::size_t low_water_ = StreamWriter::kDefaultHighWater / 4;
  int users_ = 0;
  bool eof_ = false;
  bool paused_ = false;
  bool writing_paused_ = false;
  bool closing_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
};

namespace {

// --- Readiness driver ---------------------------------------------------------------

class ReadinessTransport final : public SocketTransport, public IoHandler {
 public:
  ReadinessTransport(EventLoop& loop, int fd) : SocketTransport(loop, fd) {}

  void on_io_ready(unsigned events) override {
    const auto keep = Ref<ReadinessTransport>::share(this);  // Shutting down drops a reference.
    if ((events & kIoWritable) != 0) flush();
    if ((events & kIoReadable) != 0 && reading_wanted()) receive();
    update_watch();
  }

  void reading_changed() override { update_watch(); }

  void writing_changed() override {
    // The socket usually takes it all at once; only the rest waits for writability.
    if ((watched_ & kIoWritable) == 0) flush();
    update_watch();
  }

  void shut() override {
    if (watched_ != kIoNone) core_of(loop_).watch(fd_, kIoNone, nullptr);
    watched_ = kIoNone;
    ::close(std::exchange(fd_, -1));
    finished();
  }

  void abandon() override {
    if (fd_ < 0) return;
    if (watched_ != kIoNone) core_of(loop_).watch(fd_, kIoNone, nullptr);
    watched_ = kIoNone;
    ::close(std::exchange(fd_, -1));
    release();
  }

 private:
  void receive() {
    for (int i = 0; i < kReceivesPerReport && reading_wanted(); ++i) {
      const ssize_t n = ::recv(fd_, chunk_.get(), kReceiveChunk, 0);
      if (n > 0) {
        received(static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < kReceiveChunk) return;
      } else if (n == 0) {
        received_eof();
        return;
      } else if (errno != EINTR) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) lost(errno, "recv");
        return;
      }
    }
  }

  void flush() {
    while (fd_ >= 0 && !out_.empty()) {
      const std::string_view next = out_.front();
      const ssize_t n = ::send(fd_, next.data(), next.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        sent(static_cast<std::size_t>(n));
      } else if (errno != EINTR) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) lost(errno, "send");
        return;
      }
    }
  }

  void update_watch() {
    if (fd_ < 0) return;
    const unsigned wanted =
        (reading_wanted() ? kIoReadable : kIoNone) | (out_.empty() ? kIoNone : kIoWritable);
    if (wanted == watched_) return;
    core_of(loop_).watch(fd_, wanted, this);
    watched_ = wanted;
  }

  unsigned watched_ = kIoNone;
};

// --- Completion driver --------------------------------------------------------------

// One submitted operation of an object that holds a reference to itself for
// as long as the operation is pending. `Owner::*on_done` gets the result.
template <class Owner>
class OpSlot final : public IoCompletion {
 public:
  using Done = void (Owner::*)(std::int64_t result);
  OpSlot(Owner& owner, Done on_done) : owner_(owner), on_done_(on_done) {}

  bool pending() const noexcept { return pending_; }
  void submit(EventLoop& loop, IoOpKind kind, int fd, void* data, std::size_t size) {
    op_ = IoOp{kind, fd, data, size, this};
    loop_ = &loop;
    owner_.add_ref();
    pending_ = true;
    try {
      core_of(loop).submit(op_);
    } catch (...) {
      pending_ = false;
      owner_.release();
      throw;
    }
  }
  void cancel() {
    if (pending_) core_of(*loop_).cancel(op_);
  }
  void on_io_complete(std::int64_t result) override {
    const auto keep = Ref<Owner>::adopt(&owner_);  // The reference submit() took.
    pending_ = false;
    (owner_.*on_done_)(result);
  }

 private:
  Owner& owner_;
  Done on_done_;
  IoOp op_;
  EventLoop* loop_ = nullptr;
  bool pending_ = false;
};

class CompletionTransport final : public SocketTransport {
 public:
  CompletionTransport(EventLoop& loop, int fd) : SocketTransport(loop, fd) {}

  void reading_changed() override {
    if (reading_wanted()) {
      if (!receive_.pending()) {
        receive_.submit(loop_, IoOpKind::kRecv, fd_, chunk_.get(), kReceiveChunk);
      }
    } else if (is_closing()) {
      receive_.cancel();  // Bytes it already took still arrive in its result.
    }
  }

  void writing_changed() override {
    if (send_.pending() || out_.empty() || shutting_down()) return;
    const std::string_view next = out_.front();
    send_.submit(loop_, IoOpKind::kSend, fd_, const_cast<char*>(next.data()), next.size());
  }

  void shut() override {
    receive_.cancel();
    send_.cancel();
    close_when_idle();
  }

  // No completion will come: the operations keep their references, and so
  // the socket, until the backend is destroyed.
  void abandon() override {}

 private:
  void on_received(std::int64_t result) {
    if (result > 0) {
      received(static_cast<std::size_t>(result));
    } else if (result == 0) {
      received_eof();
    } else if (result != -ECANCELED) {
      lost(static_cast<int>(-result), "recv");
    }
    if (shutting_down()) {
      close_when_idle();
    } else {
      reading_changed();
    }
  }

  void on_sent(std::int64_t result) {
    if (result >= 0) {
      sent(static_cast<std::size_t>(result));
    } else if (result != -ECANCELED) {
      lost(static_cast<int>(-result), "send");
    }
    if (shutting_down()) {
      close_when_idle();
    } else {
      writing_changed();
    }
  }

  void close_when_idle() {
    if (receive_.pending() || send_.pending() || fd_ < 0) return;
    core_of(loop_).close_socket(std::exchange(fd_, -1));
    finished();
  }

  OpSlot<CompletionTransport> receive_{*this, &CompletionTransport::on_received};
  OpSlot<CompletionTransport> send_{*this, &CompletionTransport::on_sent};
};

}  // namespace

// --- User handles -------------------------------------------------------------------

TransportHandle::TransportHandle(SocketTransport* transport) : transport_(transport) {
  transport_->add_ref();
  transport_->add_user();
}

TransportHandle::TransportHandle(const TransportHandle& other) : transport_(other.transport_) {
  if (transport_ != nullptr) {
    transport_->add_ref();
    transport_->add_user();
  }
}

TransportHandle& TransportHandle::operator=(const TransportHandle& other) {
  if (this != &other) {
    TransportHandle copy(other);
    reset();
    std::swap(transport_, copy.transport_);
  }
  return *this;
}

TransportHandle::~TransportHandle() {
  reset();
}

void TransportHandle::reset() noexcept {
  if (transport_ == nullptr) return;
  SocketTransport* transport = std::exchange(transport_, nullptr);
  try {
    transport->remove_user();
  } catch (...) {
    // Closing failed in the engine (a refused unwatch): the socket is being
    // dropped anyway, and a destructor has no one to tell.
  }
  transport->release();
}

// --- The listener -------------------------------------------------------------------

// A listening socket, written once; its driver says how it waits for the
// next connection.
class Listener : public RefCounted {
 public:
  Listener(EventLoop& loop, int fd, ConnectionHandler handler)
      : loop_(loop), fd_(fd), handler_(std::move(handler)) {}
  // Only a listener that failed to start still has its socket here.
  ~Listener() override {
    if (fd_ >= 0) ::close(fd_);
  }

  std::uint16_t port() const noexcept { return port_; }
  bool serving() const noexcept { return fd_ >= 0 && !closing_; }

  void start() {
    sockaddr_in bound{};
    socklen_t length = sizeof bound;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length) < 0) {
      throw_errno(errno, "getsockname");
    }
    port_ = ntohs(bound.sin_port);
    resume_accepting();
    add_ref();  // Held while listening.
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    backoff_.cancel();
    // Else a pending accept's completion closes the socket (none comes once
    // the loop is closed).
    if (stop_accepting()) close_socket();
  }

  Future<void> wait_closed() {
    Future<void> waiter = loop_.create_future<void>();
    if (closed_ && active_ == 0) {
      waiter.set_result();
    } else {
      closers_.emplace_back(waiter);
    }
    return waiter;
  }

  // A handler task ended.
  void handler_finished() {
    --active_;
    maybe_closed();
  }

 protected:
  // --- What the drivers do ---
  // Waits for the next connection, if serving and not waiting already.
  virtual void resume_accepting() = 0;
  // Stops waiting for connections. False when an accept is still pending:
  // the driver then closes the socket when it completes.
  virtual bool stop_accepting() = 0;

  // --- What the drivers report ---
  // Starts a handler task for a new connection.
  void serve(int fd);

  // Out of descriptors or memory: the backlog stays, so rest a while rather
  // than be told about it again at once.
  void accept_failed(int code) {
    loop_.call_exception_handler(
        {"accept failed on a listening socket", connection_error(code, "accept")});
    stop_accepting();
    backoff_ = loop_.call_later(kAcceptBackoff, [keep = Ref<Listener>::share(this)] {
      keep->backoff_ = {};
      keep->resume_accepting();
    });
  }

  void close_socket() {
    if (fd_ < 0) return;
    core_of(loop_).close_socket(std::exchange(fd_, -1));
    closed_ = true;
    maybe_closed();
    release();  // The reference held while listening.
  }

  bool closing() const noexcept { return closing_; }

  EventLoop& loop_;
  int fd_;

 private:
  void maybe_closed() {
    if (!closed_ || active_ != 0 || loop_.is_closed()) return;
    for (const auto& waiter : std::exchange(closers_, {})) {
      if (!waiter.done()) waiter.set_result();
    }
  }

  ConnectionHandler handler_;
  std::uint16_t port_ = 0;
  std::size_t active_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  TimerHandle backoff_;
  std::vector<Future<void>> closers_;
};

namespace {

// Accepts with accept4() while the listening socket is readable.
class ReadinessListener final : public Listener, public IoHandler {
 public:
  using Listener::Listener;

  void on_io_ready(unsigned /*events*/) override {
    const auto keep = Ref<Listener>::share(this);
    for (int i = 0; i < kAcceptsPerReport && serving(); ++i) {
      const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        serve(fd);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) accept_failed(errno);
      return;
    }
  }

 private:
  void resume_accepting() override {
    if (!serving() || watching_) return;
    core_of(loop_).watch(fd_, kIoReadable, this);
    watching_ = true;
  }

  bool stop_accepting() override {
    if (watching_) core_of(loop_).watch(fd_, kIoNone, nullptr);
    watching_ = false;
    return true;
  }

  bool watching_ = false;
};

// Keeps one accept operation pending while serving.
class CompletionListener final : public Listener {
 public:
  using Listener::Listener;

 private:
  void resume_accepting() override {
    if (serving() && !accept_.pending()) accept_.submit(loop_, IoOpKind::kAccept, fd_, nullptr, 0);
  }

  bool stop_accepting() override {
    if (!accept_.pending()) return true;
    if (!loop_.is_closed()) accept_.cancel();
    return false;
  }

  void on_accepted(std::int64_t result) {
    if (result >= 0) {
      const int fd = static_cast<int>(result);
      if (serving()) {
        serve(fd);
      } else {
        core_of(loop_).close_socket(fd);
      }
    } else if (result != -ECANCELED && serving()) {
      accept_failed(static_cast<int>(-result));
      return;
    }
    if (closing()) {
      close_socket();
    } else {
      resume_accepting();
    }
  }

  OpSlot<CompletionListener> accept_{*this, &CompletionListener::on_accepted};
};

}  // namespace
}  // namespace detail

// --- Public interface ---------------------------------------------------------------

// Builds the public objects around the internal ones.
struct StreamAccess {
  static Stream stream(detail::SocketTransport* transport) {
    detail::TransportHandle handle(transport);
    return Stream{StreamReader(handle), StreamWriter(handle)};
  }
  static Server server(detail::Ref<detail::Listener> listener) {
    return Server(std::move(listener));
  }
};

namespace detail {
namespace {

// Runs one connection's handler; its end, however it ends, is counted.
Task<void> run_handler(Ref<Listener> listener, Task<void> handler) {
  struct Finished {
    Listener& listener;
    ~Finished() { listener.handler_finished(); }
  } finished{*listener};
  try {
    co_await handler;
  } catch (const std::exception&) {
    get_running_loop().call_exception_handler(
        {"Unhandled exception in client_connected_cb", std::current_exception()});
  }
}

}  // namespace

void Listener::serve(int fd) {
  Stream stream = StreamAccess::stream(SocketTransport::create(loop_, fd));
  ++active_;
  try {
    loop_.create_task(run_handler(Ref<Listener>::share(this),
                                  handler_(std::move(stream.reader), std::move(stream.writer))));
  } catch (...) {
    --active_;
    throw;
  }
}

namespace {

// Owns a new socket until released; closes it on the way out otherwise,
// through the backend, which may have seen it (a submitted connect).
class SocketGuard {
 public:
  explicit SocketGuard(EventLoop& loop) : loop_(loop), fd_(new_socket()) {}
  SocketGuard(const SocketGuard&) = delete;
  SocketGuard& operator=(const SocketGuard&) = delete;
  ~SocketGuard() {
    if (fd_ >= 0) core_of(loop_).close_socket(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  EventLoop& loop_;
  int fd_;
};

// Readiness connect: a future set when the connecting socket is writable.
class WritableWait final : public IoHandler {
 public:
  WritableWait(EventLoop& loop, int fd) : loop_(loop), fd_(fd), ready_(loop.create_future<void>()) {
    core_of(loop_).watch(fd_, kIoWritable, this);
  }
  WritableWait(const WritableWait&) = delete;
  WritableWait& operator=(const WritableWait&) = delete;
  ~WritableWait() { core_of(loop_).watch(fd_, kIoNone, nullptr); }
  const Future<void>& ready() const noexcept { return ready_; }
  void on_io_ready(unsigned /*events*/) override {
    if (!ready_.done()) ready_.set_result();
  }

 private:
  EventLoop& loop_;
  int fd_;
  Future<void> ready_;
};

Task<void> connect_by_readiness(EventLoop& loop, SocketGuard& socket, const sockaddr_in& address) {
  const int fd = socket.get();
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) co_return;
  if (errno != EINPROGRESS) std::rethrow_exception(connection_error(errno, "connect"));
  {
    WritableWait writable(loop, fd);
    co_await writable.ready();
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) error = errno;
  if (error != 0) std::rethrow_exception(connection_error(error, "connect"));
}

// Completion connect. The operation outlives a cancelled caller: it then
// closes the socket itself when it completes.
class ConnectOp final : public RefCounted {
 public:
  ConnectOp(EventLoop& loop, int fd, const sockaddr_in& address)
      : loop_(loop), fd_(fd), address_(address), done_(loop.create_future<void>()) {}

  void start() { slot_.submit(loop_, IoOpKind::kConnect, fd_, &address_, sizeof address_); }
  const Future<void>& done() const noexcept { return done_; }
  std::int64_t result() const noexcept { return result_; }
  // The caller is gone: cancel, and close the socket on completion.
  void abandon() {
    abandoned_ = true;
    slot_.cancel();
  }
  bool pending() const noexcept { return slot_.pending(); }

 private:
  void on_connected(std::int64_t result) {
    result_ = result;
    if (abandoned_) {
      if (!loop_.is_closed()) core_of(loop_).close_socket(fd_);
    } else if (!done_.done()) {
      done_.set_result();
    }
  }

  EventLoop& loop_;
  int fd_;
  sockaddr_in address_;
  Future<void> done_;
  std::int64_t result_ = 0;
  bool abandoned_ = false;
  OpSlot<ConnectOp> slot_{*this, &ConnectOp::on_connected};
};

Task<void> connect_by_completion(EventLoop& loop, SocketGuard& socket, const sockaddr_in& address) {
  auto op = Ref<ConnectOp>::adopt(new ConnectOp(loop, socket.get(), address));
  op->start();
  struct Abandon {
    ConnectOp& op;
    SocketGuard& socket;
    bool armed = true;
    ~Abandon() {
      if (armed && op.pending()) {
        socket.release();  // The operation closes it.
        op.abandon();
      }
    }
  } abandon{*op, socket};
  co_await op->done();
  abandon.armed = false;
  if (op->result() < 0) {
    std::rethrow_exception(connection_error(static_cast<int>(-op->result()), "connect"));
  }
}

// --- Choosing a driver --------------------------------------------------------------

// What the two drivers do differently.
class Driver {
 public:
  // A transport that owns fd, not reading yet.
  virtual SocketTransport* new_transport(EventLoop& loop, int fd) const = 0;
  // A listener that owns the listening socket fd, not accepting yet.
  virtual Listener* new_listener(EventLoop& loop, int fd, ConnectionHandler handler) const = 0;
  // Connects the guarded socket to `address`, which outlives the task.
  virtual Task<void> connect(EventLoop& loop, SocketGuard& socket,
                             const sockaddr_in& address) const = 0;

 protected:
  ~Driver() = default;
};

// A driver made of its transport, its listener and its way to connect.
template <class Transport, class ListenerType,
          Task<void> (*connect_socket)(EventLoop&, SocketGuard&, const sockaddr_in&)>
class DriverOf final : public Driver {
 public:
  SocketTransport* new_transport(EventLoop& loop, int fd) const override {
    return new Transport(loop, fd);
  }
  Listener* new_listener(EventLoop& loop, int fd, ConnectionHandler handler) const override {
    return new ListenerType(loop, fd, std::move(handler));
  }
  Task<void> connect(EventLoop& loop, SocketGuard& socket,
                     const sockaddr_in& address) const override {
    return connect_socket(loop, socket, address);
  }
};

const DriverOf<ReadinessTransport, ReadinessListener, connect_by_readiness> kReadinessDriver{};
const DriverOf<CompletionTransport, CompletionListener, connect_by_completion> kCompletionDriver{};

// The one place that chooses: completion wherever the backend offers it.
const Driver& driver_for(EventLoop& loop) {
  if (loop.backend().traits().completion_io) return kCompletionDriver;
  return kReadinessDriver;
}

}  // namespace

SocketTransport* SocketTransport::create(EventLoop& loop, int fd) {
  set_no_delay(fd);
  SocketTransport* transport = driver_for(loop).new_transport(loop, fd);
  try {
    transport->reading_changed();
  } catch (...) {
    transport->release();
    throw;
  }
  return transport;
}

}  // namespace detail

// --- StreamReader -------------------------------------------------------------------

Task<std::string> StreamReader::read(std::size_t n) {
  detail::SocketTransport& transport = *transport_;
  if (n == 0) co_return std::string();
  while (transport.buffered() == 0 && !transport.eof()) co_await transport.wait_for_data();
  if (transport.buffered() == 0 && transport.error()) std::rethrow_exception(transport.error());
  co_return transport.take(std::min(n, transport.buffered()));
}

Task<std::string> StreamReader::read_exactly(std::size_t n) {
  detail::SocketTransport& transport = *transport_;
  while (transport.buffered() < n) {
    if (transport.eof()) {
      throw IncompleteReadError(transport.take(transport.buffered()), n);
    }
    co_await transport.wait_for_data();
  }
  co_return transport.take(n);
}

Task<std::string> StreamReader::read_until(std::string separator) {
  if (separator.empty()) throw ValueError("separator should be at least one byte");
  detail::SocketTransport& transport = *transport_;
  std::size_t searched = 0;  // Bytes before this cannot start a match.
  for (;;) {
    const std::size_t found = transport.unread().find(separator, searched);
    if (found != std::string_view::npos) co_return transport.take(found + separator.size());
    if (transport.eof()) {
      std::string partial = transport.take(transport.buffered());
      const std::size_t expected = partial.size() + separator.size();
      throw IncompleteReadError(std::move(partial), expected);
    }
    const std::size_t length = transport.buffered();
    searched = length >= separator.size() ? length - separator.size() + 1 : 0;
    co_await transport.wait_for_data();
  }
}

bool StreamReader::at_eof() const {
  return transport_->at_eof();
}

// --- StreamWriter -------------------------------------------------------------------

void StreamWriter::write(std::string_view data) {
  transport_->write(data);
}

Task<void> StreamWriter::drain() {
  const Future<void> drained = transport_->wait_for_drain();
  if (drained.valid()) co_await drained;
}

std::size_t StreamWriter::write_buffer_size() const {
  return transport_->write_buffer_size();
}

void StreamWriter::set_write_buffer_limits(std::size_t high, std::size_t low) {
  transport_->set_write_buffer_limits(high, low);
}

void StreamWriter::close() {
  transport_->close();
}

bool StreamWriter::is_closing() const {
  return transport_->is_closing();
}

Task<void> StreamWriter::wait_closed() {
  co_await transport_->wait_closed();
}

// --- Server -------------------------------------------------------------------------

// Out of line: Listener is incomplete in the header.
Server::Server() = default;
Server::Server(detail::Ref<detail::Listener> listener) : listener_(std::move(listener)) {}
Server::Server(const Server& other) = default;
Server::Server(Server&& other) noexcept = default;
Server& Server::operator=(const Server& other) = default;
Server& Server::operator=(Server&& other) noexcept = default;
Server::~Server() = default;

std::uint16_t Server::port() const {
  return listener_->port();
}

bool Server::is_serving() const {
  return listener_->serving();
}

void Server::close() {
  if (listener_) listener_->close();
}

Task<void> Server::wait_closed() {
  co_await listener_->wait_closed();
}

// --- Opening ------------------------------------------------------------------------

Task<Stream> open_connection(std::string host, std::uint16_t port) {
  EventLoop& loop = detail::io_loop();
  const sockaddr_in address = detail::resolve(host, port);
  detail::SocketGuard socket(loop);
  co_await detail::driver_for(loop).connect(loop, socket, address);
  co_return StreamAccess::stream(detail::SocketTransport::create(loop, socket.release()));
}

Task<Server> start_server(ConnectionHandler handler, std::string host, std::uint16_t port) {
  EventLoop& loop = detail::io_loop();
  const sockaddr_in address = detail::resolve(host, port);
  detail::SocketGuard socket(loop);
  const int one = 1;
  ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
    detail::throw_errno(errno, "bind");
  }
  if (::listen(socket.get(), SOMAXCONN) < 0) detail::throw_errno(errno, "listen");
  auto listener = detail::Ref<detail::Listener>::adopt(
      detail::driver_for(loop).new_listener(loop, socket.get(), std::move(handler)));
  socket.release();
  listener->start();
  co_return StreamAccess::server(std::move(listener));
}

}  // namespace loops
