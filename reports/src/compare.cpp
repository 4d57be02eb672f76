#include "reports/compare.hpp"

#include <cmath>
#include <cstdio>
#include <map>

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

Comparison judge(const Benchmark& base, const Benchmark& candidate, const CompareOptions& options) {
  Comparison c;
  c.name = base.name;
  c.base_repetitions = base.real_ns.size();
  c.new_repetitions = candidate.real_ns.size();
  if (base.real_ns.empty() || candidate.real_ns.empty()) {
    c.verdict = Verdict::failed;
    c.error = !candidate.error.empty() ? "new: " + candidate.error : "base: " + base.error;
    return c;
  }
  c.base_median_ns = median(base.real_ns);
  c.new_median_ns = median(candidate.real_ns);
  c.change = c.base_median_ns > 0 ? c.new_median_ns / c.base_median_ns - 1 : 0;
  c.p_value = mann_whitney_p(base.real_ns, candidate.real_ns);
  if (c.p_value < options.alpha && std::abs(c.change) >= options.threshold) {
    c.verdict = c.change > 0 ? Verdict::slower : Verdict::faster;
  }
  return c;
}

std::string format_ms(double ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", ns / 1e6);
  return text;
}

}  // namespace

std::vector<Comparison> compare(const RunFile& base, const RunFile& candidate,
                                const CompareOptions& options) {
  std::map<std::string, const Benchmark*> in_new;
  for (const auto& b : candidate.benchmarks) in_new.emplace(b.name, &b);
  std::vector<Comparison> result;
  for (const auto& b : base.benchmarks) {
    const auto it = in_new.find(b.name);
    if (it == in_new.end()) {
      Comparison c;
      c.name = b.name;
      c.verdict = Verdict::only_in_base;
      c.base_repetitions = b.real_ns.size();
      c.base_median_ns = median(b.real_ns);
      result.push_back(c);
      continue;
    }
    result.push_back(judge(b, *it->second, options));
    in_new.erase(it);
  }
  for (const auto& b : candidate.benchmarks) {
    if (in_new.count(b.name) == 0) continue;
    Comparison c;
    c.name = b.name;
    c.verdict = Verdict::only_in_new;
    c.new_repetitions = b.real_ns.size();
    c.new_median_ns = median(b.real_ns);
    result.push_back(c);
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
  const std::vector<std::string> header = {"benchmark", "base ms", "new ms", "change",
                                           "p",         "reps",    "verdict"};
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
         std::to_string(c.base_repetitions) + "/" + std::to_string(c.new_repetitions),
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
    out += "|---|---:|---:|---:|---:|---:|---|\n";
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
