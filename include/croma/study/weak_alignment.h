#pragma once
// Weak alignment (the paper's Appendix E): the N alignment pairs x1 = W x2 + eta are known
// only up to S sets. The sets are formed by k-means on the target inputs x2; inside a set,
// which x1 belongs to which x2 is unknown. W is then fitted from the set structure, by one of
//   centroid: weighted least squares of the sets' source means on their target means
//             (weights = set sizes; needs more than d non-empty sets);
//   pairing:  every x2 paired with a random x1 of its own set, then ordinary least squares
//             (what weak-pair training does with positive pairs drawn inside a cluster).
// The measured quantity is the target error ||w1 W^ - u2||^2 of the cross-modal predictor
// (source fit on n1 samples as in the main study). Appendix E argues the error behaves like
// c1/S + c2 S/N, so that the best S grows like sqrt(N); find_weak_optima measures the best S
// per N and fits the exponent of S* against N. At fixed N, every S uses the same pairs in
// trial t (common random numbers), so the comparison across S is paired.
#include <cstdint>
#include <functional>
#include <vector>

#include "croma/study/alignment_study.h"

namespace croma {

struct WeakGrid {
  std::int64_t d = 20;
  double sigma2 = 1.0;
  double sigma_w2 = 1.0;
  std::int64_t n1 = 250;
  std::vector<std::int64_t> n = {100, 400, 1600};  // alignment pairs N
  std::vector<std::int64_t> sets;                  // S values; empty: default_set_grid per N
  std::int64_t trials = 40;
  std::uint64_t seed = 1;
  std::int64_t kmeans_iters = 10;
};

// About 8 S values, geometric from d + 2 to N (inclusive).
std::vector<std::int64_t> default_set_grid(std::int64_t d, std::int64_t n);
void validate_weak_grid(const WeakGrid& g);

struct WeakCell {
  std::int64_t n = 0, sets = 0, trials = 0;
  ErrorStats centroid, pairing;
  double strong_theory = 0.0;  // exact cross-modal error with N perfectly known pairs
};

struct WeakTrialErrors {
  std::vector<double> centroid, pairing;
};

WeakTrialErrors simulate_weak_cell(const WeakGrid& g, std::int64_t n, std::int64_t sets,
                                   const torch::Device& device);

// Cells (N-major, S increasing) dealt round-robin over ranks; all ranks get the full list.
std::vector<WeakCell> run_weak_study(const WeakGrid& g, const Communicator& comm, const torch::Device& device,
                                     const std::function<void(std::int64_t, std::int64_t)>& on_cell = {});

struct WeakOptimum {
  std::int64_t n = 0;
  std::int64_t best_sets_centroid = 0, best_sets_pairing = 0;
  bool centroid_at_largest = false, pairing_at_largest = false;  // the optimum is S = max grid
  // Smallest S whose mean error is within 10% of the best S's: where the curve flattens, a
  // less noisy summary than the argmin when the error plateaus.
  std::int64_t flat_sets_centroid = 0, flat_sets_pairing = 0;
};
struct WeakFinding {
  std::vector<WeakOptimum> optima;
  // Least-squares slope of log S* on log N (0.5 would be the appendix's sqrt(N)); NaN with
  // fewer than two N values.
  double slope_centroid = 0.0, slope_pairing = 0.0;
  double flat_slope_centroid = 0.0, flat_slope_pairing = 0.0;  // the same for the 10% S
};
WeakFinding find_weak_optima(const std::vector<WeakCell>& cells);

}  // namespace croma
