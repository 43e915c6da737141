#pragma once
// The alignment-versus-supervision study of the paper's §5.5 (Fig. 8): a grid of
// (sigma_w2, n_align) cells, many independent trials per cell, each trial measuring the
// target error of the supervised fit, the source fit and the cross-modal predictor w1 W^.
//
// Trials of a cell are solved together as batched float64 linear algebra on one device.
// Every trial draws from its own Rng(seed, stream(cell, trial)), where the cell is named by
// its (n_align, sigma_w2) values, so a cell's numbers do not depend on the grid around it,
// on the number of ranks, or on how cells are spread over them.
//
// Two methods give the same distribution of errors (tests check it):
//   statistics: each fit drawn through its sufficient statistics (see study/wishart.h), and
//               W's randomness integrated out analytically, so a trial costs O(d^2);
//   direct:     the data X, eps, W, eta drawn explicitly and fitted by Cholesky solves of the
//               normal equations; O((n1 + n2 + n_align) d^2) per trial.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "croma/study/alignment_theory.h"

namespace croma {

class Communicator;

enum class StudyMethod { kStatistics, kDirect };
StudyMethod parse_study_method(const std::string& text);  // "stats" | "direct"
std::string to_string(StudyMethod m);

struct StudyGrid {
  AlignmentSetting base;              // d, sigma2, n1, n2, condition (n_align, sigma_w2 unused)
  std::vector<std::int64_t> n_align;  // increasing
  std::vector<double> sigma_w2;
  std::int64_t trials = 1000;
  std::uint64_t seed = 1;
  StudyMethod method = StudyMethod::kStatistics;
  std::int64_t cells() const { return static_cast<std::int64_t>(n_align.size() * sigma_w2.size()); }
  // Cell c is (sigma_w2[c / |n_align|], n_align[c % |n_align|]).
  AlignmentSetting cell(std::int64_t c) const;
};

// The paper's setting: d = 20, n1 = 250, n2 = 40, sigma2 = 1; 6 sigma_w2 values and 16
// n_align values from d + 5 to 10^5.
StudyGrid default_study_grid();
// Throws std::invalid_argument with a message naming the bad value.
void validate_grid(const StudyGrid& g);

struct TrialErrors {
  std::vector<double> supervised, source, cross;
};

struct ErrorStats {
  double mean = 0.0, std = 0.0, sem = 0.0;
};
ErrorStats summarize(const std::vector<double>& values);

struct CellResult {
  AlignmentSetting setting;
  std::int64_t trials = 0;
  std::uint64_t seed = 0;
  ErrorStats supervised, source, cross;
  double theory_supervised = 0.0, theory_source = 0.0, theory_cross = 0.0;
  double paper_supervised = 0.0, paper_cross = 0.0;
};

// Stream id of a cell's trial t (the Rng is Rng(seed, cell_stream(...) + t)).
std::uint64_t cell_stream(std::int64_t n_align, double sigma_w2);

TrialErrors simulate_cell(const AlignmentSetting& s, std::int64_t trials, std::uint64_t seed,
                          StudyMethod method, const torch::Device& device);
CellResult summarize_cell(const AlignmentSetting& s, std::int64_t trials, std::uint64_t seed,
                          const TrialErrors& errors);

// Runs every cell of the grid, cells dealt round-robin over comm's ranks; every rank returns
// the full table (in grid order). on_cell(done, total) is called on each rank after its cells.
std::vector<CellResult> run_study(const StudyGrid& g, const Communicator& comm,
                                  const torch::Device& device,
                                  const std::function<void(std::int64_t, std::int64_t)>& on_cell = {});

// The n_align at which cross-modal first beats supervised, per sigma_w2.
struct Crossover {
  double sigma_w2 = 0.0;
  // Measured: log-linear interpolation of (cross - supervised) between the last losing and the
  // first winning grid point; NaN when alignment never wins on the grid; the first grid point
  // (with below_grid set) when it already wins there.
  double measured = 0.0;
  bool below_grid = false;
  double exact = 0.0;  // exact theory (alignment_theory.h)
  double paper = 0.0;  // the paper's rule of thumb
};
std::vector<Crossover> find_crossovers(const StudyGrid& g, const std::vector<CellResult>& cells);

}  // namespace croma
