#pragma once
// The command lines of `croma study` and `croma advise` as plain values, so that their options
// are option-registry tables like those of train and eval (src/config/study_option_table.cpp):
// parsing, range checks, --help and --help-markdown come from the same declarations.
// config/ knows nothing of the study's types: study/study_options.cpp fills these structs with
// the study's defaults (the paper's grid) before parsing, which is what --help then shows, and
// turns them back into a StudyGrid, WeakGrid or AlignmentSetting afterwards. The checks that
// speak in the model's terms (n_align > d + 1, a variance >= 0, ...) stay in the study layer.
#include <cstdint>
#include <string>
#include <vector>

#include "croma/config/option_registry.h"

namespace croma {

struct StudyArguments {
  // Model (paper 5.5)
  std::int64_t d = 0;
  double sigma2 = 0;
  std::int64_t n1 = 0;
  std::int64_t n2 = 0;
  double condition = 0;
  // Grid
  std::vector<std::int64_t> n_align;
  std::vector<double> sigma_w2;
  std::int64_t trials = 0;
  std::uint64_t seed = 0;
  std::string method;
  bool skip_main = false;
  // Weak alignment (Appendix E)
  bool weak = false;
  std::vector<std::int64_t> weak_n;
  std::vector<std::int64_t> weak_sets;  // empty: the study's own set grid per N
  std::int64_t weak_trials = 0;
  double weak_sigma_w2 = 0;
  std::int64_t kmeans_iters = 0;
  // Run
  std::string out;
  bool overwrite = false;
  std::string device;
  std::int64_t threads = 1;
  bool quiet = false;
};

struct AdviseArguments {
  std::int64_t d = 0;
  double sigma2 = 0;
  std::int64_t n1 = 0;
  std::int64_t n2 = 0;
  double condition = 0;
  double sigma_w2 = 0;
  std::int64_t n_align = 0;
  std::string shards;
  double variance_kept = 0;
};

const OptionTable<StudyArguments>& study_option_table();
const OptionTable<AdviseArguments>& advise_option_table();

}  // namespace croma
