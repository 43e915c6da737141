#pragma once
// `croma advise --shards`: the numbers of the §5.5 model estimated from a real dataset, so
// that users can ask "align or label more?" of their own data.
//
// The model has x_2 ~ N(0, I_d), x_1 = W x_2 + η with η ~ N(0, σ_W² I) and labels linear in
// x_m with noise σ². Real features are neither d-dimensional nor white, so the estimate works
// in a whitened principal subspace of the meta-train items:
//   d     the number of target principal components that explain `variance_kept` of the
//         target variance (at most min(source dim, target dim), and capped so that every
//         least-squares fit the theory needs is determined: d <= min(n1, n2, n_align) - 2);
//   n1    meta-train source items (the labelled source data);
//   n_align  strong pairs between meta-train items;
//   σ_W²  the per-coordinate residual variance of the least-squares map from whitened target
//         to whitened source features over those pairs (degrees of freedom corrected);
//   condition  the condition number of that fitted map;
//   σ²    the label noise in the model's units: one-vs-rest class indicators regressed on the
//         whitened source features; with R² the explained fraction, a label of signal
//         variance E‖u‖² = d has noise σ² = d (1 − R²) / R².
// n2 (labelled target samples) is not in the data: it is what the user could label.
#include <cstdint>
#include <string>

#include "croma/data/cross_modal_dataset.h"
#include "croma/data/meta_split.h"
#include "croma/study/alignment_theory.h"

namespace croma {

// Which numbers the user gave explicitly: those are kept as given.
struct FixedSettingFields {
  bool d = false, sigma2 = false, sigma_w2 = false, n1 = false, n_align = false, condition = false;
};

struct SettingEstimate {
  AlignmentSetting setting;
  std::int64_t source_dim = 0, target_dim = 0;
  double variance_explained = 0;  // by the d target components
  bool d_capped = false;          // d was lowered so that the fits are determined
};

// Throws std::runtime_error naming what the data lack (no strong pairs among meta-train
// items while sigma_w2 is to be estimated, fewer than 4 of them, ...).
SettingEstimate estimate_setting(const CrossModalDataset& data, const ClassSplit& split,
                                 const AlignmentSetting& given, const FixedSettingFields& fixed,
                                 double variance_kept = 0.9);

}  // namespace croma
