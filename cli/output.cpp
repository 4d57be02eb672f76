#include "output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace cli {

namespace {

namespace fs = std::filesystem;

std::string error_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// Writes all of `text` to a new file at `path` and makes it durable, or
// throws OutputError (the file may then exist, partly written).
void write_new_file(const fs::path& path, const fs::path& shown, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw OutputError(shown.string() + ": cannot create: " + error_text(errno));
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t done = ::write(fd, text.data() + written, text.size() - written);
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) {
      const int error = done < 0 ? errno : EIO;
      ::close(fd);
      throw OutputError(shown.string() + ": cannot write: " + error_text(error));
    }
    written += static_cast<std::size_t>(done);
  }
  // Data before name: after a crash the renamed file is complete or absent.
  const int synced = ::fsync(fd) == 0 ? 0 : errno;
  const int closed = ::close(fd) == 0 ? 0 : errno;
  if (synced != 0 || closed != 0) {
    throw OutputError(shown.string() +
                      ": cannot write: " + error_text(synced != 0 ? synced : closed));
  }
}

// The temporary name of `name` in `dir`: hidden, and unique to this process.
fs::path temporary_path(const fs::path& dir, const std::string& name) {
  return dir / ("." + name + ".tmp-" + std::to_string(::getpid()));
}

}  // namespace

void check_report_folder(const std::string& out, const std::vector<std::string>& names,
                         bool force) {
  if (out.empty()) throw OutputError("--out is empty: name the folder to write the report into");
  std::error_code error;
  const fs::file_status status = fs::status(out, error);
  if (fs::exists(status) && !fs::is_directory(status)) {
    throw OutputError(out + ": not a folder: --out names the folder to write the report into");
  }
  if (force) return;
  for (const auto& name : names) {
    const fs::path path = fs::path(out) / name;
    if (fs::exists(fs::symlink_status(path, error))) {
      throw OutputError(path.string() +
                        ": exists: pass --force to replace the report (the old files stay until "
                        "the new ones are complete)");
    }
  }
}

fs::path write_report(const std::string& out, const ReportFiles& files) {
  std::error_code error;
  fs::create_directories(out, error);
  if (error) throw OutputError(out + ": cannot create the folder: " + error.message());
  const fs::path dir = fs::absolute(out, error);
  if (error) throw OutputError(out + ": " + error.message());
  std::vector<fs::path> written;
  const auto remove_written = [&written] {
    std::error_code ignored;
    for (const auto& path : written) fs::remove(path, ignored);
  };
  try {
    for (const auto& [name, text] : files) {
      written.push_back(temporary_path(dir, name));
      write_new_file(written.back(), dir / name, text);
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (::rename(written[i].c_str(), (dir / files[i].first).c_str()) != 0) {
        throw OutputError((dir / files[i].first).string() +
                          ": cannot replace: " + error_text(errno));
      }
    }
  } catch (const OutputError&) {
    remove_written();
    throw;
  }
  return dir;
}

void write_file(const fs::path& path, const std::string& text) {
  write_report(path.has_parent_path() ? path.parent_path().string() : ".",
               {{path.filename().string(), text}});
}

void flush_stdout() {
  const bool flushed = std::fflush(stdout) == 0;
  const int error = errno;
  if (!flushed || std::ferror(stdout)) {
    throw OutputError("standard output: cannot write: " + error_text(flushed ? EIO : error));
  }
}

}  // namespace cli
