// Figures for people: each value in the unit that keeps it short.
#include "scenarios/units.hpp"

#include <gtest/gtest.h>

namespace {

using scenarios::format_ns;
using scenarios::format_quantity;

TEST(Units, TimesTakeTheLargestUnitInWhichTheyAreAtLeastOne) {
  EXPECT_EQ(format_ns(0), "0 ns");
  EXPECT_EQ(format_ns(987), "987 ns");
  EXPECT_EQ(format_ns(12.34), "12.3 ns");
  EXPECT_EQ(format_ns(1234), "1.23 µs");
  EXPECT_EQ(format_ns(98'765'432), "98.8 ms");
  EXPECT_EQ(format_ns(987'847'501), "988 ms");
  EXPECT_EQ(format_ns(1.5e9), "1.50 s");
  EXPECT_EQ(format_ns(3'600e9), "3600 s");
  EXPECT_EQ(format_ns(-2'500), "-2.50 µs");  // An early wake-up.
}

// A value that rounds up to 1000 of a unit is shown as 1 of the next.
TEST(Units, RoundingUpToAThousandMovesToTheNextUnit) {
  EXPECT_EQ(format_ns(999.4), "999 ns");
  EXPECT_EQ(format_ns(999.6), "1.00 µs");
  EXPECT_EQ(format_ns(999'960), "1.00 ms");
}

TEST(Units, MetricsFollowTheirDeclaredUnit) {
  EXPECT_EQ(format_quantity(1'234, "ns"), "1.23 µs");
  EXPECT_EQ(format_quantity(2'500'000, "1/s"), "2.50 M/s");
  EXPECT_EQ(format_quantity(950, "1/s"), "950 /s");
  EXPECT_EQ(format_quantity(12.345, "MB/s"), "12.3 MB/s");
  EXPECT_EQ(format_quantity(64, "B"), "64 B");
  EXPECT_EQ(format_quantity(100'000, ""), "100000");  // A count stays whole.
  EXPECT_EQ(format_quantity(0.0008423, ""), "0.000842");
  EXPECT_EQ(format_quantity(1.5, ""), "1.50");
}

TEST(Units, LatencyShowsEveryPercentileInItsOwnUnit) {
  const scenarios::LatencySummary latency =
      scenarios::summarize({1'020'000, 1'080'000, 987'847'501, 3'100});
  EXPECT_EQ(scenarios::format_latency(latency),
            "4 samples: min 3.10 µs, p50 1.02 ms, p90 988 ms, p99 988 ms, p99.9 988 ms, max "
            "988 ms");
}

}  // namespace
