#include "asio/asio_backend.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
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

namespace loops::asio {
namespace {

namespace bas = ::boost::asio;
using Clock = std::chrono::steady_clock;

// The seam promises std::system_error; Asio throws boost::system::system_error.
[[noreturn]] void rethrow_as_std(const ::boost::system::system_error& e) {
  throw std::system_error(std::error_code(e.code()), e.what());
}

}  // namespace

struct AsioBackend::Impl {
  // One watched descriptor. Owned by shared_ptr: the map holds one reference
  // and every outstanding async_wait handler holds another, so a watch that is
  // dropped while a wait is in flight stays valid until Asio has delivered the
  // (cancelled) completion; `live` tells such late completions to do nothing.
  struct Watch {
    Watch(bas::io_context& io, int fd) : descriptor(io) { descriptor.assign(fd); }
    ~Watch() {
      // Non-owning: hand the fd back instead of letting the destructor close it.
      if (descriptor.is_open()) {
        descriptor.release();
      }
    }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    bas::posix::stream_descriptor descriptor;
    IoHandler* handler = nullptr;
    unsigned events = kIoNone;   // what the core wants to hear about
    unsigned pending = kIoNone;  // directions with an async_wait in flight
    unsigned ready = kIoNone;    // collected during this poll, not yet reported
    bool live = true;
  };

  Impl() : work(bas::make_work_guard(io)), timer(io) {
    // Asio accepts descriptors that epoll refuses (regular files): it registers
    // nothing and fails each wait later. The seam wants the refusal up front,
    // so watch() first tries the fd on this private epoll set.
    probe_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (probe_fd < 0) {
      throw std::system_error(errno, std::generic_category(), "epoll_create1");
    }
  }

  ~Impl() {
    for (auto& [fd, w] : watches) {
      w->live = false;
      w->descriptor.release();
    }
    watches.clear();
    ready.clear();
    timer.cancel();
    // Run the cancelled completions now, while every Asio service is still
    // alive, rather than leaving them to io_context's own teardown.
    try {
      io.restart();
      io.poll();
    } catch (...) {
      // Nothing useful to do in a destructor; the handlers are no-ops anyway.
    }
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
      // Only collect here: reporting (and re-arming) happens after Asio's run
      // returns, so a descriptor that stays ready cannot keep io_context::poll()
      // going round forever, and a throwing handler cannot unwind through Asio.
      // Asio completes every outstanding wait on EPOLLERR/EPOLLHUP; any other
      // error is reported as both directions so the next read or write sees it.
      const unsigned bits = (ec ? (kIoReadable | kIoWritable) : bit) & w->events;
      if (bits == kIoNone) {  // the direction was dropped meanwhile
        return;
      }
      if (w->ready == kIoNone) {
        ready.push_back(w);
      }
      w->ready |= bits;
    });
    w->pending |= bit;
  }

  // Reports collected readiness. Entries left behind by a throwing handler
  // stay queued and are reported by the next poll().
  void dispatch_ready() {
    while (ready_head < ready.size()) {
      std::shared_ptr<Watch> w = std::move(ready[ready_head++]);
      const unsigned bits = w->ready & w->events;
      w->ready = kIoNone;
      if (!w->live || bits == kIoNone) {
        continue;
      }
      // Re-arm before reporting so the handler is free to change or drop the
      // watch; epoll re-checks readiness when it reports, so a handler that
      // drains the fd does not get a stale report.
      arm_watch(w);
      w->handler->on_io_ready(bits);
    }
    ready.clear();
    ready_head = 0;
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

  void poll(Nanos deadline) {
    // Entries still queued mean a handler threw last time: report the rest
    // before waiting again.
    if (ready_head < ready.size() || deadline <= now()) {
      io.poll();
    } else {
      arm_timer(deadline);
      // run_one() returns after any handler, including cancelled timer waits
      // and stale I/O completions, so loop until there is a reason to return.
      while (!woken && ready.empty() && now() < deadline) {
        if (io.run_one() == 0) {  // only if someone stopped it
          io.restart();
        }
      }
      io.poll();
    }
    finish_wake();
    dispatch_ready();
  }

  void wake() {
    // Coalesce: one posted handler is enough until poll() has seen it.
    if (wake_posted.exchange(true, std::memory_order_acq_rel)) {
      return;
    }
    bas::post(io, [this] { woken = true; });
  }

  void watch(int fd, unsigned events, IoHandler* handler) {
    events &= kIoReadable | kIoWritable;
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
    if (handler == nullptr) {
      throw std::system_error(EINVAL, std::generic_category(), "asio backend: null handler");
    }
    if (it == watches.end()) {
      probe(fd);
      auto w = std::make_shared<Watch>(io, fd);
      it = watches.emplace(fd, std::move(w)).first;
    }
    Watch& w = *it->second;
    w.handler = handler;
    // A direction that is dropped keeps its wait in flight; its completion is
    // then ignored, and if the direction comes back the same wait serves it.
    w.events = events;
    arm_watch(it->second);
  }

  void probe(int fd) const {
    epoll_event ev{};
    if (::epoll_ctl(probe_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      throw std::system_error(errno, std::generic_category(),
                              "asio backend: cannot watch fd " + std::to_string(fd));
    }
    ::epoll_ctl(probe_fd, EPOLL_CTL_DEL, fd, &ev);
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
  std::vector<std::shared_ptr<Watch>> ready;
  std::size_t ready_head = 0;
  int probe_fd = -1;
};

AsioBackend::AsioBackend() : impl_(std::make_unique<Impl>()) {}

AsioBackend::~AsioBackend() = default;

Nanos AsioBackend::now() noexcept {
  return Impl::now();
}

void AsioBackend::poll(Nanos deadline) {
  try {
    impl_->poll(deadline);
  } catch (const ::boost::system::system_error& e) {
    rethrow_as_std(e);
  }
}

// noexcept: post() can only fail by running out of memory, and a lost wake-up
// would hang the loop, so terminating is the honest outcome.
void AsioBackend::wake() noexcept {
  impl_->wake();
}

void AsioBackend::watch(int fd, unsigned events, IoHandler* handler) {
  try {
    impl_->watch(fd, events, handler);
  } catch (const ::boost::system::system_error& e) {
    rethrow_as_std(e);
  }
}

BackendEntry backend_entry() {
  return BackendEntry{
      "asio",
      "Boost.Asio io_context: steady_timer deadlines, post() wake-ups, stream_descriptor waits",
      [] { return std::make_unique<AsioBackend>(); },
      {},
  };
}

}  // namespace loops::asio
