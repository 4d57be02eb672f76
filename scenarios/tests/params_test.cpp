// Parameter parsing and validation: typed defaults, text forms, ranges,
// choices, and one-line errors that name the problem and the valid choices.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "scenarios/scenario.hpp"

namespace {

using namespace std::chrono_literals;
using scenarios::ParamError;
using scenarios::Params;
using scenarios::ParamSpec;

Params sample_params() {
  return Params({
      ParamSpec::integer("n", "count", 4, 1, 1'000'000),
      ParamSpec::duration("duration", "how long", 1s, 0s, 1h),
      ParamSpec::choice("variant", "which", {"naive", "fixed"}),
  });
}

// The message of the ParamError that `f` throws, or "" if it throws none.
template <class F>
std::string param_error(F&& f) {
  try {
    f();
  } catch (const ParamError& e) {
    return e.what();
  }
  return "";
}

TEST(Params, StartAtTheirTypedDefaults) {
  const Params params = sample_params();
  EXPECT_EQ(params.integer("n"), 4);
  EXPECT_EQ(params.duration("duration"), 1s);
  EXPECT_EQ(params.choice("variant"), "naive");
  EXPECT_EQ(params.text("duration"), "1s");
}

TEST(Params, ParseIntegersWithSuffixes) {
  Params params = sample_params();
  params.set("n", "250");
  EXPECT_EQ(params.integer("n"), 250);
  params.set("n", "10k");
  EXPECT_EQ(params.integer("n"), 10'000);
  params.set("n", "1M");
  EXPECT_EQ(params.integer("n"), 1'000'000);
  params.assign("n=7");
  EXPECT_EQ(params.integer("n"), 7);
}

TEST(Params, ParseDurationsExactly) {
  Params params = sample_params();
  const std::pair<const char*, std::chrono::nanoseconds> cases[] = {
      {"200ms", 200ms}, {"1.5s", 1500ms}, {"10us", 10us}, {"7ns", 7ns},
      {"0", 0s},        {"2min", 120s},   {"1h", 1h},     {"0.001s", 1ms},
  };
  for (const auto& [text, expected] : cases) {
    params.set("duration", text);
    EXPECT_EQ(params.duration("duration"), expected) << text;
  }
}

TEST(Params, FormatDurationsInTheLargestExactUnit) {
  EXPECT_EQ(scenarios::format_duration(1500ms), "1500ms");
  EXPECT_EQ(scenarios::format_duration(2s), "2s");
  EXPECT_EQ(scenarios::format_duration(90s), "90s");
  EXPECT_EQ(scenarios::format_duration(120s), "2min");
  EXPECT_EQ(scenarios::format_duration(0s), "0s");
  EXPECT_EQ(scenarios::format_duration(1001ns), "1001ns");
}

TEST(Params, UnknownNameListsTheValidNames) {
  Params params = sample_params();
  const std::string message = param_error([&] { params.set("bogus", "1"); });
  EXPECT_EQ(message, "unknown parameter 'bogus' (valid: n, duration, variant)");
}

TEST(Params, BadValuesNameTheParameterAndWhatIsAllowed) {
  Params params = sample_params();
  EXPECT_EQ(param_error([&] { params.set("n", "abc"); }),
            "bad value 'abc' for n: expected an integer in 1..1000000");
  EXPECT_EQ(param_error([&] { params.set("n", "0"); }),
            "bad value '0' for n: out of range 1..1000000");
  EXPECT_EQ(param_error([&] { params.set("n", "99999999999999999999"); }),
            "bad value '99999999999999999999' for n: expected an integer in 1..1000000");
  EXPECT_EQ(param_error([&] { params.set("variant", "clever"); }),
            "bad value 'clever' for variant: expected one of naive|fixed");
  const std::string no_unit = param_error([&] { params.set("duration", "5"); });
  EXPECT_NE(no_unit.find("bad value '5' for duration: expected a duration"), std::string::npos);
  EXPECT_NE(no_unit.find("ns, us, ms, s, min, h"), std::string::npos);
  EXPECT_NE(param_error([&] { params.set("duration", "0.5ns"); }), "");  // Finer than 1 ns.
  EXPECT_EQ(param_error([&] { params.set("duration", "2h"); }),
            "bad value '2h' for duration: out of range 0s..1h");
  EXPECT_EQ(param_error([&] { params.assign("n"); }),
            "bad assignment 'n': expected name=value (valid names: n, duration, variant)");
  // Nothing changed.
  EXPECT_EQ(params.integer("n"), 4);
  EXPECT_EQ(params.duration("duration"), 1s);
  EXPECT_EQ(params.choice("variant"), "naive");
}

TEST(Params, TypedSettersValidateToo) {
  Params params = sample_params();
  params.set("n", 12);
  params.set("duration", 250ms);
  params.set("variant", "fixed");
  EXPECT_EQ(params.integer("n"), 12);
  EXPECT_EQ(params.duration("duration"), 250ms);
  EXPECT_EQ(params.choice("variant"), "fixed");
  EXPECT_THROW(params.set("n", 0), ParamError);
  EXPECT_THROW(params.set("duration", 2h), ParamError);
  EXPECT_THROW(params.set("n", 5ms), ParamError);
}

TEST(Params, ReadingWithTheWrongTypeIsAProgrammingError) {
  const Params params = sample_params();
  EXPECT_THROW((void)params.duration("n"), std::logic_error);
  EXPECT_THROW((void)params.integer("missing"), std::logic_error);
}

TEST(Params, SpecsDescribeDefaultsAndAllowedValues) {
  const Params params = sample_params();
  EXPECT_EQ(params.specs()[0].default_text(), "4");
  EXPECT_EQ(params.specs()[0].allowed_text(), "1..1000000");
  EXPECT_EQ(params.specs()[1].allowed_text(), "0s..1h");
  EXPECT_EQ(params.specs()[2].allowed_text(), "naive|fixed");
}

TEST(Registry, EveryScenarioHasADeadlineAndValidDefaults) {
  ASSERT_GE(scenarios::all().size(), 10U);
  for (const auto& scenario : scenarios::all()) {
    EXPECT_FALSE(scenario.description.empty()) << scenario.name;
    EXPECT_NE(scenario.run, nullptr) << scenario.name;
    const Params params = scenario.parse({});
    EXPECT_EQ(params.duration("deadline"), 30s) << scenario.name;
    EXPECT_EQ(scenarios::find(scenario.name), &scenario);
  }
  EXPECT_EQ(scenarios::find("nope"), nullptr);
  EXPECT_EQ(scenarios::names().rfind(
                "parallel_sleeps, gather, stop_race, producer_consumer, timer_storm, "
                "threadsafe_pingpong, callback_chain, sleep_precision, tcp_echo, fetch_many",
                0),
            0U);
}

// `loopbench run SCENARIO` with no --set measures what the report's first
// case of that scenario measured.
TEST(Registry, TheBenchmarksFirstParameterSetIsTheDefaults) {
  for (const auto& scenario : scenarios::all()) {
    SCOPED_TRACE(scenario.name);
    const Params defaults = scenario.defaults();
    const Params benchmarked = scenario.parse(scenario.benchmark_sets().front().assignments);
    for (const auto& spec : scenario.params) {
      EXPECT_EQ(benchmarked.text(spec.name), defaults.text(spec.name)) << spec.name;
    }
  }
}

bool has_param(const scenarios::Scenario& scenario, const std::string& name, ParamSpec::Type type) {
  return std::any_of(scenario.params.begin(), scenario.params.end(),
                     [&](const ParamSpec& spec) { return spec.name == name && spec.type == type; });
}

// What the benchmarks and reports read from a descriptor names what exists.
TEST(Registry, EveryScenarioDescribesItsFigures) {
  for (const auto& scenario : scenarios::all()) {
    SCOPED_TRACE(scenario.name);
    EXPECT_FALSE(scenario.metrics.empty());
    for (const auto& metric : scenario.metrics) {
      EXPECT_NE(scenario.unit_of(metric.name), nullptr);
      EXPECT_TRUE(metric.unit == "" || metric.unit == "ns" || metric.unit == "1/s" ||
                  metric.unit == "MB/s" || metric.unit == "B")
          << metric.name << ": " << metric.unit;
    }
    if (!scenario.items_metric.empty()) {
      EXPECT_NE(scenario.unit_of(scenario.items_metric), nullptr);
    }
    if (!scenario.size_param.empty()) {
      EXPECT_TRUE(has_param(scenario, scenario.size_param, ParamSpec::Type::integer));
    }
    if (!scenario.sleep_param.empty()) {
      EXPECT_TRUE(has_param(scenario, scenario.sleep_param, ParamSpec::Type::duration));
    }
    if (scenario.latency_is_lateness) {
      EXPECT_FALSE(scenario.latency.empty());
    }
    EXPECT_FALSE(scenario.benchmark_sets().empty());
    for (const auto& set : scenario.benchmark_sets()) {
      EXPECT_NO_THROW(scenario.parse(set.assignments));
    }
    EXPECT_NO_THROW(scenario.parse(scenario.endless));
  }
}

TEST(Registry, ScenarioValidationRefusesBadCombinations) {
  const scenarios::Scenario* gather = scenarios::find("gather");
  ASSERT_NE(gather, nullptr);
  EXPECT_NO_THROW(gather->parse({"mode=tree", "depth=3", "branching=3"}));
  const std::string message = param_error([&] {
    gather->parse({"mode=tree", "depth=24", "branching=100"});
  });
  EXPECT_NE(message.find("depth=24 branching=100"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  // A flat gather ignores the tree's shape.
  EXPECT_NO_THROW(gather->parse({"depth=24", "branching=100"}));
}

}  // namespace
