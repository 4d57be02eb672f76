// SEMANTICS.md area 1: loop lifecycle (LOOP-*).
#include "harness.hpp"

namespace conformance {
namespace {

using loops::Task;

Task<int> return_five() { co_return 5; }

}  // namespace

TEST_P(Conformance, LOOP_RUC_01) {
  EXPECT_EQ(loop().run_until_complete(return_five()), 5);
  auto done = loop().create_future<int>();
  done.set_result(7);
  EXPECT_EQ(loop().run_until_complete(done), 7);
}

}  // namespace conformance
