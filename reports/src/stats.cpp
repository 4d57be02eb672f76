#include "reports/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace reports {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  const std::size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + middle, values.end());
  if (values.size() % 2 == 1) return values[middle];
  const double upper = values[middle];
  const double lower = *std::max_element(values.begin(), values.begin() + middle);
  return (lower + upper) / 2;
}

double hodges_lehmann_shift(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> differences;
  differences.reserve(a.size() * b.size());
  for (const double x : a) {
    for (const double y : b) differences.push_back(y - x);
  }
  return median(std::move(differences));
}

namespace {

struct RankSum {
  double u = 0;         // U of sample a.
  double tie_term = 0;  // Sum of t^3 - t over groups of t tied values.
  bool has_ties = false;
};

// U of `a` from the midranks of the pooled samples.
RankSum rank_sum(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<std::pair<double, bool>> pooled;  // (value, from a)
  for (double x : a) pooled.emplace_back(x, true);
  for (double x : b) pooled.emplace_back(x, false);
  std::sort(pooled.begin(), pooled.end(),
            [](const auto& l, const auto& r) { return l.first < r.first; });
  RankSum result;
  double rank_sum_a = 0;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double midrank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    const auto tied = static_cast<double>(j - i);
    if (j - i > 1) {
      result.has_ties = true;
      result.tie_term += tied * tied * tied - tied;
    }
    for (std::size_t k = i; k < j; ++k) {
      if (pooled[k].second) rank_sum_a += midrank;
    }
    i = j;
  }
  const auto m = static_cast<double>(a.size());
  result.u = rank_sum_a - m * (m + 1) / 2;
  return result;
}

// How many arrangements give each U in 0..m*n: the coefficients of
// prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i).
std::vector<double> u_counts(std::size_t m, std::size_t n) {
  std::vector<double> poly(m * n + 1, 0.0);
  poly[0] = 1;
  for (std::size_t i = 1; i <= m; ++i) {
    for (std::size_t k = poly.size(); k-- > n + i;) poly[k] -= poly[k - (n + i)];
    for (std::size_t k = i; k < poly.size(); ++k) poly[k] += poly[k - i];
  }
  return poly;
}

double exact_p(double u, std::size_t m, std::size_t n) {
  const std::vector<double> counts = u_counts(m, n);
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  const auto observed = static_cast<std::size_t>(std::llround(u));
  double at_most = 0;
  double at_least = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    if (k <= observed) at_most += counts[k];
    if (k >= observed) at_least += counts[k];
  }
  return std::min(1.0, 2 * std::min(at_most, at_least) / total);
}

double normal_p(const RankSum& rs, std::size_t m, std::size_t n) {
  const auto dm = static_cast<double>(m);
  const auto dn = static_cast<double>(n);
  const double total = dm + dn;
  const double variance = dm * dn / 12 * ((total + 1) - rs.tie_term / (total * (total - 1)));
  if (variance <= 0) return 1;  // Every value equal.
  const double distance = std::max(0.0, std::abs(rs.u - dm * dn / 2) - 0.5);
  // Two-sided normal tail: 2 * (1 - Phi(z)) = erfc(z / sqrt(2)).
  return std::min(1.0, std::erfc(distance / std::sqrt(variance) / std::sqrt(2.0)));
}

}  // namespace

double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) return 1;
  const RankSum rs = rank_sum(a, b);
  if (!rs.has_ties && a.size() * b.size() <= 10'000) return exact_p(rs.u, a.size(), b.size());
  return normal_p(rs, a.size(), b.size());
}

}  // namespace reports
