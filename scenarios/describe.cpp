#include "scenarios/describe.hpp"

namespace scenarios {

namespace {

nlohmann::json text_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

nlohmann::json describe(const ParamSpec& spec) {
  nlohmann::json out{
      {"name", spec.name}, {"help", spec.help}, {"default_text", spec.default_text()}};
  switch (spec.type) {
    case ParamSpec::Type::integer:
    case ParamSpec::Type::duration:
      // Durations in nanoseconds, as ParamSpec keeps them.
      out["type"] = spec.type == ParamSpec::Type::integer ? "integer" : "duration";
      out["default"] = spec.default_number;
      out["min"] = spec.min;
      out["max"] = spec.max;
      break;
    case ParamSpec::Type::choice:
      out["type"] = "choice";
      out["default"] = spec.choices.front();
      out["choices"] = spec.choices;
      break;
  }
  return out;
}

}  // namespace

const char* to_string(Repeatability repeatability) noexcept {
  switch (repeatability) {
    case Repeatability::exact:
      return "exact";
    case Repeatability::on_virtual_time_only:
      return "on_virtual_time_only";
    case Repeatability::never:
      return "never";
  }
  return "?";
}

nlohmann::json describe(const Scenario& scenario) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& spec : scenario.params) params.push_back(describe(spec));
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& metric : scenario.metrics) {
    metrics.push_back({{"name", metric.name}, {"unit", metric.unit}});
  }
  nlohmann::json sets = nlohmann::json::array();
  for (const auto& set : scenario.benchmark_sets()) {
    sets.push_back(
        {{"assignments", set.assignments},
         {"large", set.large},
         {"baselines", set.baselines},
         {"repeatability", to_string(scenario.repeats(scenario.parse(set.assignments)))}});
  }
  return {{"name", scenario.name},
          {"description", scenario.description},
          {"params", params},
          {"needs", {{"threads", scenario.needs.threads}, {"io", scenario.needs.io}}},
          {"metrics", metrics},
          {"items_metric", text_or_null(scenario.items_metric)},
          {"size_param", text_or_null(scenario.size_param)},
          {"latency", text_or_null(scenario.latency)},
          {"latency_is_lateness", scenario.latency_is_lateness},
          {"sleep_param", text_or_null(scenario.sleep_param)},
          {"bench_sets", sets},
          {"endless", scenario.endless}};
}

nlohmann::json describe_all() {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& scenario : all()) out.push_back(describe(scenario));
  return out;
}

}  // namespace scenarios
