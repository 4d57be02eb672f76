#include "uv_backend.hpp"

#include <cassert>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <system_error>
#include <utility>

namespace loops::uv {

namespace {

constexpr std::uint64_t kNanosPerMilli = 1'000'000;

[[noreturn]] void throw_uv(int err, const char* what) {
  // libuv reports errors as -errno on Unix.
  throw std::system_error(-err, std::generic_category(), what);
}

int to_uv_events(unsigned events) {
  int uv_events = 0;
  if ((events & kIoReadable) != 0U) {
    uv_events |= UV_READABLE;
  }
  if ((events & kIoWritable) != 0U) {
    uv_events |= UV_WRITABLE;
  }
  return uv_events;
}

}  // namespace

// One watched descriptor. Heap-allocated because uv_close() is asynchronous:
// the handle must outlive watch(fd, kIoNone) until on_watch_closed runs.
struct UvBackend::Watch {
  uv_poll_t handle{};
  UvBackend* owner = nullptr;
  IoHandler* handler = nullptr;
  int uv_events = 0;
  bool closing = false;
};

UvBackend::UvBackend() {
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
  // The async handle stays active and referenced for the loop's whole life,
  // so uv_run() never finds the loop "not alive" and returns early: an idle
  // poll(kNoDeadline) blocks until wake() or I/O (LOOP-RUN-01, uvloop#408).
}

UvBackend::~UvBackend() {
  for (auto& entry : watches_) {
    close_watch(entry.second);
  }
  watches_.clear();
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

void UvBackend::poll(Nanos deadline) {
  woken_ = false;
  io_ready_ = false;
  for (;;) {
    bool block = true;
    if (deadline == kNoDeadline) {
      uv_timer_stop(&timer_);
    } else {
      block = deadline > now() && arm_timer(deadline);
    }
    // UV_RUN_ONCE blocks for the timer, the async handle or I/O. Never uv_stop():
    // asyncio's stop() belongs to the core.
    uv_run(&loop_, block ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    if (pending_error_) {
      std::rethrow_exception(std::exchange(pending_error_, nullptr));
    }
    if (woken_ || io_ready_ || !block) {
      return;
    }
    if (deadline != kNoDeadline && now() >= deadline) {
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

void UvBackend::watch(int fd, unsigned events, IoHandler* handler) {
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
    watch->handler = handler;
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
  watch->handler = handler;
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
  watch->closing = true;
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
  if (watch->closing) {
    return;  // unwatched by an earlier handler of this batch
  }
  unsigned ready = kIoNone;
  if (status < 0) {
    // libuv turns POLLERR into UV_EBADF; the seam reports errors as both bits.
    ready = kIoReadable | kIoWritable;
  } else {
    // A bare hang-up (POLLHUP) arrives as the events that were watched: libuv
    // merges them in, so the next read or write still sees it.
    if ((uv_events & UV_READABLE) != 0) {
      ready |= kIoReadable;
    }
    if ((uv_events & UV_WRITABLE) != 0) {
      ready |= kIoWritable;
    }
  }
  // After a handler threw, the rest of the batch waits: level-triggered
  // readiness is reported again by the next poll().
  if (ready != kIoNone && !self->pending_error_) {
    self->io_ready_ = true;
    // The handler may call watch() for this or any descriptor. An exception
    // must not unwind through libuv's C frames: poll() rethrows it.
    try {
      watch->handler->on_io_ready(ready);
    } catch (...) {
      self->pending_error_ = std::current_exception();
    }
  }
  // On POLLERR libuv has stopped the handle; the seam keeps a descriptor
  // watched until watch(fd, kIoNone), as level-triggered epoll does: re-arm.
  if (status < 0 && !watch->closing && uv_is_active(reinterpret_cast<uv_handle_t*>(handle)) == 0) {
    uv_poll_start(handle, watch->uv_events, &UvBackend::on_poll);
  }
}

BackendEntry backend_entry() {
  BackendEntry entry;
  entry.name = "uv";
  entry.description = std::string("libuv ") + uv_version_string() +
                      ": uv_timer_t deadlines (ms, rounded up: never early), uv_async_t "
                      "wake-ups, uv_poll_t readiness";
  entry.create = [] { return std::make_unique<UvBackend>(); };
  return entry;
}

}  // namespace loops::uv
