#pragma once
// Confidence intervals of a mean, the few-shot community's standard (at least 600 episodes,
// mean with a 95 % interval): the Student-t interval mean +- t_{1-(1-level)/2, n-1} * s / sqrt(n)
// with s the sample standard deviation. The same routine serves one run (over its episodes),
// a method (over the means of its training seeds) and a paired comparison (over differences).
#include <cstdint>
#include <vector>

namespace croma {

struct MeanInterval {
  std::int64_t n = 0;
  double mean = 0;
  double std = 0;         // sample standard deviation (n - 1); 0 for n < 2
  double half_width = 0;  // of the interval at `level`; 0 for n < 2 (no interval can be given)
};

// Throws std::invalid_argument for an empty sample or a level outside (0, 1).
MeanInterval t_interval(const std::vector<double>& values, double level = 0.95);

// Element-wise a - b (paired samples, same length; throws std::invalid_argument otherwise).
std::vector<double> paired_differences(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace croma
