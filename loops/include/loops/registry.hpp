// Backends by name. `make_loop("epoll")` is how scenarios, benchmarks and the
// conformance suite get a loop; none of them names a backend type.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loops/backend.hpp"

namespace loops {

class EventLoop;

struct BackendEntry {
  std::string name;
  // One line for `loopbench list` and the README table.
  std::string description;
  std::function<std::unique_ptr<Backend>()> create;
  // Empty when the backend can run on this machine; otherwise why not
  // (for example: io_uring is disabled by the kernel).
  std::function<std::optional<std::string>()> unavailable_reason;
};

// Every backend compiled into this build, in registration order.
const std::vector<BackendEntry>& registered_backends();

// The entry named `name`, or nullptr.
const BackendEntry* find_backend(std::string_view name);

// The names of the backends that can run here.
std::vector<std::string> available_backend_names();

// A new loop on the named backend. Throws std::invalid_argument for an
// unknown name and std::runtime_error when the backend is unavailable.
std::unique_ptr<EventLoop> make_loop(std::string_view name);

}  // namespace loops
