// The compare gate: per benchmark, is NEW faster, slower or unchanged
// against BASE? A change counts only when it is both significant (Mann-Whitney
// U over the repetitions' times, p < alpha) and large enough to matter (the
// medians differ by at least the threshold), so that noise on a shared
// machine neither passes as a change nor hides a real one behind a p-value.
#pragma once

#include <string>
#include <vector>

#include "reports/bench_json.hpp"

namespace reports {

struct CompareOptions {
  double threshold = 0.05;  // The smallest relative change of the median that counts.
  double alpha = 0.05;      // The significance level of the Mann-Whitney test.
};

enum class Verdict { faster, slower, no_change, only_in_base, only_in_new, failed };
const char* to_string(Verdict verdict) noexcept;

struct Comparison {
  std::string name;
  Verdict verdict = Verdict::no_change;
  double base_median_ns = 0;
  double new_median_ns = 0;
  double change = 0;  // new median / base median - 1.
  double p_value = 1;
  std::size_t base_repetitions = 0;
  std::size_t new_repetitions = 0;
  std::string error;  // Verdict::failed: why a run has no times.
};

// Every benchmark of either file, in BASE's order, then those only in NEW.
std::vector<Comparison> compare(const RunFile& base, const RunFile& candidate,
                                const CompareOptions& options);

bool any_regression(const std::vector<Comparison>& comparisons);

// The table: fixed-width text for a terminal, or GitHub Markdown.
std::string format_table(const std::vector<Comparison>& comparisons, bool markdown);

}  // namespace reports
