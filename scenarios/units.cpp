#include "scenarios/units.hpp"

#include <cmath>
#include <cstdio>

namespace scenarios {

namespace {

// `value` with three significant digits, and no exponent from 0.0001 up:
// "987", "98.8", "1.23", "0.00842"; beyond 1000 every integer digit stays.
std::string three_digits(double value) {
  const double size = std::fabs(value);
  char text[48];
  if (size == 0) return "0";
  if (size < 0.9995) {
    std::snprintf(text, sizeof text, "%.3g", value);
  } else {
    const int decimals = size >= 99.95 ? 0 : size >= 9.995 ? 1 : 2;
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
  }
  return text;
}

struct Prefix {
  double scale;
  const char* name;
};

// `value` over the largest of `prefixes` (smallest first) that leaves it at
// least 1 once rounded to three digits, followed by that prefix's name. The
// first prefix must have scale 1.
template <std::size_t N>
std::string scaled(double value, const Prefix (&prefixes)[N], const char* suffix) {
  std::size_t chosen = 0;
  for (std::size_t i = 1; i < N; ++i) {
    if (std::fabs(value) / prefixes[i].scale >= 0.9995) chosen = i;
  }
  // Whole numbers of the base unit (latency samples, counts) stay whole.
  const bool whole = chosen == 0 && value == std::floor(value);
  const std::string number = whole ? std::to_string(static_cast<long long>(value))
                                   : three_digits(value / prefixes[chosen].scale);
  return number + " " + prefixes[chosen].name + suffix;
}

}  // namespace

std::string format_ns(double ns) {
  if (!std::isfinite(ns)) return std::to_string(ns) + " ns";
  static const Prefix kTimes[] = {{1, "ns"}, {1e3, "µs"}, {1e6, "ms"}, {1e9, "s"}};
  return scaled(ns, kTimes, "");
}

std::string format_quantity(double value, std::string_view unit) {
  if (unit == "ns") return format_ns(value);
  std::string after;
  if (!unit.empty()) after.append(1, ' ').append(unit);
  if (!std::isfinite(value)) return std::to_string(value) + after;
  if (unit == "1/s") {
    static const Prefix kRates[] = {{1, ""}, {1e3, "k"}, {1e6, "M"}, {1e9, "G"}};
    return scaled(value, kRates, "/s");
  }
  std::string number;
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0f", value);
    number = text;
  } else {
    number = three_digits(value);
  }
  return number + after;
}

std::string format_latency(const LatencySummary& latency) {
  const auto time = [](std::int64_t ns) { return format_ns(static_cast<double>(ns)); };
  return std::to_string(latency.count) + (latency.count == 1 ? " sample" : " samples") + ": min " +
         time(latency.min) + ", p50 " + time(latency.p50) + ", p90 " + time(latency.p90) +
         ", p99 " + time(latency.p99) + ", p99.9 " + time(latency.p999) + ", max " +
         time(latency.max);
}

}  // namespace scenarios
