#include "flag_check.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace loopbench::bench {
namespace {

[[noreturn]] void refuse(std::string_view flag, const std::string& value, const char* expected) {
  std::fprintf(stderr, "loopbench_bench: %.*s: expected %s, got '%s'\n",
               static_cast<int>(flag.size()), flag.data(), expected, value.c_str());
  std::exit(2);
}

bool is_count(const std::string& value) {
  char* end = nullptr;
  errno = 0;
  const long count = std::strtol(value.c_str(), &end, 10);
  return !value.empty() && *end == '\0' && errno == 0 && count >= 1 && count <= 1'000'000;
}

bool is_seconds(const std::string& value) {
  char* end = nullptr;
  const double seconds = std::strtod(value.c_str(), &end);
  return !value.empty() && *end == '\0' && std::isfinite(seconds) && seconds >= 0;
}

bool is_one_of(const std::string& value, std::initializer_list<std::string_view> words) {
  for (const auto word : words) {
    if (value == word) return true;
  }
  return false;
}

// A file the JSON can be written to: its folder exists.
bool is_output_path(const std::string& value) {
  const std::filesystem::path folder = std::filesystem::path(value).parent_path();
  std::error_code error;
  return !value.empty() && (folder.empty() || std::filesystem::is_directory(folder, error));
}

void check(std::string_view flag, const std::string& value) {
  if (flag == "--benchmark_repetitions") {
    if (!is_count(value)) refuse(flag, value, "a count from 1 to 1000000");
  } else if (flag == "--benchmark_min_time" || flag == "--benchmark_min_warmup_time") {
    if (!is_seconds(value)) refuse(flag, value, "seconds >= 0, e.g. 0.5");
  } else if (flag == "--benchmark_format" || flag == "--benchmark_out_format") {
    if (!is_one_of(value, {"console", "json", "csv"})) refuse(flag, value, "console, json or csv");
  } else if (flag == "--benchmark_time_unit") {
    if (!is_one_of(value, {"ns", "us", "ms", "s"})) refuse(flag, value, "ns, us, ms or s");
  } else if (flag == "--benchmark_out") {
    if (!is_output_path(value)) refuse(flag, value, "a file in an existing folder");
  }
}

}  // namespace

void check_benchmark_flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    const auto equals = argument.find('=');
    if (argument.rfind("--", 0) != 0 || equals == std::string_view::npos) continue;
    check(argument.substr(0, equals), std::string(argument.substr(equals + 1)));
  }
}

}  // namespace loopbench::bench
