// The backend registry: one line per backend. Adding a backend means adding
// its folder, its add_subdirectory() in loops/CMakeLists.txt and its line here.
#include "loops/registry.hpp"

#include <stdexcept>

#include "loops/event_loop.hpp"

#if LOOPBENCH_HAS_EPOLL
#include "epoll/epoll_backend.hpp"
#endif
#if LOOPBENCH_HAS_SIM
#include "sim/sim_backend.hpp"
#endif
#if LOOPBENCH_HAS_ASIO
#include "asio/asio_backend.hpp"
#endif
#if LOOPBENCH_HAS_UV
#include "uv/uv_backend.hpp"
#endif
#if LOOPBENCH_HAS_URING
#include "uring/uring_backend.hpp"
#endif

namespace loops {

const std::vector<BackendEntry>& registered_backends() {
  static const std::vector<BackendEntry> entries = [] {
    std::vector<BackendEntry> list;
#if LOOPBENCH_HAS_EPOLL
    list.push_back(epoll::backend_entry());
#endif
#if LOOPBENCH_HAS_SIM
    list.push_back(sim::backend_entry());
#endif
#if LOOPBENCH_HAS_ASIO
    list.push_back(asio::backend_entry());
#endif
#if LOOPBENCH_HAS_UV
    list.push_back(uv::backend_entry());
#endif
#if LOOPBENCH_HAS_URING
    list.push_back(uring::backend_entry());
#endif
    return list;
  }();
  return entries;
}

const BackendEntry* find_backend(std::string_view name) {
  for (const auto& entry : registered_backends()) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

std::vector<std::string> available_backend_names() {
  std::vector<std::string> names;
  for (const auto& entry : registered_backends()) {
    if (!entry.unavailable_reason || !entry.unavailable_reason()) names.push_back(entry.name);
  }
  return names;
}

std::unique_ptr<EventLoop> make_loop(std::string_view name) {
  const BackendEntry* entry = find_backend(name);
  if (entry == nullptr) throw std::invalid_argument("unknown backend '" + std::string(name) + "'");
  if (entry->unavailable_reason) {
    if (auto reason = entry->unavailable_reason()) {
      throw std::runtime_error("backend '" + entry->name + "' is unavailable: " + *reason);
    }
  }
  return std::make_unique<EventLoop>(entry->create());
}

}  // namespace loops
