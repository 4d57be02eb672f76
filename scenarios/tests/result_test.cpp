// Exact percentiles and the JSON line format of DESIGN.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "scenarios/scenario.hpp"

namespace {

using scenarios::LatencySummary;

std::vector<std::int64_t> one_to(std::int64_t n) {
  std::vector<std::int64_t> samples(static_cast<std::size_t>(n));
  std::iota(samples.begin(), samples.end(), 1);
  return samples;
}

TEST(Percentiles, NearestRankOnOneToHundred) {
  auto samples = one_to(100);
  std::shuffle(samples.begin(), samples.end(), std::mt19937(42));  // Order must not matter.
  const LatencySummary s = scenarios::summarize(samples);
  EXPECT_EQ(s.count, 100U);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p90, 90);
  EXPECT_EQ(s.p99, 99);
  EXPECT_EQ(s.p999, 100);
  EXPECT_EQ(s.max, 100);
}

TEST(Percentiles, NearestRankOnOneToThousand) {
  const LatencySummary s = scenarios::summarize(one_to(1000));
  EXPECT_EQ(s.p50, 500);
  EXPECT_EQ(s.p90, 900);
  EXPECT_EQ(s.p99, 990);
  EXPECT_EQ(s.p999, 999);
  EXPECT_EQ(s.max, 1000);
}

TEST(Percentiles, AreAlwaysSamples) {
  // Four samples: p50 is the 2nd, everything above p75 the 4th.
  const LatencySummary s = scenarios::summarize({40, -10, 30, 20});
  EXPECT_EQ(s.min, -10);
  EXPECT_EQ(s.p50, 20);
  EXPECT_EQ(s.p90, 40);
  EXPECT_EQ(s.p999, 40);
  const LatencySummary one = scenarios::summarize({7});
  EXPECT_EQ(one.count, 1U);
  EXPECT_EQ(one.min, 7);
  EXPECT_EQ(one.p50, 7);
  EXPECT_EQ(one.max, 7);
  EXPECT_EQ(scenarios::summarize({}).count, 0U);
}

scenarios::Result sample_result() {
  scenarios::Result result;
  result.scenario = "stop_race";
  result.backend = "sim";
  result.params = scenarios::find("stop_race")->parse({"variant=naive", "sleep_a=100ms"});
  result.wall_ns = 1234;
  result.metrics["stop_to_return_ns"] = 512;
  result.metrics["items_per_s"] = 2.5;
  result.latency_ns = {3, 1, 2, 4};
  result.trace = {"start a", "start b", "stop loop", "done a ok", "loop stopped", "pending b"};
  return result;
}

TEST(JsonLine, HasDesignKeysInOrder) {
  const std::string line = scenarios::to_json_line(sample_result());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto json = nlohmann::ordered_json::parse(line);
  std::vector<std::string> keys;
  for (const auto& item : json.items()) {
    keys.push_back(item.key());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"scenario", "backend", "params", "status", "wall_ns",
                                            "metrics", "latency_ns", "trace"}));
  EXPECT_EQ(json["scenario"], "stop_race");
  EXPECT_EQ(json["backend"], "sim");
  EXPECT_EQ(json["params"]["variant"], "naive");
  EXPECT_EQ(json["params"]["sleep_a"], "100ms");
  EXPECT_EQ(json["params"]["deadline"], "30s");
  EXPECT_EQ(json["status"], "ok");
  EXPECT_EQ(json["wall_ns"], 1234);
  EXPECT_TRUE(json["metrics"]["stop_to_return_ns"].is_number_integer());
  EXPECT_EQ(json["metrics"]["items_per_s"], 2.5);
  EXPECT_EQ(json["latency_ns"]["count"], 4);
  EXPECT_EQ(json["latency_ns"]["p50"], 2);
  EXPECT_EQ(json["latency_ns"]["p90"], 4);
  EXPECT_EQ(json["latency_ns"]["min"], 1);
  EXPECT_EQ(json["latency_ns"]["max"], 4);
  EXPECT_TRUE(json["latency_ns"].contains("p99"));
  EXPECT_TRUE(json["latency_ns"].contains("p999"));
  EXPECT_EQ(json["trace"].size(), 6U);
  EXPECT_EQ(json["trace"][5], "pending b");
}

TEST(JsonLine, CarriesTheErrorOnlyWhenNotOk) {
  scenarios::Result result = sample_result();
  result.status = scenarios::Status::timeout;
  result.error = "deadline of 30s passed";
  result.latency_ns.clear();
  const auto json = nlohmann::json::parse(scenarios::to_json_line(result));
  EXPECT_EQ(json["status"], "timeout");
  EXPECT_EQ(json["error"], "deadline of 30s passed");
  EXPECT_EQ(json["latency_ns"]["count"], 0);
  EXPECT_FALSE(json["latency_ns"].contains("p50"));
}

}  // namespace
