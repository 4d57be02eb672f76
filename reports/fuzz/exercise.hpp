// The readers' fuzz targets and their regression test share these: each feeds
// one input to a reader and, when the reader accepts it, to everything
// downstream that a user's file reaches (the CSV, the warnings, the page, the
// comparison). A reader may refuse an input only with reports::InputError;
// anything else escaping, or a sanitizer report, is a bug.
#pragma once

#include <string>

namespace reports::fuzz {

// A Google Benchmark JSON file, as `loopbench report` and `compare` read it.
// Returns whether the reader accepted it.
bool exercise_bench_json(const std::string& text);

// A conformance matrix, as `loopbench report --conformance` reads it.
// Returns whether the reader accepted it.
bool exercise_conformance_matrix(const std::string& text);

}  // namespace reports::fuzz
