#include "reports/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>

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

namespace {

// The differences b[j] - a[i] of two sorted samples, never stored: row i
// holds b[0] - a[i] <= b[1] - a[i] <= ..., and every column falls as i grows
// (rounding is monotone, so this holds for the computed differences too).
class DifferenceMatrix {
 public:
  DifferenceMatrix(std::vector<double> a, std::vector<double> b)
      : a_(std::move(a)), b_(std::move(b)) {
    std::sort(a_.begin(), a_.end());
    std::sort(b_.begin(), b_.end());
  }
  std::size_t rows() const noexcept { return a_.size(); }
  std::size_t columns() const noexcept { return b_.size(); }
  double at(std::size_t row, std::size_t column) const noexcept { return b_[column] - a_[row]; }

  // Per row, how many of its differences satisfy `below` (a threshold test),
  // into `counts`; returns their sum. A row has at least as many as the row
  // before, so one pass over rows and columns suffices.
  template <class Below>
  std::size_t count(Below below, std::vector<std::size_t>& counts) const {
    std::size_t column = 0;
    std::size_t total = 0;
    for (std::size_t row = 0; row < rows(); ++row) {
      while (column < columns() && below(at(row, column))) ++column;
      counts[row] = column;
      total += column;
    }
    return total;
  }

 private:
  std::vector<double> a_;
  std::vector<double> b_;
};

// The difference of rank `rank` (0 = the smallest) in the matrix. Each row
// keeps the range of columns that may still hold it; a pivot drawn from those
// candidates splits every row, and the side that holds the rank is kept.
double select_difference(const DifferenceMatrix& matrix, std::size_t rank) {
  struct Columns {
    std::size_t first;  // The candidates of a row: columns [first, last).
    std::size_t last;
  };
  std::vector<Columns> rows(matrix.rows(), Columns{0, matrix.columns()});
  std::vector<std::size_t> counts(matrix.rows());
  // Fixed seed: the result is exact whatever the pivots; they only set the pace.
  std::mt19937_64 random(matrix.rows() * matrix.columns());
  for (;;) {
    std::size_t candidates = 0;
    std::size_t below = 0;  // Differences known to rank before every candidate.
    for (const Columns& row : rows) {
      candidates += row.last - row.first;
      below += row.first;
    }
    if (candidates <= matrix.rows() + matrix.columns()) {
      std::vector<double> left;
      left.reserve(candidates);
      for (std::size_t i = 0; i < rows.size(); ++i) {
        for (std::size_t j = rows[i].first; j < rows[i].last; ++j) left.push_back(matrix.at(i, j));
      }
      const auto nth = left.begin() + static_cast<std::ptrdiff_t>(rank - below);
      std::nth_element(left.begin(), nth, left.end());
      return *nth;
    }
    std::size_t pick = std::uniform_int_distribution<std::size_t>(0, candidates - 1)(random);
    std::size_t row = 0;
    while (pick >= rows[row].last - rows[row].first) {
      pick -= rows[row].last - rows[row].first;
      ++row;
    }
    const double pivot = matrix.at(row, rows[row].first + pick);
    if (rank < matrix.count([pivot](double d) { return d < pivot; }, counts)) {
      for (std::size_t i = 0; i < rows.size(); ++i)
        rows[i].last = std::min(rows[i].last, counts[i]);
      continue;
    }
    if (rank < matrix.count([pivot](double d) { return d <= pivot; }, counts)) return pivot;
    for (std::size_t i = 0; i < rows.size(); ++i)
      rows[i].first = std::max(rows[i].first, counts[i]);
  }
}

}  // namespace

double hodges_lehmann_shift(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) return 0;
  const DifferenceMatrix matrix(a, b);
  const std::size_t pairs = a.size() * b.size();
  const double upper = select_difference(matrix, pairs / 2);
  if (pairs % 2 == 1) return upper;
  return (select_difference(matrix, pairs / 2 - 1) + upper) / 2;
}

double smallest_possible_p(std::size_t m, std::size_t n) {
  if (m == 0 || n == 0) return 1;
  // C(m + n, m) as a running product; every partial product is a whole
  // number, exact in a double while below 2^53 (up to about 28 vs 28), which
  // is where the comparison with alpha can be close.
  double arrangements = 1;
  for (std::size_t i = 1; i <= std::min(m, n); ++i) {
    arrangements = arrangements * static_cast<double>(std::max(m, n) + i) / static_cast<double>(i);
  }
  return std::min(1.0, 2 / arrangements);
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
