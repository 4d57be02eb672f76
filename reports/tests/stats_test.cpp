#include "reports/stats.hpp"

#include <gtest/gtest.h>

namespace {

using reports::hodges_lehmann_shift;
using reports::mann_whitney_p;
using reports::median;

TEST(Median, OddEvenAndEmpty) {
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(median({}), 0);
}

// The median of all pairwise differences, not the difference of medians:
// {1, 2, 10} to {3, 4, 5} has differences {2, 3, 4, 1, 2, 3, -7, -6, -5}.
TEST(HodgesLehmann, MedianOfPairwiseDifferences) {
  EXPECT_EQ(hodges_lehmann_shift({1, 2, 10}, {3, 4, 5}), 2);
  EXPECT_EQ(hodges_lehmann_shift({10, 20}, {15, 25}), 5);
  EXPECT_EQ(hodges_lehmann_shift({}, {1}), 0);
}

// Fully separated samples: only the two extreme arrangements of C(m+n, m)
// are as extreme, so the exact two-sided p is 2 / C(m+n, m).
TEST(MannWhitney, ExactWithoutTies) {
  EXPECT_NEAR(mann_whitney_p({1, 2, 3}, {4, 5, 6}), 2.0 / 20, 1e-12);
  std::vector<double> low;
  std::vector<double> high;
  for (int i = 0; i < 12; ++i) {
    low.push_back(i);
    high.push_back(100 + i);
  }
  EXPECT_NEAR(mann_whitney_p(low, high), 2.0 / 2704156, 1e-15);
  EXPECT_NEAR(mann_whitney_p(high, low), 2.0 / 2704156, 1e-15);
}

TEST(MannWhitney, InterleavedSamplesAreNotSignificant) {
  const double p = mann_whitney_p({1, 3, 5, 7, 9, 11}, {2, 4, 6, 8, 10, 12});
  EXPECT_GT(p, 0.5);
  EXPECT_LE(p, 1.0);
}

// With ties: the normal approximation with tie and continuity corrections.
// U = 0, m = n = 4, four pairs of ties: sd = sqrt(16/12 * (9 - 24/56)),
// z = (8 - 0.5) / sd = 2.2185, p = 2 * (1 - Phi(z)) = 0.02652.
TEST(MannWhitney, TiesUseTheCorrectedNormalApproximation) {
  EXPECT_NEAR(mann_whitney_p({1, 1, 2, 2}, {3, 3, 4, 4}), 0.02652, 2e-4);
}

TEST(MannWhitney, IdenticalOrEmptySamplesGiveOne) {
  EXPECT_EQ(mann_whitney_p({5, 5, 5}, {5, 5, 5}), 1.0);
  EXPECT_EQ(mann_whitney_p({}, {1, 2}), 1.0);
}

}  // namespace
