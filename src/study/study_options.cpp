#include "croma/study/study_options.h"

#include <stdexcept>

#include "croma/config/options.h"
#include "croma/config/study_arguments.h"

namespace croma {
namespace {

// validate_setting/validate_grid speak in model terms; say which option to change.
[[noreturn]] void rethrow_as_option_error(const std::exception& e) {
  throw OptionError(std::string("invalid grid: ") + e.what());
}

}  // namespace

// The options are the registry's (config/study_arguments.h); the study's defaults go in
// first, so that --help shows them, and the parsed values come back into the grids.
bool parse_study_command(int argc, const char* const argv[], StudyCommandOptions& o) {
  StudyArguments a;
  const auto& base = o.grid.base;
  a.d = base.d;
  a.sigma2 = base.sigma2;
  a.n1 = base.n1;
  a.n2 = base.n2;
  a.condition = base.condition;
  a.n_align = o.grid.n_align;
  a.sigma_w2 = o.grid.sigma_w2;
  a.trials = o.grid.trials;
  a.seed = o.grid.seed;
  a.method = to_string(o.grid.method);
  a.skip_main = !o.main_study;
  a.weak = o.weak;
  a.weak_n = o.weak_grid.n;
  a.weak_sets = o.weak_grid.sets;
  a.weak_trials = o.weak_grid.trials;
  a.weak_sigma_w2 = o.weak_grid.sigma_w2;
  a.kmeans_iters = o.weak_grid.kmeans_iters;
  a.out = o.out;
  a.overwrite = o.overwrite;
  a.device = o.device;
  a.threads = o.threads;
  a.quiet = o.quiet;
  const auto& table = study_option_table();
  if (!table.parse("usage: croma study [options]   (mpirun -np K croma study ... spreads cells over ranks)", argc,
                   argv, a)) {
    return false;
  }
  table.check(a);
  auto& g = o.grid;
  g.base.d = a.d;
  g.base.sigma2 = a.sigma2;
  g.base.n1 = a.n1;
  g.base.n2 = a.n2;
  g.base.condition = a.condition;
  g.n_align = a.n_align;
  g.sigma_w2 = a.sigma_w2;
  g.trials = a.trials;
  g.seed = a.seed;
  g.method = parse_study_method(a.method);  // one of the table's choices
  o.main_study = !a.skip_main;
  o.weak = a.weak;
  o.weak_grid.n = a.weak_n;
  o.weak_grid.sets = a.weak_sets;
  o.weak_grid.trials = a.weak_trials;
  o.weak_grid.sigma_w2 = a.weak_sigma_w2;
  o.weak_grid.kmeans_iters = a.kmeans_iters;
  o.out = a.out;
  o.overwrite = a.overwrite;
  o.device = a.device;
  o.threads = a.threads;
  o.quiet = a.quiet;
  if (!o.main_study && !o.weak) throw OptionError("--skip-main without --weak leaves nothing to run");
  o.weak_grid.d = o.grid.base.d;
  o.weak_grid.sigma2 = o.grid.base.sigma2;
  o.weak_grid.n1 = o.grid.base.n1;
  o.weak_grid.seed = o.grid.seed;
  try {
    if (o.main_study) validate_grid(o.grid);
    if (o.weak) validate_weak_grid(o.weak_grid);
  } catch (const std::invalid_argument& e) {
    rethrow_as_option_error(e);
  }
  return true;
}

bool parse_advise_command(int argc, const char* const argv[], AdviseCommandOptions& o) {
  AdviseArguments a;
  const auto& s = o.setting;
  a.d = s.d;
  a.sigma2 = s.sigma2;
  a.n1 = s.n1;
  a.n2 = s.n2;
  a.condition = s.condition;
  a.sigma_w2 = s.sigma_w2;
  a.n_align = s.n_align;
  a.shards = o.shards;
  a.variance_kept = o.variance_kept;
  const auto& table = advise_option_table();
  const auto given_names =
      table.parse("usage: croma advise --d D --sigma2 S2 --sigma-w2 SW2 --n1 N1 --n2 N2 --n-align NA", argc, argv, a);
  if (!given_names) return false;
  table.check(a);
  o.setting.d = a.d;
  o.setting.sigma2 = a.sigma2;
  o.setting.n1 = a.n1;
  o.setting.n2 = a.n2;
  o.setting.condition = a.condition;
  o.setting.sigma_w2 = a.sigma_w2;
  o.setting.n_align = a.n_align;
  o.shards = a.shards;
  o.variance_kept = a.variance_kept;
  const auto given = [&](const char* name) { return given_names->count(name) > 0; };
  o.fixed = {given("d"), given("sigma2"), given("sigma-w2"), given("n1"), given("n-align"), given("condition")};
  if (!(o.variance_kept > 0.0 && o.variance_kept <= 1.0)) {
    throw OptionError("invalid value for --variance-kept: " + std::to_string(o.variance_kept) + " (must be in (0, 1])");
  }
  if (!o.shards.empty()) return true;  // the estimate is validated once it is made
  try {
    validate_setting(o.setting);
  } catch (const std::invalid_argument& e) {
    throw OptionError(std::string("invalid setting: ") + e.what());
  }
  return true;
}

}  // namespace croma
