#include "reports/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "reports/stats.hpp"

namespace reports {

const char* to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::faster:
      return "faster";
    case Verdict::slower:
      return "SLOWER";
    case Verdict::no_change:
      return "no change";
    case Verdict::only_in_base:
      return "only in base";
    case Verdict::only_in_new:
      return "only in new";
    case Verdict::failed:
      return "failed";
  }
  return "?";
}

namespace {

// One benchmark on one side: its entry in each file (process) that has it.
using Runs = std::vector<const Benchmark*>;

// The test's samples: every repetition, or one median per process.
std::vector<double> samples(const Runs& runs, Unit unit) {
  std::vector<double> out;
  for (const Benchmark* run : runs) {
    if (unit == Unit::process) {
      out.push_back(median(run->real_ns));
    } else {
      out.insert(out.end(), run->real_ns.begin(), run->real_ns.end());
    }
  }
  return out;
}

std::size_t repetitions(const Runs& runs) {
  std::size_t count = 0;
  for (const Benchmark* run : runs) count += run->real_ns.size();
  return count;
}

// Why one of the runs has no times, or "" when all have some.
std::string failure(const Runs& runs) {
  for (const Benchmark* run : runs) {
    if (run->real_ns.empty()) return run->error.empty() ? "no repetitions" : run->error;
  }
  return "";
}

// The process medians of both sides without their disturbed processes
// (see compare.hpp), or unchanged when a side would keep fewer than two
// thirds of them. Returns how many each side left out.
std::pair<std::size_t, std::size_t> leave_out_disturbed(std::vector<double>& base,
                                                        std::vector<double>& candidate,
                                                        double disturbed) {
  if (disturbed <= 0) return {0, 0};
  const auto undisturbed = [disturbed](const std::vector<double>& side) {
    const double limit = *std::min_element(side.begin(), side.end()) * (1 + disturbed);
    std::vector<double> kept;
    std::copy_if(side.begin(), side.end(), std::back_inserter(kept),
                 [limit](double t) { return t <= limit; });
    return kept;
  };
  std::vector<double> base_kept = undisturbed(base);
  std::vector<double> new_kept = undisturbed(candidate);
  const auto enough = [](const std::vector<double>& kept, const std::vector<double>& all) {
    return 3 * kept.size() >= 2 * all.size();
  };
  if (!enough(base_kept, base) || !enough(new_kept, candidate)) return {0, 0};
  const std::pair<std::size_t, std::size_t> left_out{base.size() - base_kept.size(),
                                                     candidate.size() - new_kept.size()};
  base = std::move(base_kept);
  candidate = std::move(new_kept);
  return left_out;
}

Comparison judge(const std::string& name, const Runs& base, const Runs& candidate, Unit unit,
                 const CompareOptions& options) {
  Comparison c;
  c.name = name;
  c.unit = unit;
  c.base_processes = base.size();
  c.new_processes = candidate.size();
  c.base_repetitions = repetitions(base);
  c.new_repetitions = repetitions(candidate);
  if (base.empty() || candidate.empty()) {
    c.verdict = base.empty() ? Verdict::only_in_new : Verdict::only_in_base;
    c.base_median_ns = median(samples(base, unit));
    c.new_median_ns = median(samples(candidate, unit));
    return c;
  }
  const std::string base_failure = failure(base);
  const std::string new_failure = failure(candidate);
  if (!base_failure.empty() || !new_failure.empty()) {
    c.verdict = Verdict::failed;
    c.error = !new_failure.empty() ? "new: " + new_failure : "base: " + base_failure;
    return c;
  }
  std::vector<double> base_samples = samples(base, unit);
  std::vector<double> new_samples = samples(candidate, unit);
  if (unit == Unit::process) {
    std::tie(c.base_left_out, c.new_left_out) =
        leave_out_disturbed(base_samples, new_samples, options.disturbed);
  }
  c.base_median_ns = median(base_samples);
  c.new_median_ns = median(new_samples);
  c.change =
      c.base_median_ns > 0 ? hodges_lehmann_shift(base_samples, new_samples) / c.base_median_ns : 0;
  c.p_value = mann_whitney_p(base_samples, new_samples);
  if (c.p_value < options.alpha && std::abs(c.change) >= options.threshold) {
    c.verdict = c.change > 0 ? Verdict::slower : Verdict::faster;
  }
  return c;
}

// Each benchmark name of `files` with its runs; `order` gets the names not
// seen before, in the order the files first mention them.
std::map<std::string, Runs> collect(const std::vector<RunFile>& files,
                                    std::vector<std::string>& order, std::set<std::string>& seen) {
  std::map<std::string, Runs> runs;
  for (const auto& file : files) {
    for (const auto& b : file.benchmarks) {
      if (seen.insert(b.name).second) order.push_back(b.name);
      runs[b.name].push_back(&b);
    }
  }
  return runs;
}

std::string format_ms(double ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", ns / 1e6);
  return text;
}

// "12" for one process, "6x2" for six processes of two repetitions each,
// "6:11" for six processes of eleven repetitions in all.
std::string format_runs(std::size_t processes, std::size_t repetitions) {
  if (processes <= 1) return std::to_string(repetitions);
  if (repetitions % processes == 0) {
    return std::to_string(processes) + "x" + std::to_string(repetitions / processes);
  }
  return std::to_string(processes) + ":" + std::to_string(repetitions);
}

}  // namespace

std::vector<Comparison> compare(const std::vector<RunFile>& base,
                                const std::vector<RunFile>& candidate,
                                const CompareOptions& options) {
  const Unit unit = base.size() == 1 && candidate.size() == 1 ? Unit::repetition : Unit::process;
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::map<std::string, Runs> base_runs = collect(base, order, seen);
  std::map<std::string, Runs> new_runs = collect(candidate, order, seen);
  std::vector<Comparison> result;
  for (const auto& name : order) {
    result.push_back(judge(name, base_runs[name], new_runs[name], unit, options));
  }
  return result;
}

bool any_regression(const std::vector<Comparison>& comparisons) {
  for (const auto& c : comparisons) {
    if (c.verdict == Verdict::slower) return true;
  }
  return false;
}

std::string format_table(const std::vector<Comparison>& comparisons, bool markdown) {
  const std::vector<std::string> header = {"benchmark", "base ms", "new ms",   "change",
                                           "p",         "reps",    "left out", "verdict"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : comparisons) {
    const bool both = c.verdict != Verdict::only_in_base && c.verdict != Verdict::only_in_new &&
                      c.verdict != Verdict::failed;
    char change[32] = "";
    char p[32] = "";
    if (both) {
      std::snprintf(change, sizeof change, "%+.1f%%", c.change * 100);
      std::snprintf(p, sizeof p, "%.2g", c.p_value);
    }
    rows.push_back(
        {c.name, c.base_repetitions > 0 ? format_ms(c.base_median_ns) : "-",
         c.new_repetitions > 0 ? format_ms(c.new_median_ns) : "-", change, p,
         format_runs(c.base_processes, c.base_repetitions) + "/" +
             format_runs(c.new_processes, c.new_repetitions),
         c.base_left_out + c.new_left_out > 0
             ? std::to_string(c.base_left_out) + "/" + std::to_string(c.new_left_out)
             : "",
         std::string(to_string(c.verdict)) + (c.error.empty() ? "" : " (" + c.error + ")")});
  }
  std::string out;
  if (markdown) {
    auto line = [&out](const std::vector<std::string>& cells) {
      out += "|";
      for (const auto& cell : cells) out += " " + cell + " |";
      out += "\n";
    };
    line(header);
    out += "|---|---:|---:|---:|---:|---:|---:|---|\n";
    for (const auto& row : rows) line(row);
    return out;
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(width[i] - cells[i].size(), ' ');
      // Names read left to right; numbers line up on the right; the verdict
      // comes last, unpadded.
      if (i + 1 == cells.size()) {
        out += cells[i] + "\n";
      } else {
        out += (i == 0 ? cells[i] + pad : pad + cells[i]) + "  ";
      }
    }
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

}  // namespace reports
