#include "reports/stats.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <random>
#include <tuple>
#include <vector>

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

// The selection must give exactly what sorting every difference gives, ties
// and duplicates included, for odd and even numbers of pairs.
TEST(HodgesLehmann, EqualsTheMedianOfEveryDifference) {
  std::mt19937 random(7);
  for (const auto& [m, n, levels] : {std::tuple{1, 1, 1000},
                                     {2, 3, 1000},
                                     {40, 41, 5},
                                     {300, 200, 1000000},
                                     {257, 3, 20},
                                     {99, 100, 2}}) {
    std::uniform_int_distribution<int> level(0, levels);
    std::vector<double> a(m);
    std::vector<double> b(n);
    for (double& x : a) x = level(random) * 0.37;
    for (double& y : b) y = level(random) * 0.37 + 1.5;
    std::vector<double> differences;
    for (const double x : a) {
      for (const double y : b) differences.push_back(y - x);
    }
    EXPECT_EQ(hodges_lehmann_shift(a, b), median(differences)) << m << " x " << n;
  }
}

// 30,000 repetitions per side are 900 million pairs: 7.2 GB if stored. The
// shift needs only the two samples, sorted, and a few counts per row.
TEST(HodgesLehmann, ManyRepetitionsTakeLittleMemory) {
  constexpr int kSide = 30'000;
  std::vector<double> a;
  std::vector<double> b;
  for (int i = 0; i < kSide; ++i) {
    a.push_back(i);
    b.push_back(kSide - 1 - i + 7.5);  // a shifted by 7.5, in another order.
  }
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  EXPECT_EQ(hodges_lehmann_shift(a, b), 7.5);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "kB more at the peak";
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

// The bound below which nothing can be significant: 2 / C(m + n, m).
TEST(MannWhitney, SmallestPossibleP) {
  EXPECT_DOUBLE_EQ(reports::smallest_possible_p(3, 3), 0.1);
  EXPECT_DOUBLE_EQ(reports::smallest_possible_p(4, 4), 2.0 / 70);
  EXPECT_DOUBLE_EQ(reports::smallest_possible_p(1, 6), 2.0 / 7);
  EXPECT_DOUBLE_EQ(reports::smallest_possible_p(6, 1), 2.0 / 7);
  EXPECT_DOUBLE_EQ(reports::smallest_possible_p(12, 12), 2.0 / 2704156);
  EXPECT_EQ(reports::smallest_possible_p(0, 5), 1.0);
  EXPECT_EQ(reports::smallest_possible_p(1, 1), 1.0);
  EXPECT_EQ(reports::smallest_possible_p(30'000, 30'000), 0.0);
  // It is what the test gives for fully separated samples.
  EXPECT_NEAR(mann_whitney_p({1, 2, 3, 4}, {5, 6, 7, 8}), reports::smallest_possible_p(4, 4),
              1e-15);
}

TEST(MannWhitney, IdenticalOrEmptySamplesGiveOne) {
  EXPECT_EQ(mann_whitney_p({5, 5, 5}, {5, 5, 5}), 1.0);
  EXPECT_EQ(mann_whitney_p({}, {1, 2}), 1.0);
}

}  // namespace
