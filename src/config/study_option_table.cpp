// Every option of `croma study` and `croma advise`, one entry each (option_registry.h says what
// an entry holds). Their defaults are the study's (study/study_options.cpp fills the structs
// before parsing); the model's own checks (n_align > d + 1, variances >= 0, ...) are the study
// layer's, so only what no model check covers has a range here.
#include "croma/config/study_arguments.h"

namespace croma {
namespace {

const std::vector<std::string> kDevices = {"auto", "cpu", "cuda", "cuda:N"};

// The setting both commands describe (paper 5.5).
template <class Options>
void add_setting(OptionTable<Options>& t) {
  t.option("d", field(&Options::d), "input dimension of both modalities");
  t.option("sigma2", field(&Options::sigma2), "label noise variance");
  t.option("n1", field(&Options::n1), "labelled source samples");
  t.option("n2", field(&Options::n2), "labelled target samples");
  t.option("condition", field(&Options::condition), "condition number of W (1: random orthogonal W)");
}

OptionTable<StudyArguments> make_study_table() {
  using S = StudyArguments;
  OptionTable<S> t;
  t.group("Model (paper §5.5)");
  add_setting(t);
  t.group("Grid");
  t.option("n-align", field(&S::n_align), "alignment-pair counts (increasing)");
  t.option("sigma-w2", field(&S::sigma_w2), "alignment noise variances (increasing; 0 = strong)");
  t.option("trials", field(&S::trials), "independent trials (seeds) per cell");
  t.option("seed", field(&S::seed), "base seed; trial t of a cell uses stream (cell, t)");
  t.option("method", field(&S::method), "stats (sufficient statistics, O(d^2) per trial) | direct (explicit data)")
      .one_of({"stats", "direct"});
  t.option("skip-main", field(&S::skip_main), "do not run the alignment-vs-supervision grid");
  t.group("Weak alignment (Appendix E)");
  t.option("weak", field(&S::weak), "also run the weak-alignment study");
  t.option("weak-n", field(&S::weak_n), "alignment pairs N");
  t.option("weak-sets", field(&S::weak_sets), "set counts S (default: 8 values from d+2 to N per N)")
      .without_default();
  t.option("weak-trials", field(&S::weak_trials), "trials per (N, S)");
  t.option("weak-sigma-w2", field(&S::weak_sigma_w2), "pair noise variance");
  t.option("kmeans-iters", field(&S::kmeans_iters), "Lloyd iterations forming the sets");
  t.group("Run");
  t.option("out", field(&S::out), "output directory (study.csv, study.h5, summary.json)").non_empty_path();
  t.option("overwrite", field(&S::overwrite), "replace results already in --out");
  t.option("device", field(&S::device), "auto | cpu | cuda | cuda:N").one_of(kDevices);
  t.option("threads", field(&S::threads), "intra-op threads per rank").at_least(1);
  t.option("quiet", field(&S::quiet), "no progress on stderr");
  return t;
}

OptionTable<AdviseArguments> make_advise_table() {
  using A = AdviseArguments;
  OptionTable<A> t;
  t.group("Setting");
  add_setting(t);
  t.option("sigma-w2", field(&A::sigma_w2), "alignment noise variance");
  t.option("n-align", field(&A::n_align), "alignment pairs available");
  t.option("shards", field(&A::shards),
           "estimate the numbers not given from feature shards (FILE, A.h5,B.h5 or LIST.txt)")
      .without_default();
  // (0, 1]: checked in study_options.cpp, as no rule of the registry includes 1 and excludes 0.
  t.option("variance-kept", field(&A::variance_kept),
           "with --shards: d = the target principal components explaining this fraction of variance");
  return t;
}

}  // namespace

const OptionTable<StudyArguments>& study_option_table() {
  static const auto table = make_study_table();
  return table;
}

const OptionTable<AdviseArguments>& advise_option_table() {
  static const auto table = make_advise_table();
  return table;
}

}  // namespace croma
