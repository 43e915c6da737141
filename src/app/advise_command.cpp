// croma advise: the exact expected errors of supervised and cross-modal learning for a given
// setting (study/alignment_theory.h), the decision, and the n_align at which alignment wins.
#include <cmath>
#include <cstdio>
#include <iostream>

#include <optional>
#include <stdexcept>

#include "croma/app/commands.h"
#include "croma/meta/load_shards.h"
#include "croma/data/feature_shards.h"
#include "croma/study/shard_estimate.h"
#include "croma/distributed/communicator.h"
#include "croma/study/study_options.h"

namespace croma {

int run_advise_command(int argc, const char* const argv[]) {
  AdviseCommandOptions o;
  if (!parse_advise_command(argc, argv, o)) return 0;
  std::optional<SettingEstimate> estimate;
  if (!o.shards.empty()) {
    const auto shards = load_shards(expand_shard_paths(o.shards), "croma advise", Communicator::world());
    estimate = estimate_setting(shards.data, shards.split, o.setting, o.fixed, o.variance_kept);
    o.setting = estimate->setting;
    try {
      validate_setting(o.setting);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error("the setting estimated from " + o.shards + " is unusable: " + e.what());
    }
  }
  if (!Communicator::world().is_root()) return 0;
  const auto& s = o.setting;
  if (estimate) {
    const auto& f = o.fixed;
    auto from = [](bool fixed) { return fixed ? "given" : "estimated"; };
    std::printf("from %s: source %lld-d, target %lld-d; d=%lld (%s; %.1f%% of the target variance%s), "
                "sigma2 %s, sigma_w2 %s, condition %s, n1 %s, n_align %s, n2 given\n",
                o.shards.c_str(), static_cast<long long>(estimate->source_dim),
                static_cast<long long>(estimate->target_dim), static_cast<long long>(s.d), from(f.d),
                100.0 * estimate->variance_explained,
                estimate->d_capped ? ", capped so that every fit is determined" : "", from(f.sigma2),
                from(f.sigma_w2), from(f.condition), from(f.n1), from(f.n_align));
  }
  const double sup = supervised_error(s), cross = cross_modal_error(s);
  const double psup = paper_supervised_error(s), pcross = paper_cross_modal_error(s);
  const double need = exact_crossover_n_align(s), pneed = paper_crossover_n_align(s);
  const bool align = cross < sup;
  std::printf("setting: d=%lld sigma2=%g sigma_w2=%g n1=%lld n2=%lld n_align=%lld condition=%g\n",
              static_cast<long long>(s.d), s.sigma2, s.sigma_w2, static_cast<long long>(s.n1),
              static_cast<long long>(s.n2), static_cast<long long>(s.n_align), s.condition);
  std::printf("%-28s %12s %12s\n", "expected target error", "exact", "paper (large n)");
  std::printf("%-28s %12.6g %12.6g\n", "supervised on n2", sup, psup);
  std::printf("%-28s %12.6g %12.6g\n", "cross-modal (w1 W^)", cross, pcross);
  std::printf("%-28s %12.6g %12.6g\n", "  of which source fit", source_error(s),
              static_cast<double>(s.d) * s.sigma2 / static_cast<double>(s.n1));
  std::printf("decision: %s\n", align ? "use cross-modal alignment" : "use supervised learning on the target");
  if (std::isfinite(need)) {
    std::printf("alignment wins from n_align > %.1f (paper's rule: > %.1f)\n", need, pneed);
  } else {
    std::printf("alignment cannot win: the source-limited error is not below the supervised one\n");
  }
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json out = {{"command", "advise"},
                        {"d", s.d}, {"sigma2", s.sigma2}, {"sigma_w2", s.sigma_w2},
                        {"n1", s.n1}, {"n2", s.n2}, {"n_align", s.n_align}, {"condition", s.condition},
                        {"supervised_error", sup}, {"cross_modal_error", cross},
                        {"paper_supervised_error", psup}, {"paper_cross_modal_error", pcross},
                        {"decision", align ? "align" : "supervised"},
                        {"estimated_from", o.shards.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.shards)},
                        {"n_align_needed", num(need)}, {"paper_n_align_needed", num(pneed)}};
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace croma
