// Defaults for the optional, completion-shaped part of the seam. A backend
// without traits().completion_io is never asked for these.
#include "loops/backend.hpp"

#include <unistd.h>

#include <stdexcept>
#include <string>

namespace loops {

void Backend::submit(IoOp& /*op*/) {
  throw std::logic_error(std::string(name()) + " has no completion I/O");
}

void Backend::cancel(IoOp& /*op*/) {
  throw std::logic_error(std::string(name()) + " has no completion I/O");
}

void Backend::close_socket(int fd) {
  ::close(fd);
}

}  // namespace loops
