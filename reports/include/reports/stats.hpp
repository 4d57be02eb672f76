// The statistics the reports and the compare gate share.
#pragma once

#include <cstddef>
#include <vector>

namespace reports {

// The median of `values` (the mean of the middle two for an even count); 0
// for none.
double median(std::vector<double> values);

// The Hodges-Lehmann estimate of how far `b` is shifted from `a`: the median
// of the differences b[j] - a[i] over all pairs; 0 when either is empty. The
// estimate that goes with the Mann-Whitney test, and steadier than the
// difference of the two medians when each side has only a few samples.
//
// Exact, in O(m + n) memory: the m x n differences are never stored. Sorted,
// they form a matrix whose rows and columns are monotone, so the number of
// differences below any value can be counted in O(m + n); a selection over
// that matrix (a random pivot among the candidates left, then the rows cut
// to the side of the pivot that holds the wanted rank) finds the middle
// order statistics in O(log(m n)) such counts on average.
double hodges_lehmann_shift(const std::vector<double>& a, const std::vector<double>& b);

// The two-sided p-value of the Mann-Whitney U test (Wilcoxon rank-sum) that
// samples `a` and `b` come from the same distribution.
//
// Without ties, and for up to 10,000 sample pairs, the p-value is exact: the
// null distribution of U is counted (the coefficients of the Gaussian
// binomial [m+n choose m]_q), because at 12 repetitions the normal
// approximation is noticeably off in the tails the gate decides on. With
// ties the untied exact distribution no longer applies, so the normal
// approximation is used with the tie correction of the variance and a
// continuity correction of 0.5 (as in scipy's "asymptotic" method).
// Returns 1 when either sample is empty.
double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b);

// The smallest two-sided p-value the exact test can give for samples of m
// and n values: 2 / C(m + n, m), when one sample lies wholly above the
// other (1 when either is empty). When it is not below alpha, nothing can
// be significant, whatever the data.
double smallest_possible_p(std::size_t m, std::size_t n);

}  // namespace reports
