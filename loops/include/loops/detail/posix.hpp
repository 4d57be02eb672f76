// What the core and every backend need from POSIX, written once: an errno as
// an exception, a clock read in nanoseconds, the descriptors epoll refuses,
// and the mapping between the seam's kIo* directions and an engine's event
// flags.
#pragma once

#include <sys/stat.h>
#include <time.h>

#include <cerrno>
#include <system_error>

#include "loops/backend.hpp"

namespace loops::detail {

// Throws std::system_error for the errno value `code`; `what` names the call.
[[noreturn]] inline void throw_errno(int code, const char* what) {
  throw std::system_error(code, std::generic_category(), what);
}

// `clock` (CLOCK_MONOTONIC, its coarse twin...) in nanoseconds.
inline Nanos read_clock(clockid_t clock) noexcept {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Throws what epoll_ctl(ADD) would for `fd`: EBADF for a bad descriptor, EPERM
// for a regular file or directory. For engines that would otherwise accept
// such a descriptor silently (libev checks it only at its next iteration and
// takes files as always ready) or refuse it with a warning on stderr
// (libevent).
inline void check_pollable(int fd, const char* what) {
  struct stat status {};
  if (fd < 0 || ::fstat(fd, &status) < 0) {
    throw_errno(fd < 0 ? EBADF : errno, what);
  }
  if (S_ISREG(status.st_mode) || S_ISDIR(status.st_mode)) {
    throw_errno(EPERM, what);
  }
}

// The engine's flags for the kIo* directions in `events`.
constexpr unsigned to_engine_events(unsigned events, unsigned readable,
                                    unsigned writable) noexcept {
  return ((events & kIoReadable) != 0 ? readable : 0U) |
         ((events & kIoWritable) != 0 ? writable : 0U);
}

// The kIo* directions in an engine's report `flags`: any of `readable` or
// `writable` for its direction, and any of `failed` (errors, hang-ups) for
// both, so that the next read or write sees the error.
constexpr unsigned from_engine_events(unsigned flags, unsigned readable, unsigned writable,
                                      unsigned failed) noexcept {
  if ((flags & failed) != 0) return kIoReadable | kIoWritable;
  return ((flags & readable) != 0 ? unsigned{kIoReadable} : 0U) |
         ((flags & writable) != 0 ? unsigned{kIoWritable} : 0U);
}

}  // namespace loops::detail
