// The "io_uring unavailable" path, exercised for real: a forked child installs
// a seccomp filter that makes io_uring_setup (or io_uring_enter) fail, as
// Docker's default profile, gVisor or kernel.io_uring_disabled=2 do, then
// checks that the probe reports why, that the registry refuses to make a loop,
// and that using the backend directly throws. A control child without the filter proves that the
// filter, not the machine, made the difference.
//
// Everything uring-related runs in children: backend_entry() caches its probe
// per process, and a parent that had probed already would hand the cached
// "available" to every child it forks.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "gtest/gtest.h"
#include "loops/event_loop.hpp"
#include "loops/registry.hpp"

namespace {

#if defined(__x86_64__)
constexpr unsigned kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr unsigned kAuditArch = 0;  // unknown: the tests skip
#endif

// Child exit codes; anything else is a crash or an unexpected exception.
enum ChildExit : int {
  kOk = 0,
  kNoSeccomp = 40,
  kProbeSaysAvailable,
  kProbeSaysUnavailable,
  kEntrySaysAvailable,
  kMakeLoopDidNotThrow,
  kMakeLoopWrongError,
  kBackendDidNotThrow,
  kBackendWrongError,
};

// One way for io_uring to be unavailable: `syscall` fails with `err`.
struct Denial {
  const char* test_name;
  long nr;  // -1: no filter (the control)
  const char* syscall;
  int err;
};

// Names the case in gtest's messages instead of dumping its bytes.
void PrintTo(const Denial& denial, std::ostream* os) {
  *os << denial.test_name;
}

// Makes syscall `nr` fail with `err` for this process and its children.
bool deny_syscall(long nr, int err) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(nr), 0, 1),
      BPF_STMT(BPF_RET | BPF_K,
               SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  // Unprivileged processes may install a filter only with no_new_privs set.
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

void send(int fd, const std::string& text) {
  const std::string line = text + "\n";
  [[maybe_unused]] const ssize_t n = ::write(fd, line.data(), line.size());
}

// Runs in the child: every check, reported through the exit code, with the
// texts the parent asserts on written to `out`.
[[noreturn]] void child_checks(int out, const Denial& denial) {
  if (denial.nr >= 0 && !deny_syscall(denial.nr, denial.err)) {
    ::_exit(kNoSeccomp);
  }

  // The child's first probe: the entry's cached answer is made here.
  const loops::BackendEntry* entry = loops::find_backend("uring");
  if (entry == nullptr || !entry->unavailable_reason) {
    ::_exit(kEntrySaysAvailable);
  }
  const auto reason = entry->unavailable_reason();
  if (denial.nr < 0) {
    ::_exit(reason ? kProbeSaysUnavailable : kOk);
  }
  if (!reason) {
    ::_exit(kProbeSaysAvailable);
  }
  send(out, *reason);

  try {
    // Only reached if make_loop() did not throw; the loop is never used.
    [[maybe_unused]] auto loop = loops::make_loop("uring");
    ::_exit(kMakeLoopDidNotThrow);
  } catch (const std::runtime_error& e) {
    send(out, e.what());
  } catch (...) {
    ::_exit(kMakeLoopWrongError);
  }

  // Bypassing the registry: the constructor (io_uring_setup) or the first
  // poll (io_uring_enter) reports the kernel's error as std::system_error.
  try {
    const std::unique_ptr<loops::Backend> backend = entry->create();
    loops::IoBatch batch;
    backend->poll(loops::kNoWait, batch);
    ::_exit(kBackendDidNotThrow);
  } catch (const std::system_error& e) {
    if (e.code().value() != denial.err) {
      ::_exit(kBackendWrongError);
    }
  } catch (...) {
    ::_exit(kBackendWrongError);
  }
  ::_exit(kOk);
}

struct ChildResult {
  int exit_code = -1;
  std::string output;
};

// Forks, runs child_checks(denial) in the child, and collects what it said.
ChildResult run_child(const Denial& denial) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category());
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    child_checks(pipe_fds[1], denial);
  }
  ::close(pipe_fds[1]);
  ChildResult result;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n > 0) {
      result.output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.output += "killed by signal " + std::to_string(WTERMSIG(status));
  }
  return result;
}

class UringUnavailable : public ::testing::TestWithParam<Denial> {};

TEST_P(UringUnavailable, ProbeReportsReasonAndMakeLoopThrows) {
  if (kAuditArch == 0) {
    GTEST_SKIP() << "no seccomp arch constant for this CPU";
  }
  const Denial& denial = GetParam();
  const ChildResult child = run_child(denial);
  if (child.exit_code == kNoSeccomp) {
    GTEST_SKIP() << "cannot install a seccomp filter here";
  }
  ASSERT_EQ(child.exit_code, kOk) << child.output;

  // First line: the probe's reason; second: make_loop's error, which carries it.
  const std::string expected =
      std::string(denial.syscall) + ": " + std::generic_category().message(denial.err);
  const std::size_t newline = child.output.find('\n');
  ASSERT_NE(newline, std::string::npos) << child.output;
  const std::string reason = child.output.substr(0, newline);
  const std::string make_loop_error = child.output.substr(newline + 1);
  EXPECT_EQ(reason.rfind(expected, 0), 0U) << reason;
  EXPECT_NE(make_loop_error.find("uring"), std::string::npos) << make_loop_error;
  EXPECT_NE(make_loop_error.find(expected), std::string::npos) << make_loop_error;
}

// EPERM from setup: seccomp profiles and kernel.io_uring_disabled; ENOSYS:
// kernels built without io_uring (CONFIG_IO_URING=n) or older than 5.1; EPERM
// from enter: a filter that lets rings be created but not used.
INSTANTIATE_TEST_SUITE_P(
    Denials, UringUnavailable,
    ::testing::Values(Denial{"SetupEPERM", __NR_io_uring_setup, "io_uring_setup", EPERM},
                      Denial{"SetupENOSYS", __NR_io_uring_setup, "io_uring_setup", ENOSYS},
                      Denial{"EnterEPERM", __NR_io_uring_enter, "io_uring_enter", EPERM}),
    [](const ::testing::TestParamInfo<Denial>& info) { return std::string(info.param.test_name); });

// The control: the same child without a filter finds io_uring usable, so the
// test above fails for the filter's sake and not because this machine lacks it.
TEST(UringUnavailableControl, ProbeReportsAvailableWithoutFilter) {
  const ChildResult child = run_child(Denial{"None", -1, "", 0});
  if (child.exit_code == kProbeSaysUnavailable) {
    GTEST_SKIP() << "io_uring is unavailable on this machine anyway";
  }
  EXPECT_EQ(child.exit_code, kOk) << child.output;
}

}  // namespace
