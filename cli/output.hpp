// Where the command line writes: the report's files, replaced whole or not at
// all, and standard output, whose write errors (a full disk, a closed pipe
// reader) must not pass as success.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cli {

// An output that cannot be written; the message is one line naming it.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The files of one report, by name inside its folder, and their contents.
using ReportFiles = std::vector<std::pair<std::string, std::string>>;

// Checks, before any work, that `out` can hold the report files `names`:
// not empty, a folder or nothing yet, and (unless `force`) holding none of
// them already. Throws OutputError.
void check_report_folder(const std::string& out, const std::vector<std::string>& names, bool force);

// Writes `files` into the folder `out` (created with its parents if needed)
// and returns the folder's absolute path. Every file is first written in full
// under a temporary name beside its own, then all are renamed into place, so
// that a failure (a full disk, say) leaves every earlier file as it was and
// no file half-written. Throws OutputError.
std::filesystem::path write_report(const std::string& out, const ReportFiles& files);

// Writes one file at `path` the same way: whole or not at all.
void write_file(const std::filesystem::path& path, const std::string& text);

// Flushes standard output; throws OutputError if anything written to it was
// lost.
void flush_stdout();

}  // namespace cli
