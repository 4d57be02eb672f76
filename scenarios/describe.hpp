// A scenario's descriptor as JSON: what `loopbench list --json` prints for
// it, and what the reports and the CPython oracle read the scenario's facts
// from (README.md, "What a scenario declares").
#pragma once

#include <nlohmann/json.hpp>

#include "scenarios/scenario.hpp"

namespace scenarios {

const char* to_string(Repeatability repeatability) noexcept;

// {name, description, params, needs, metrics, items_metric, size_param,
// latency, latency_is_lateness, sleep_param, bench_sets, endless}; a fact
// the scenario leaves empty is null. Each bench set carries its
// repeatability, which may depend on its parameters.
nlohmann::json describe(const Scenario& scenario);
// Every scenario's descriptor, in the registry's order (an array).
nlohmann::json describe_all();

}  // namespace scenarios
