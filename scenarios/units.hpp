// Figures for people: a value in its unit, scaled to a prefix that keeps it
// short ("98.8 ms", not "98800000"), with three significant digits. The JSON
// keeps the raw numbers; these are for text meant to be read.
#pragma once

#include <string>
#include <string_view>

#include "scenarios/scenario.hpp"

namespace scenarios {

// A time given in nanoseconds, in ns, µs, ms or s: the largest unit in which
// it is at least 1 ("987 ns", "1.23 µs", "98.8 ms", "1.50 s"). Negative times
// (early wake-ups) keep their sign.
std::string format_ns(double ns);

// A value in the unit a scenario declares for it (Metric::unit): "ns" as
// format_ns; "1/s" with a k, M or G prefix ("1.23 M/s"); "MB/s" and "B" with
// their unit; "" (a count, ratio or flag) as an integer when it is one, else
// with three significant digits. Any other unit follows the number.
std::string format_quantity(double value, std::string_view unit);

// The percentiles of latency samples, each as format_ns: "1000 samples: min
// 1.02 ms, p50 1.08 ms, p90 1.10 ms, p99 1.31 ms, p99.9 1.52 ms, max 1.60 ms".
std::string format_latency(const LatencySummary& latency);

}  // namespace scenarios
