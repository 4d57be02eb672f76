#include "libev_backend.hpp"

#include <ev.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loops/detail/iteration_poll.hpp"
#include "loops/detail/posix.hpp"

namespace loops::libev {

namespace {

constexpr double kSecondsPerNano = 1e-9;

// EVFLAG_NOENV: the LIBEV_FLAGS variable must not pick another backend
// behind the benchmark's back (and libev reads the environment unlocked).
// EVFLAG_NOSIGMASK: libev would otherwise change the signal mask, which POSIX
// leaves unspecified in a threaded program. The backend method is libev's
// own recommended choice (epoll on Linux).
constexpr unsigned kLoopFlags = EVFLAG_NOENV | EVFLAG_NOSIGMASK;

const char* backend_method_name(unsigned method) {
  switch (method) {
    case EVBACKEND_SELECT:
      return "select";
    case EVBACKEND_POLL:
      return "poll";
    case EVBACKEND_EPOLL:
      return "epoll";
    case EVBACKEND_LINUXAIO:
      return "linuxaio";
    case EVBACKEND_IOURING:
      return "io_uring";
    default:
      return "other";
  }
}

class LibevBackend final : public Backend {
 public:
  LibevBackend();
  ~LibevBackend() override;
  // libev's watchers point back at this object: it never moves.
  LibevBackend(const LibevBackend&) = delete;
  LibevBackend& operator=(const LibevBackend&) = delete;

  const char* name() const noexcept override { return "libev"; }
  Nanos now() noexcept override;
  void poll(Nanos deadline, IoBatch& batch) override;
  void wake() noexcept override;
  void watch(int fd, unsigned events, std::uint32_t generation) override;

 private:
  // One descriptor's ev_io, kept (stopped) after an unwatch so that watching
  // the descriptor again allocates nothing. Heap-allocated: libev keeps a
  // pointer to the ev_io while it is active.
  struct Watch {
    ev_io io{};
    std::uint32_t generation = 0;  // 0: not watched
  };

  template <class Engine>
  friend void detail::poll_by_iterations(Engine& engine, detail::IterationReport& report,
                                         Nanos deadline, IoBatch& batch);

  static void on_timer(struct ev_loop* loop, ev_timer* timer, int revents);
  static void on_async(struct ev_loop* loop, ev_async* async, int revents);
  static void on_io(struct ev_loop* loop, ev_io* io, int revents);
  static LibevBackend& owner(struct ev_loop* loop) {
    return *static_cast<LibevBackend*>(ev_userdata(loop));
  }

  void arm_timer(Nanos deadline);
  void disarm_timer();
  void run_iteration(bool block);

  struct ev_loop* loop_;
  ev_timer timer_{};
  ev_async async_{};
  Nanos armed_ = kNoDeadline;                    // the deadline timer_ is running for
  std::vector<std::unique_ptr<Watch>> watches_;  // indexed by descriptor
  // What libev's callbacks found during the poll() under way.
  detail::IterationReport report_;
};

LibevBackend::LibevBackend() : loop_(ev_loop_new(kLoopFlags)) {
  if (loop_ == nullptr) {
    // libev says no more than that; running out of descriptors is the usual cause.
    detail::throw_errno(errno != 0 ? errno : ENOMEM, "ev_loop_new");
  }
  ev_set_userdata(loop_, this);
  ev_init(&timer_, &LibevBackend::on_timer);
  ev_async_init(&async_, &LibevBackend::on_async);
  // The async watcher stays active (and counted) for the loop's whole life,
  // so ev_run() never finds the loop without watchers and returns at once:
  // an idle poll(kNoDeadline) blocks until wake() or I/O (LOOP-RUN-01).
  ev_async_start(loop_, &async_);
}

LibevBackend::~LibevBackend() {
  // Frees libev's state and closes its epoll and event descriptors; the
  // watchers, stopped or not, are plain memory of this object.
  ev_loop_destroy(loop_);
}

Nanos LibevBackend::now() noexcept {
  // The precise clock, not ev_now(): that one is libev's time as of the last
  // iteration (CB-TIME-06).
  return detail::read_clock(CLOCK_MONOTONIC);
}

void LibevBackend::arm_timer(Nanos deadline) {
  if (deadline == armed_) {
    return;  // still running for this deadline (on_timer resets armed_)
  }
  // ev_timer fires once libev's monotonic time passes ev_now_at_start +
  // `after`, and libev's time is cached per iteration: `after` measured from
  // the precise clock would make the timer fire early by the cache's age.
  // Read the clock first, then bring libev's time up to date (it reads the
  // same CLOCK_MONOTONIC, so it is now at or past `start`): the timer is due
  // at libev_now + (deadline - start) >= deadline.
  const Nanos start = now();
  ev_now_update(loop_);
  ev_timer_stop(loop_, &timer_);
  ev_timer_set(&timer_, static_cast<double>(deadline - start) * kSecondsPerNano, 0.);
  ev_timer_start(loop_, &timer_);
  armed_ = deadline;
}

void LibevBackend::disarm_timer() {
  if (armed_ != kNoDeadline) {
    ev_timer_stop(loop_, &timer_);
    armed_ = kNoDeadline;
  }
}

void LibevBackend::poll(Nanos deadline, IoBatch& batch) {
  detail::poll_by_iterations(*this, report_, deadline, batch);
}

void LibevBackend::run_iteration(bool block) {
  // EVRUN_ONCE blocks for the timer, the async watcher or I/O, runs the
  // callbacks and returns. Never ev_break(): asyncio's stop() is the core's.
  ev_run(loop_, block ? EVRUN_ONCE : EVRUN_NOWAIT);
}

void LibevBackend::wake() noexcept {
  // libev's only thread-safe call; sends coalesce until the loop sees them.
  ev_async_send(loop_, &async_);
}

void LibevBackend::watch(int fd, unsigned events, std::uint32_t generation) {
  const auto index = static_cast<std::size_t>(fd);
  Watch* watch = fd >= 0 && index < watches_.size() ? watches_[index].get() : nullptr;
  const int ev_events = static_cast<int>(detail::to_engine_events(events, EV_READ, EV_WRITE));
  if (ev_events == 0) {
    if (watch != nullptr) {
      // Only queues the change: libev applies it at the next ev_run(), and
      // leaves a closed descriptor alone (closing removed it from epoll).
      ev_io_stop(loop_, &watch->io);
      watch->generation = 0;
    }
    return;
  }
  if (watch != nullptr && watch->generation == generation) {
    // The same registration with other directions: libev may assume the same
    // open file behind fd (ev_io_modify keeps it from re-adding the fd).
    if ((watch->io.events & (EV_READ | EV_WRITE)) != ev_events) {
      ev_io_stop(loop_, &watch->io);
      ev_io_modify(&watch->io, ev_events);
      ev_io_start(loop_, &watch->io);
    }
    return;
  }
  // A new registration. libev checks a descriptor only at the next ev_run(),
  // and takes one that epoll refuses as always ready (its select-like
  // fallback for files), so refuse here what epoll would.
  detail::check_pollable(fd, "watch");
  if (watch == nullptr) {
    if (index >= watches_.size()) {
      watches_.resize(index + 1);
    }
    watches_[index] = std::make_unique<Watch>();
    watch = watches_[index].get();
    ev_init(&watch->io, &LibevBackend::on_io);
    watch->io.data = watch;
  }
  // A watch left over from a previous registration of this descriptor number
  // (closed without an unwatch) is replaced: ev_io_set tells libev that fd may
  // be another open file now, so that it re-adds it to the epoll set.
  ev_io_stop(loop_, &watch->io);
  ev_io_set(&watch->io, fd, ev_events);
  ev_io_start(loop_, &watch->io);
  watch->generation = generation;
}

void LibevBackend::on_timer(struct ev_loop* loop, ev_timer* /*timer*/, int /*revents*/) {
  // A one-shot timer has stopped; ev_run() returns after this iteration and
  // poll_by_iterations() checks now().
  owner(loop).armed_ = kNoDeadline;
}

void LibevBackend::on_async(struct ev_loop* loop, ev_async* /*async*/, int /*revents*/) {
  owner(loop).report_.woken = true;
}

void LibevBackend::on_io(struct ev_loop* loop, ev_io* io, int revents) {
  LibevBackend& self = owner(loop);
  const auto* watch = static_cast<const Watch*>(io->data);
  // libev reports an error or hang-up as the directions watched; EV_ERROR
  // (a descriptor libev could not watch) as both, so that the core's next
  // read or write sees the error.
  const unsigned ready = detail::from_engine_events(static_cast<unsigned>(revents), EV_READ,
                                                    EV_WRITE, static_cast<unsigned>(EV_ERROR));
  if (ready != kIoNone) {
    self.report_.batch->ready.push_back({io->fd, watch->generation, ready});
    self.report_.reported = true;
  }
  // On EV_ERROR libev has stopped the watcher; the seam keeps a descriptor
  // watched until watch(fd, kIoNone), as level-triggered epoll does: re-arm.
  if ((revents & EV_ERROR) != 0 && !ev_is_active(io)) {
    ev_io_start(loop, io);
  }
}

// The backend method libev chooses for a loop made with kLoopFlags.
std::string chosen_method() {
  struct ev_loop* probe = ev_loop_new(kLoopFlags);
  if (probe == nullptr) {
    return "unknown";
  }
  const char* method = backend_method_name(ev_backend(probe));
  ev_loop_destroy(probe);
  return method;
}

}  // namespace

BackendEntry backend_entry() {
  BackendEntry entry;
  entry.name = "libev";
  entry.description = "libev " + std::to_string(ev_version_major()) + "." +
                      std::to_string(ev_version_minor()) + " (" + chosen_method() +
                      "): ev_timer deadlines (libev's clock updated first: never early; "
                      "epoll waits in whole ms, at least 1), ev_async wake-ups, ev_io readiness";
  entry.create = [] { return std::make_unique<LibevBackend>(); };
  return entry;
}

}  // namespace loops::libev
