// Reading the files a report or a comparison is made from, so that no input
// can crash, hang or exhaust the process: only regular files are read (a
// FIFO would block, /dev/zero never ends), their size and their JSON nesting
// are bounded before anything is built from them, and every problem becomes
// an InputError naming the file and, where there is one, the field.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace reports {

// Bad input: names the file and the field, in one line (control characters
// in the file's name are escaped).
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, const std::string& problem);
};

// The largest file a reader accepts. A Google Benchmark file of every
// benchmark with 5 repetitions is about 600 KB; 30,000 repetitions of one
// benchmark about 20 MB.
inline constexpr std::size_t kMaxInputBytes = std::size_t{256} << 20;

// The deepest JSON nesting a reader accepts. Google Benchmark's files nest 3
// levels deep; nlohmann copies and prints nested values recursively, so
// unbounded nesting would overflow the stack long after parsing.
inline constexpr std::size_t kMaxJsonDepth = 64;

// The whole content of the regular file at `path`. Throws InputError for a
// file that cannot be opened or read, that is not a regular file (a
// directory, FIFO, device or socket: refused without reading from it), or
// that is larger than kMaxInputBytes.
std::string read_input_file(const std::string& path);

// Parses `text` as JSON as Google Benchmark writes it: a bare NaN, Infinity
// or -Infinity outside strings (which it writes for undefined statistics)
// reads as the string "NaN", "Infinity" or "-Infinity", so that readers skip
// it as "not a number" and name it in their messages. Throws InputError
// naming `path` and the field where the text stops being JSON, holds a
// number beyond the range of a double, or nests deeper than kMaxJsonDepth.
nlohmann::json parse_json(const std::string& path, const std::string& text);

// read_input_file, then parse_json.
nlohmann::json read_json_file(const std::string& path);

// A text from an input file for a message: in double quotes, with control
// characters escaped (so the message stays one line), at most 100 bytes.
std::string quote_input(const std::string& text);

// The type of a JSON value for messages: "string", "number", ..., and for the
// bare NaN and Infinity that parse_json keeps as strings, their own word.
std::string type_in_message(const nlohmann::json& value);

}  // namespace reports
