#include "asio_backend.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loops/detail/posix.hpp"

namespace loops::asio {
namespace {

namespace bas = ::boost::asio;
using Clock = std::chrono::steady_clock;

// The seam promises std::system_error; Asio throws boost::system::system_error.
[[noreturn]] void rethrow_as_std(const ::boost::system::system_error& e) {
  throw std::system_error(std::error_code(e.code()), e.what());
}

// An IoCompletion result for an Asio error: -errno. Asio reports a cancelled
// op as operation_aborted (ECANCELED); its own categories (eof aside, which
// callers turn into 0) have no errno, so they become EIO.
std::int64_t errno_result(const ::boost::system::error_code& ec) {
  if (ec.category() == ::boost::system::system_category()) {
    return -static_cast<std::int64_t>(ec.value());
  }
  return -EIO;
}

}  // namespace

struct AsioBackend::Impl {
  // One watched descriptor. Owned by shared_ptr: the map holds one reference
  // and every outstanding async_wait handler holds another, so a watch that is
  // dropped while a wait is in flight stays valid until Asio has delivered the
  // (cancelled) completion; `live` tells such late completions to do nothing.
  struct Watch {
    Watch(bas::io_context& io, int fd_) : descriptor(io), fd(fd_) { descriptor.assign(fd_); }
    ~Watch() {
      // Non-owning: hand the fd back instead of letting the destructor close it.
      if (descriptor.is_open()) {
        descriptor.release();
      }
    }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    bas::posix::stream_descriptor descriptor;
    int fd;
    std::uint32_t generation = 0;
    unsigned events = kIoNone;   // what the core wants to hear about
    unsigned pending = kIoNone;  // directions with an async_wait in flight
    bool live = true;
  };

  // One descriptor used for completion I/O: a socket object that borrows the
  // fd (release()d, not closed, unless close_socket() asks for the close).
  // A generic stream socket rather than ip::tcp's, so that any stream family
  // works and a connect target is taken from the op's sockaddr as it is.
  // Accepts are async_wait + accept4() on the same kind of object: Asio's
  // async_accept uses plain accept(), so the new descriptor would need two
  // more syscalls (and a window without close-on-exec) to meet the seam.
  struct Channel {
    // [kReceiving]: the recv, accept or connect; [kSending]: the send (the seam
    // allows at most one of each per descriptor).
    struct Slot {
      IoOp* op = nullptr;
      bas::cancellation_signal cancel;
    };

    Channel(bas::io_context& io, int fd, int family) : socket(io) {
      socket.assign(bas::generic::stream_protocol(family, 0), fd);
    }
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    bas::generic::stream_protocol::socket socket;
    std::array<Slot, 2> slots;
  };
  static constexpr std::size_t kReceiving = 0;
  static constexpr std::size_t kSending = 1;

  static std::size_t slot_index(IoOpKind kind) {
    return kind == IoOpKind::kSend ? kSending : kReceiving;
  }

  Impl() : work(bas::make_work_guard(io)), timer(io) {
    // Asio accepts descriptors that epoll refuses (regular files): it registers
    // nothing and fails each wait later. The seam wants the refusal up front,
    // so watch() first tries the fd on this private epoll set.
    probe_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (probe_fd < 0) {
      detail::throw_errno(errno, "epoll_create1");
    }
  }

  ~Impl() {
    for (auto& [fd, w] : watches) {
      w->live = false;
      w->descriptor.release();
    }
    watches.clear();
    rearm.clear();
    // Releasing cancels the pending ops; their handlers (run by the poll below)
    // touch their Channel, so the channels go only after it, and the results
    // they record are dropped unseen: the core is being torn down.
    for (auto& [fd, channel] : channels) {
      if (channel->socket.is_open()) {
        channel->socket.release();
      }
    }
    tearing_down = true;
    timer.cancel();
    // Run the cancelled completions now, while every Asio service is still
    // alive, rather than leaving them to io_context's own teardown.
    try {
      io.restart();
      io.poll();
    } catch (...) {
      // Nothing useful to do in a destructor; the handlers are no-ops anyway.
    }
    channels.clear();
    ::close(probe_fd);
  }

  static Nanos now() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
  }

  void arm_timer(Nanos deadline) {
    if (deadline == kNoDeadline) {
      // Nothing to wait for but wakes and I/O: an old deadline would only cost
      // an empty trip round the loop.
      if (timer_armed) {
        timer.cancel();
        timer_armed = false;
      }
      return;
    }
    if (timer_armed && armed_deadline == deadline) {
      return;
    }
    // expires_at() cancels the previous wait; its handler sees a stale
    // generation (or operation_aborted) and does nothing.
    timer.expires_at(Clock::time_point(std::chrono::nanoseconds(deadline)));
    const std::uint64_t gen = ++timer_gen;
    timer.async_wait([this, gen](const ::boost::system::error_code& ec) {
      if (!ec && gen == timer_gen) {
        timer_armed = false;
      }
    });
    timer_armed = true;
    armed_deadline = deadline;
  }

  // Starts an async_wait for each wanted direction that has none in flight.
  void arm_watch(const std::shared_ptr<Watch>& w) {
    const unsigned missing = w->events & ~w->pending;
    if ((missing & kIoReadable) != 0U) {
      start_wait(w, kIoReadable);
    }
    if ((missing & kIoWritable) != 0U) {
      start_wait(w, kIoWritable);
    }
  }

  void start_wait(const std::shared_ptr<Watch>& w, unsigned bit) {
    const auto type = bit == kIoReadable ? bas::posix::stream_descriptor::wait_read
                                         : bas::posix::stream_descriptor::wait_write;
    w->descriptor.async_wait(type, [this, w, bit](const ::boost::system::error_code& ec) {
      w->pending &= ~bit;
      if (!w->live || ec == bas::error::operation_aborted) {
        return;
      }
      // Only report here: re-arming waits until Asio's run returns, so that a
      // descriptor that stays ready cannot keep io_context::poll() going round
      // forever. Asio completes every outstanding wait on EPOLLERR/EPOLLHUP;
      // any other error is reported as both directions so the next read or
      // write sees it.
      const unsigned bits = (ec ? (kIoReadable | kIoWritable) : bit) & w->events;
      if (bits == kIoNone) {  // the direction was dropped meanwhile
        return;
      }
      batch->ready.push_back({w->fd, w->generation, bits});
      rearm.push_back(w);
    });
    w->pending |= bit;
  }

  // Re-arms the waits that reported during this poll. Epoll re-checks
  // readiness when it next reports, so a descriptor that the core drains
  // before then is not reported again.
  void rearm_reported() {
    for (const std::shared_ptr<Watch>& w : rearm) {
      if (w->live) {
        arm_watch(w);
      }
    }
    rearm.clear();
  }

  void finish_wake() {
    if (!woken) {
      return;
    }
    woken = false;
    // An RMW (not a plain store) so that it reads the value written by any
    // wake() that skipped its post meanwhile, which makes that thread's earlier
    // writes (e.g. its call_soon_threadsafe item) visible to the core next.
    wake_posted.exchange(false, std::memory_order_acq_rel);
  }

  void poll(Nanos deadline, IoBatch& out) {
    batch = &out;
    struct Detach {
      Impl& impl;
      ~Detach() { impl.batch = nullptr; }
    } detach{*this};
    const std::size_t before = out.ready.size() + out.completed.size();
    const auto reported = [&] { return out.ready.size() + out.completed.size() != before; };
    // Results known since the last poll (failed submits) are due now.
    out.completed.insert(out.completed.end(), early.begin(), early.end());
    early.clear();
    if (reported() || deadline <= now()) {
      io.poll();
    } else {
      arm_timer(deadline);
      // run_one() returns after any handler, including cancelled timer waits
      // and stale I/O completions, so loop until there is a reason to return.
      while (!woken && !reported() && now() < deadline) {
        if (io.run_one() == 0) {  // only if someone stopped it
          io.restart();
        }
      }
      io.poll();
    }
    rearm_reported();
    finish_wake();
  }

  void wake() {
    // Coalesce: one posted handler is enough until poll() has seen it.
    if (wake_posted.exchange(true, std::memory_order_acq_rel)) {
      return;
    }
    bas::post(io, [this] { woken = true; });
  }

  void watch(int fd, unsigned events, std::uint32_t generation) {
    auto it = watches.find(fd);
    if (events == kIoNone) {
      if (it == watches.end()) {
        return;
      }
      std::shared_ptr<Watch> w = std::move(it->second);
      watches.erase(it);
      w->live = false;
      // Cancels the outstanding waits (their handlers run later, see Watch)
      // and removes the fd from Asio's epoll set without closing it.
      w->descriptor.release();
      return;
    }
    if (it == watches.end()) {
      probe(fd);
      auto w = std::make_shared<Watch>(io, fd);
      it = watches.emplace(fd, std::move(w)).first;
    }
    Watch& w = *it->second;
    w.generation = generation;
    // A direction that is dropped keeps its wait in flight; its completion is
    // then ignored, and if the direction comes back the same wait serves it.
    w.events = events;
    arm_watch(it->second);
  }

  void probe(int fd) const {
    epoll_event ev{};
    if (::epoll_ctl(probe_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      detail::throw_errno(errno, ("asio backend: cannot watch fd " + std::to_string(fd)).c_str());
    }
    ::epoll_ctl(probe_fd, EPOLL_CTL_DEL, fd, &ev);
  }

  // --- Completion I/O --------------------------------------------------------------------------

  void submit(IoOp& op) {
    Channel* channel = nullptr;
    try {
      channel = &channel_for(op.fd);
    } catch (const ::boost::system::system_error& e) {
      complete(op, errno_result(e.code()));
      return;
    }
    Channel::Slot& slot = channel->slots[slot_index(op.kind)];
    slot.op = &op;
    switch (op.kind) {
      case IoOpKind::kRecv:
        channel->socket.async_receive(
            bas::buffer(op.data, op.size),
            bas::bind_cancellation_slot(
                slot.cancel.slot(),
                [this, channel](const ::boost::system::error_code& ec, std::size_t n) {
                  finish(*channel, kReceiving,
                         ec == bas::error::eof ? 0
                         : ec                  ? errno_result(ec)
                                               : static_cast<std::int64_t>(n));
                }));
        break;
      case IoOpKind::kSend:
        channel->socket.async_send(
            bas::buffer(static_cast<const void*>(op.data), op.size),
            bas::bind_cancellation_slot(
                slot.cancel.slot(),
                [this, channel](const ::boost::system::error_code& ec, std::size_t n) {
                  finish(*channel, kSending, ec ? errno_result(ec) : static_cast<std::int64_t>(n));
                }));
        break;
      case IoOpKind::kConnect:
        channel->socket.async_connect(
            bas::generic::stream_protocol::endpoint(op.data, op.size),
            bas::bind_cancellation_slot(slot.cancel.slot(),
                                        [this, channel](const ::boost::system::error_code& ec) {
                                          finish(*channel, kReceiving, ec ? errno_result(ec) : 0);
                                        }));
        break;
      case IoOpKind::kAccept:
        wait_to_accept(*channel);
        break;
    }
  }

  Channel& channel_for(int fd) {
    auto it = channels.find(fd);
    if (it == channels.end()) {
      int family = AF_UNSPEC;
      socklen_t len = sizeof family;
      if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) != 0) {
        throw ::boost::system::system_error(errno, ::boost::system::system_category());
      }
      it = channels.emplace(fd, std::make_unique<Channel>(io, fd, family)).first;
    }
    return *it->second;
  }

  void wait_to_accept(Channel& channel) {
    channel.socket.async_wait(
        bas::socket_base::wait_read,
        bas::bind_cancellation_slot(
            channel.slots[kReceiving].cancel.slot(),
            [this, &channel](const ::boost::system::error_code& ec) {
              if (ec) {
                finish(channel, kReceiving, errno_result(ec));
                return;
              }
              const int fd = ::accept4(channel.socket.native_handle(), nullptr, nullptr,
                                       SOCK_NONBLOCK | SOCK_CLOEXEC);
              if (fd >= 0) {
                finish(channel, kReceiving, fd);
              } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                         errno == ECONNABORTED) {
                wait_to_accept(channel);  // taken by someone else, or gone: wait again
              } else {
                finish(channel, kReceiving, -errno);
              }
            }));
  }

  // Reports the result of the op in channel.slots[index].
  void finish(Channel& channel, std::size_t index, std::int64_t result) {
    Channel::Slot& slot = channel.slots[index];
    IoOp* op = std::exchange(slot.op, nullptr);
    slot.cancel.slot().clear();
    if (!tearing_down) {
      complete(*op, result);
    }
  }

  // Into this poll's batch, or, outside poll() (a submit() that failed at
  // once), into the next one's.
  void complete(IoOp& op, std::int64_t result) {
    (batch != nullptr ? batch->completed : early).push_back({op.completion, result});
  }

  void cancel(IoOp& op) {
    auto it = channels.find(op.fd);
    if (it == channels.end()) {
      return;  // failed in submit(): its completion is already queued
    }
    Channel::Slot& slot = it->second->slots[slot_index(op.kind)];
    // Only while Asio holds the op: once its handler has run, the result is
    // queued and must be delivered as it is. A cancelled reactor op has not
    // performed its syscall, so no received byte is lost.
    if (slot.op == &op) {
      slot.cancel.emit(bas::cancellation_type::terminal);
    }
  }

  void close_socket(int fd) {
    auto it = channels.find(fd);
    if (it == channels.end()) {
      ::close(fd);
      return;
    }
    ::boost::system::error_code ignored;  // the descriptor is gone either way
    it->second->socket.close(ignored);
    channels.erase(it);
  }

  // Concurrency hint 1: only the loop thread runs the context. Asio still
  // locks its queue for this hint, so post() from other threads stays safe.
  bas::io_context io{1};
  bas::executor_work_guard<bas::io_context::executor_type> work;
  bas::steady_timer timer;
  bool timer_armed = false;
  Nanos armed_deadline = 0;
  std::uint64_t timer_gen = 0;

  std::atomic<bool> wake_posted{false};
  bool woken = false;  // loop thread only

  std::unordered_map<int, std::shared_ptr<Watch>> watches;
  // Watches that reported during this poll, to re-arm once Asio's run returns.
  std::vector<std::shared_ptr<Watch>> rearm;

  std::unordered_map<int, std::unique_ptr<Channel>> channels;
  // The batch of the poll() under way, into which Asio's handlers report.
  IoBatch* batch = nullptr;
  // Results reported outside poll(), for the next one.
  std::vector<IoResult> early;
  bool tearing_down = false;
  int probe_fd = -1;
};

AsioBackend::AsioBackend() : impl_(std::make_unique<Impl>()) {}

AsioBackend::~AsioBackend() = default;

Nanos AsioBackend::now() noexcept {
  return Impl::now();
}

void AsioBackend::poll(Nanos deadline, IoBatch& batch) {
  try {
    impl_->poll(deadline, batch);
  } catch (const ::boost::system::system_error& e) {
    rethrow_as_std(e);
  }
}

// noexcept: post() can only fail by running out of memory, and a lost wake-up
// would hang the loop, so terminating is the honest outcome.
void AsioBackend::wake() noexcept {
  impl_->wake();
}

void AsioBackend::watch(int fd, unsigned events, std::uint32_t generation) {
  try {
    impl_->watch(fd, events, generation);
  } catch (const ::boost::system::system_error& e) {
    rethrow_as_std(e);
  }
}

void AsioBackend::submit(IoOp& op) {
  impl_->submit(op);
}

void AsioBackend::cancel(IoOp& op) {
  impl_->cancel(op);
}

void AsioBackend::close_socket(int fd) {
  impl_->close_socket(fd);
}

BackendEntry backend_entry() {
  return BackendEntry{
      "asio",
      "Boost.Asio io_context: steady_timer deadlines, post() wake-ups, stream_descriptor waits, "
      "socket async_receive/async_send/async_connect",
      [] { return std::make_unique<AsioBackend>(); },
      {},
  };
}

}  // namespace loops::asio
