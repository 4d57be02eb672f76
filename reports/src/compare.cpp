#include "reports/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "reports/stats.hpp"

namespace reports {

const char* to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::slower:
      return "SLOWER";
    case Verdict::failed_in_new:
      return "FAILED in new";
    case Verdict::missing_in_new:
      return "MISSING in new";
    case Verdict::cannot_flag:
      return "cannot flag";
    case Verdict::not_confirmed:
      return "not confirmed";
    case Verdict::faster:
      return "faster";
    case Verdict::failed_in_base:
      return "failed in base";
    case Verdict::only_in_new:
      return "only in new";
    case Verdict::failed_in_both:
      return "failed in both";
    case Verdict::no_change:
      return "no change";
  }
  return "?";
}

bool fails_gate(Verdict verdict) noexcept {
  return verdict == Verdict::slower || verdict == Verdict::failed_in_new ||
         verdict == Verdict::missing_in_new;
}

namespace {

constexpr const char* kModeField = "loopbench_mode";
constexpr const char* kInstructions = "instructions";
constexpr const char* kEstimatedCycles = "estimated_cycles";

const char* to_string(Measure measure) noexcept {
  return measure == Measure::instructions ? "instructions" : "time";
}

}  // namespace

Measure measure_of(const RunFile& file) {
  const auto mode = file.context.find(kModeField);
  if (mode == file.context.end()) return Measure::time;
  const std::string field = std::string("field context.") + kModeField;
  if (!mode->is_string()) {
    throw InputError(file.path, field + ": expected string, found " + mode->type_name());
  }
  for (const Measure measure : {Measure::time, Measure::instructions}) {
    if (mode->get<std::string>() == to_string(measure)) return measure;
  }
  throw InputError(file.path, field + ": unknown mode '" + mode->get<std::string>() +
                                  "' (valid: time, instructions)");
}

namespace {

// What every file of both sides measures; InputError when they differ.
Measure common_measure(const std::vector<RunFile>& base, const std::vector<RunFile>& candidate) {
  const RunFile* first = nullptr;
  Measure measure = Measure::time;
  for (const auto* side : {&base, &candidate}) {
    for (const auto& file : *side) {
      const Measure own = measure_of(file);
      if (first == nullptr) {
        first = &file;
        measure = own;
      } else if (own != measure) {
        throw InputError(file.path, std::string("field context.") + kModeField + ": " +
                                        to_string(own) + ", but " + first->path + " measured " +
                                        to_string(measure));
      }
    }
  }
  return measure;
}

// One benchmark on one side: its entry in each file (process) that has it.
using Runs = std::vector<const Benchmark*>;

// The test's samples on `clock`: every repetition, or one median per process.
std::vector<double> samples(const Runs& runs, Unit unit, Clock clock) {
  const auto times = clock == Clock::cpu ? &Benchmark::cpu_ns : &Benchmark::real_ns;
  std::vector<double> out;
  for (const Benchmark* run : runs) {
    const std::vector<double>& own = run->*times;
    if (unit == Unit::process) {
      out.push_back(median(own));
    } else {
      out.insert(out.end(), own.begin(), own.end());
    }
  }
  return out;
}

// The values of one counter over every repetition of every process.
std::vector<double> counter_values(const Runs& runs, const std::string& counter) {
  std::vector<double> out;
  for (const Benchmark* run : runs) {
    const auto it = run->counters.find(counter);
    if (it != run->counters.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

std::size_t repetitions(const Runs& runs) {
  std::size_t count = 0;
  for (const Benchmark* run : runs) count += run->real_ns.size();
  return count;
}

// Why one of the runs has no figures to compare, or "" when all have some.
std::string failure(const Runs& runs, Measure measure) {
  for (const Benchmark* run : runs) {
    if (run->real_ns.empty()) return run->error.empty() ? "no repetitions" : run->error;
    if (measure == Measure::instructions) {
      const auto counts = run->counters.find(kInstructions);
      if (counts == run->counters.end() || counts->second.size() != run->real_ns.size()) {
        return "no instruction count in every repetition";
      }
    }
  }
  return "";
}

// The verdict of a benchmark that not both sides ran, with `error` saying
// why; nothing when both ran it.
std::optional<Verdict> absence(const Runs& base, const Runs& candidate, Measure measure,
                               std::string& error) {
  if (base.empty()) return Verdict::only_in_new;
  const std::string new_failure = candidate.empty() ? "" : failure(candidate, measure);
  if (const std::string base_failure = failure(base, measure); !base_failure.empty()) {
    if (new_failure.empty()) {
      error = "base: " + base_failure;
      return Verdict::failed_in_base;
    }
    error = base_failure == new_failure ? base_failure
                                        : "base: " + base_failure + "; new: " + new_failure;
    return Verdict::failed_in_both;
  }
  if (candidate.empty()) return Verdict::missing_in_new;
  if (!new_failure.empty()) {
    error = "new: " + new_failure;
    return Verdict::failed_in_new;
  }
  return std::nullopt;
}

// The process medians of both sides without their disturbed processes
// (see compare.hpp), or unchanged when a side would keep fewer than two
// thirds of them or the sides kept could no longer reach p < alpha.
// Returns how many each side left out.
std::pair<std::size_t, std::size_t> leave_out_disturbed(std::vector<double>& base,
                                                        std::vector<double>& candidate,
                                                        const CompareOptions& options) {
  if (options.disturbed <= 0) return {0, 0};
  const auto undisturbed = [&options](const std::vector<double>& side) {
    const double limit = *std::min_element(side.begin(), side.end()) * (1 + options.disturbed);
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
  if (!enough(base_kept, base) || !enough(new_kept, candidate) ||
      smallest_possible_p(base_kept.size(), new_kept.size()) >= options.alpha) {
    return {0, 0};
  }
  const std::pair<std::size_t, std::size_t> left_out{base.size() - base_kept.size(),
                                                     candidate.size() - new_kept.size()};
  base = std::move(base_kept);
  candidate = std::move(new_kept);
  return left_out;
}

void judge_time(Comparison& c, const Runs& base, const Runs& candidate,
                const CompareOptions& options) {
  std::vector<double> base_samples = samples(base, c.unit, options.clock);
  std::vector<double> new_samples = samples(candidate, c.unit, options.clock);
  if (c.unit == Unit::process) {
    std::tie(c.base_left_out, c.new_left_out) =
        leave_out_disturbed(base_samples, new_samples, options);
  }
  c.base_median = median(base_samples);
  c.new_median = median(new_samples);
  c.change =
      c.base_median > 0 ? hodges_lehmann_shift(base_samples, new_samples) / c.base_median : 0;
  c.p_value = mann_whitney_p(base_samples, new_samples);
  c.smallest_p = smallest_possible_p(base_samples.size(), new_samples.size());
  if (c.smallest_p >= options.alpha) {
    c.verdict = Verdict::cannot_flag;
  } else if (c.p_value < options.alpha && std::abs(c.change) >= options.threshold) {
    c.verdict = c.change > 0 ? Verdict::slower : Verdict::faster;
  }
}

// new / base - 1 of the medians of a counter; 0 without a base.
double counter_change(const Runs& base, const Runs& candidate, const std::string& counter,
                      double* base_median, double* new_median) {
  *base_median = median(counter_values(base, counter));
  *new_median = median(counter_values(candidate, counter));
  return *base_median > 0 ? *new_median / *base_median - 1 : 0;
}

void judge_counts(Comparison& c, const Runs& base, const Runs& candidate,
                  const CompareOptions& options) {
  c.change = counter_change(base, candidate, kInstructions, &c.base_median, &c.new_median);
  double base_cycles = 0;
  double new_cycles = 0;
  c.cycles_change = counter_change(base, candidate, kEstimatedCycles, &base_cycles, &new_cycles);
  if (std::max(c.change, c.cycles_change) >= options.count_threshold) {
    c.verdict = Verdict::slower;
  } else if (std::min(c.change, c.cycles_change) <= -options.count_threshold) {
    c.verdict = Verdict::faster;
  }
}

Comparison judge(const std::string& name, const Runs& base, const Runs& candidate, Measure measure,
                 Unit unit, const CompareOptions& options) {
  Comparison c;
  c.name = name;
  c.measure = measure;
  c.unit = unit;
  c.base_processes = base.size();
  c.new_processes = candidate.size();
  c.base_repetitions = repetitions(base);
  c.new_repetitions = repetitions(candidate);
  if (const auto verdict = absence(base, candidate, measure, c.error)) {
    c.verdict = *verdict;
    return c;
  }
  if (measure == Measure::instructions) {
    judge_counts(c, base, candidate, options);
  } else {
    judge_time(c, base, candidate, options);
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

}  // namespace

std::vector<Comparison> compare(const std::vector<RunFile>& base,
                                const std::vector<RunFile>& candidate,
                                const CompareOptions& options) {
  const Measure measure = common_measure(base, candidate);
  const Unit unit = base.size() == 1 && candidate.size() == 1 ? Unit::repetition : Unit::process;
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::map<std::string, Runs> base_runs = collect(base, order, seen);
  std::map<std::string, Runs> new_runs = collect(candidate, order, seen);
  std::vector<Comparison> result;
  for (const auto& name : order) {
    result.push_back(judge(name, base_runs[name], new_runs[name], measure, unit, options));
  }
  return result;
}

void confirm(std::vector<Comparison>& comparisons, const std::vector<RunFile>& base,
             const std::vector<RunFile>& candidate, const CompareOptions& options) {
  if (common_measure(base, candidate) != Measure::time) {
    throw InputError(
        (base.empty() ? candidate : base).front().path,
        std::string("field context.") + kModeField + ": a confirming measurement must be of time");
  }
  std::map<std::string, Comparison> second;
  for (auto& c : compare(base, candidate, options)) second.emplace(c.name, std::move(c));
  for (auto& c : comparisons) {
    const auto again = second.find(c.name);
    if (c.verdict != Verdict::slower || c.measure != Measure::time || again == second.end()) {
      continue;
    }
    const Comparison& other = again->second;
    c.confirmation = Confirmation{other.verdict, other.change, other.p_value};
    if (other.verdict == Verdict::slower) continue;
    c.verdict = fails_gate(other.verdict) ? other.verdict : Verdict::not_confirmed;
    c.error = other.error;
  }
}

bool fails_gate(const std::vector<Comparison>& comparisons) {
  return std::any_of(comparisons.begin(), comparisons.end(),
                     [](const Comparison& c) { return fails_gate(c.verdict); });
}

std::string slower_filter(const std::vector<Comparison>& comparisons) {
  std::string names;
  for (const auto& c : comparisons) {
    if (c.verdict != Verdict::slower) continue;
    if (!names.empty()) names += '|';
    for (const char ch : c.name) {
      if (std::strchr(".[]{}()\\*+?^$|", ch) != nullptr) names += '\\';
      names += ch;
    }
  }
  return names.empty() ? "" : "^(" + names + ")$";
}

namespace {

// How many samples each side's test had.
std::pair<std::size_t, std::size_t> sample_sizes(const Comparison& c) {
  if (c.unit == Unit::repetition) return {c.base_repetitions, c.new_repetitions};
  return {c.base_processes - c.base_left_out, c.new_processes - c.new_left_out};
}

std::string format_number(const char* format, double value) {
  char text[48];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string format_percent(double fraction) {
  return format_number("%+.1f%%", fraction * 100);
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

bool compared(const Comparison& c) {
  return c.verdict != Verdict::only_in_new && c.verdict != Verdict::missing_in_new &&
         c.verdict != Verdict::failed_in_new && c.verdict != Verdict::failed_in_base &&
         c.verdict != Verdict::failed_in_both;
}

std::string verdict_text(const Comparison& c) {
  std::string text = to_string(c.verdict);
  if (!c.error.empty()) text += " (" + c.error + ")";
  if (c.confirmation) {
    text += " (re-run: " + std::string(to_string(c.confirmation->verdict)) + ", " +
            format_percent(c.confirmation->change) + ", p " +
            format_number("%#.3g", c.confirmation->p_value) + ")";
  }
  return text;
}

using Row = std::vector<std::string>;

Row time_row(const Comparison& c) {
  const bool both = compared(c);
  return {c.name,
          both ? format_number("%.4f", c.base_median / 1e6) : "-",
          both ? format_number("%.4f", c.new_median / 1e6) : "-",
          both ? format_number("%.3f", c.ratio()) : "",
          both ? format_percent(c.change) : "",
          both ? format_number("%#.3g", c.p_value) : "",
          format_runs(c.base_processes, c.base_repetitions) + "/" +
              format_runs(c.new_processes, c.new_repetitions),
          c.base_left_out + c.new_left_out > 0
              ? std::to_string(c.base_left_out) + "/" + std::to_string(c.new_left_out)
              : "",
          verdict_text(c)};
}

Row counts_row(const Comparison& c) {
  const bool both = compared(c);
  return {c.name,
          both ? format_number("%.0f", c.base_median) : "-",
          both ? format_number("%.0f", c.new_median) : "-",
          both ? format_number("%+.2f%%", c.change * 100) : "",
          both ? format_number("%+.2f%%", c.cycles_change * 100) : "",
          verdict_text(c)};
}

std::string markdown_table(const Row& header, const std::vector<Row>& rows) {
  std::string out;
  const auto line = [&out](const Row& cells) {
    out += "|";
    for (const auto& cell : cells) out += " " + cell + " |";
    out += "\n";
  };
  line(header);
  out += "|---|";
  for (std::size_t i = 2; i < header.size(); ++i) out += "---:|";
  out += "---|\n";
  for (const auto& row : rows) line(row);
  return out;
}

std::string text_table(const Row& header, const std::vector<Row>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  const auto line = [&](const Row& cells) {
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

}  // namespace

std::vector<std::string> setup_warnings(const std::vector<Comparison>& comparisons,
                                        const CompareOptions& options) {
  std::vector<std::string> warnings;
  const auto cannot = std::count_if(comparisons.begin(), comparisons.end(), [](const auto& c) {
    return c.verdict == Verdict::cannot_flag;
  });
  if (cannot > 0) {
    const auto first = std::find_if(comparisons.begin(), comparisons.end(), [](const auto& c) {
      return c.verdict == Verdict::cannot_flag;
    });
    const auto [m, n] = sample_sizes(*first);
    std::size_t enough = 2;
    while (smallest_possible_p(enough, enough) >= options.alpha) ++enough;
    warnings.push_back(std::to_string(cannot) + " of " + std::to_string(comparisons.size()) +
                       " benchmarks cannot be flagged: " + std::to_string(m) + " vs " +
                       std::to_string(n) + " samples cannot reach p < " +
                       format_number("%g", options.alpha) + " (the smallest possible p is " +
                       format_number("%#.3g", first->smallest_p) + "); use at least " +
                       std::to_string(enough) + " processes per side");
  }
  const bool one_file = std::any_of(comparisons.begin(), comparisons.end(), [](const auto& c) {
    return c.measure == Measure::time && c.unit == Unit::repetition && compared(c);
  });
  if (one_file) {
    warnings.push_back(
        "one file per side: the test takes the repetitions of one process as its samples, "
        "which share that process's luck, so a verdict cannot tell luck from a change; run "
        "each side in several processes and compare with --vs");
  }
  return warnings;
}

std::string summary_line(const std::vector<Comparison>& comparisons,
                         const CompareOptions& options) {
  // Per side: the most processes a benchmark had, and over the benchmarks
  // compared by process, their process medians and how many were left out.
  struct Side {
    std::size_t processes = 0;
    std::size_t medians = 0;
    std::size_t left_out = 0;
    void add(std::size_t own_processes, std::size_t own_left_out, bool by_process) {
      processes = std::max(processes, own_processes);
      if (!by_process) return;
      medians += own_processes;
      left_out += own_left_out;
    }
  };
  Side base;
  Side fresh;
  std::map<Verdict, std::size_t> counts;
  bool by_process = false;
  for (const auto& c : comparisons) {
    ++counts[c.verdict];
    const bool process_unit = c.unit == Unit::process && compared(c);
    by_process = by_process || process_unit;
    base.add(c.base_processes, c.base_left_out, process_unit);
    fresh.add(c.new_processes, c.new_left_out, process_unit);
  }
  const bool counts_instructions =
      !comparisons.empty() && comparisons.front().measure == Measure::instructions;
  std::string line = std::to_string(comparisons.size()) + " benchmarks on " +
                     (counts_instructions           ? "instruction counts"
                      : options.clock == Clock::cpu ? "CPU time"
                                                    : "wall time") +
                     ": " + std::to_string(counts[Verdict::slower]) + " SLOWER";
  for (const Verdict verdict :
       {Verdict::failed_in_new, Verdict::missing_in_new, Verdict::cannot_flag,
        Verdict::not_confirmed, Verdict::faster, Verdict::failed_in_base, Verdict::only_in_new,
        Verdict::failed_in_both, Verdict::no_change}) {
    if (counts[verdict] > 0 || verdict == Verdict::faster || verdict == Verdict::no_change) {
      line += ", " + std::to_string(counts[verdict]) + " " + to_string(verdict);
    }
  }
  if (counts_instructions) {
    line += "; threshold " + format_number("%g", options.count_threshold * 100) +
            "% on instructions and estimated cycles";
  } else {
    line += "; threshold " + format_number("%g", options.threshold * 100) + "%, alpha " +
            format_number("%g", options.alpha);
  }
  line += "; " + std::to_string(base.processes) + " vs " + std::to_string(fresh.processes) +
          (fresh.processes == 1 ? " process" : " processes");
  if (!counts_instructions && !by_process) line += " (the repetitions are the samples)";
  if (by_process) {
    line += ", left out as disturbed: " + std::to_string(base.left_out) + " of " +
            std::to_string(base.medians) + " base and " + std::to_string(fresh.left_out) + " of " +
            std::to_string(fresh.medians) + " new process medians";
  }
  return line;
}

std::string format_table(const std::vector<Comparison>& comparisons, const CompareOptions& options,
                         bool markdown) {
  std::vector<const Comparison*> ordered;
  for (const auto& c : comparisons) ordered.push_back(&c);
  std::stable_sort(ordered.begin(), ordered.end(), [](const Comparison* l, const Comparison* r) {
    return l->verdict < r->verdict;
  });
  const bool counts_instructions =
      !comparisons.empty() && comparisons.front().measure == Measure::instructions;
  const Row header = counts_instructions
                         ? Row{"benchmark", "base instructions", "new instructions",
                               "change",    "est. cycles",       "verdict"}
                         : Row{"benchmark", "base ms", "new ms",   "ratio",  "shift",
                               "p",         "runs",    "left out", "verdict"};
  std::vector<Row> notable;
  std::vector<Row> unchanged;  // No change, or nothing to compare on either side.
  std::size_t failed_in_both = 0;
  for (const Comparison* c : ordered) {
    Row row = counts_instructions ? counts_row(*c) : time_row(*c);
    const bool fold = c->verdict == Verdict::no_change || c->verdict == Verdict::failed_in_both;
    (fold ? unchanged : notable).push_back(std::move(row));
    if (c->verdict == Verdict::failed_in_both) ++failed_in_both;
  }
  const std::string summary = summary_line(comparisons, options) + "\n";
  if (!markdown) {
    notable.insert(notable.end(), unchanged.begin(), unchanged.end());
    return summary + text_table(header, notable);
  }
  std::string out = summary;
  if (!notable.empty()) out += "\n" + markdown_table(header, notable);
  if (!unchanged.empty()) {
    const std::size_t no_change = unchanged.size() - failed_in_both;
    out += "\n<details><summary>" + std::to_string(no_change) + " with no change" +
           (failed_in_both > 0 ? ", " + std::to_string(failed_in_both) + " failed in both" : "") +
           "</summary>\n\n" + markdown_table(header, unchanged) + "\n</details>\n";
  }
  return out;
}

}  // namespace reports
