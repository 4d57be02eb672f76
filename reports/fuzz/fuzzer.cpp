// A libFuzzer target: one reader and what reads its result. Which reader is
// the definition LOOPBENCH_FUZZ_EXERCISE, a function of exercise.hpp.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exercise.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  reports::fuzz::LOOPBENCH_FUZZ_EXERCISE(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
