#include "reports/input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace reports {

namespace {

// Closes the descriptor on every way out of read_input_file.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string megabytes(std::size_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

// Google Benchmark's bare NaN and infinities become strings (see parse_json).
std::string quote_non_finite(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const std::string word : {"NaN", "-Infinity", "Infinity"}) {
      if (text.compare(i, word.size(), word) == 0) {
        out += '"' + word + '"';
        i += word.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

// Where the parser is, as a field path ("benchmarks[3].real_time"), and the
// nesting limit. Fed by nlohmann's parser callback, which sees every key and
// every start and end of a value.
class FieldTracker {
 public:
  explicit FieldTracker(const std::string& path) : path_(&path) {}

  bool on_event(int /*depth*/, nlohmann::json::parse_event_t event, const nlohmann::json& parsed) {
    using event_t = nlohmann::json::parse_event_t;
    switch (event) {
      case event_t::object_start:
      case event_t::array_start:
        if (levels_.size() >= kMaxJsonDepth) {
          throw InputError(*path_, where() + "nested more than " + std::to_string(kMaxJsonDepth) +
                                       " levels deep");
        }
        levels_.push_back({event == event_t::array_start, 0, ""});
        break;
      case event_t::key:
        levels_.back().key = parsed.get<std::string>();
        break;
      case event_t::object_end:
      case event_t::array_end:
        levels_.pop_back();
        next_element();
        break;
      case event_t::value:
        next_element();
        break;
    }
    return true;
  }

  // "field benchmarks[3].real_time: ", or "" at the top level.
  std::string where() const {
    std::string field;
    for (const Level& level : levels_) {
      if (level.array) {
        field += "[" + std::to_string(level.index) + "]";
      } else if (!level.key.empty()) {
        field += (field.empty() ? "" : ".") + level.key;
      }
    }
    return field.empty() ? "" : "field " + field + ": ";
  }

 private:
  struct Level {
    bool array;
    std::size_t index;  // Arrays: the element being parsed.
    std::string key;    // Objects: the key whose value is being parsed, if any.
  };

  // A value ended: an array moves to its next element, an object to its next key.
  void next_element() {
    if (levels_.empty()) return;
    Level& level = levels_.back();
    if (level.array) {
      ++level.index;
    } else {
      level.key.clear();
    }
  }

  const std::string* path_;
  std::vector<Level> levels_;
};

// nlohmann's message without its "[json.exception.parse_error.101] " prefix,
// cut short: it quotes the token it stopped at, which can be the whole file.
std::string reason_of(const nlohmann::json::exception& e) {
  constexpr std::size_t kLongest = 200;
  const std::string what = e.what();
  const auto close = what.find("] ");
  std::string reason = close == std::string::npos ? what : what.substr(close + 2);
  if (reason.size() > kLongest) reason = reason.substr(0, kLongest) + "...";
  return reason;
}

// Control characters as \xNN, so that a name cannot break the line.
std::string escape_controls(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

InputError::InputError(const std::string& file, const std::string& problem)
    : std::runtime_error(escape_controls(file) + ": " + problem) {}

std::string quote_input(const std::string& text) {
  constexpr std::size_t kLongest = 100;
  const bool cut = text.size() > kLongest;
  const std::string shown = nlohmann::json(cut ? text.substr(0, kLongest) : text)
                                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return cut ? shown.substr(0, shown.size() - 1) + "...\"" : shown;
}

std::string read_input_file(const std::string& path) {
  // Non-blocking, so that opening a FIFO cannot wait for a writer; the
  // descriptor is only read once it is known to be a regular file.
  const FileDescriptor file(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (file.get() < 0) throw InputError(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) {
    throw InputError(path, std::string("cannot read: ") + std::strerror(errno));
  }
  if (!S_ISREG(status.st_mode)) {
    throw InputError(path, std::string("is ") + kind_of(status.st_mode) + ", not a file to read");
  }
  const auto too_large = [&] {
    return InputError(path, "is larger than " + megabytes(kMaxInputBytes) +
                                ", the most a report or comparison reads from one file");
  };
  if (static_cast<std::size_t>(status.st_size) > kMaxInputBytes) throw too_large();
  // Read until the end, not just st_size bytes: files under /proc report 0.
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(file.get(), buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      throw InputError(path, std::string("cannot read: ") + std::strerror(errno));
    }
    if (text.size() + static_cast<std::size_t>(got) > kMaxInputBytes) throw too_large();
    text.append(buffer, static_cast<std::size_t>(got));
  }
  return text;
}

nlohmann::json parse_json(const std::string& path, const std::string& text) {
  FieldTracker tracker(path);
  const nlohmann::json::parser_callback_t callback =
      [&tracker](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        return tracker.on_event(depth, event, parsed);
      };
  try {
    return nlohmann::json::parse(quote_non_finite(text), callback);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, tracker.where() + "not JSON: " + reason_of(e));
  } catch (const nlohmann::json::out_of_range& e) {
    // The one range error of parsing: a number too large for a double.
    throw InputError(path, tracker.where() + reason_of(e) + " (beyond the range of a double)");
  }
}

nlohmann::json read_json_file(const std::string& path) {
  return parse_json(path, read_input_file(path));
}

std::string type_in_message(const nlohmann::json& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text == "NaN" || text == "Infinity" || text == "-Infinity") return text;
  }
  return value.type_name();
}

}  // namespace reports
