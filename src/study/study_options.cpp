#include "croma/study/study_options.h"

#include <boost/program_options.hpp>
#include <cmath>
#include <iostream>
#include <sstream>

#include "croma/config/options.h"
#include "croma/config/strict_command_line.h"

namespace po = boost::program_options;

namespace croma {
namespace {

template <class T>
std::vector<T> parse_list(const std::string& option, const std::string& text) {
  std::vector<T> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::istringstream one(item);
    T v{};
    one >> v;
    if (item.empty() || one.fail() || !one.eof()) {
      throw OptionError("invalid value for --" + option + ": '" + text +
                        "' (expected a comma-separated list of numbers, e.g. 50,100,1000)");
    }
    values.push_back(v);
  }
  if (values.empty()) throw OptionError("invalid value for --" + option + ": empty list");
  return values;
}

template <class T>
std::string join(const std::vector<T>& v) {
  std::ostringstream out;
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  return out.str();
}

bool run_parser(const std::string& usage, po::options_description& all, int argc,
                const char* const argv[], po::variables_map& vm) {
  all.add_options()("help,h", "show this help");
  try {
    po::store(parse_strict_command_line(argc, argv, all), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << all << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw OptionError(e.what());
  }
  return true;
}

void setting_options(po::options_description& g, AlignmentSetting& s) {
  g.add_options()
      ("d", po::value(&s.d)->default_value(s.d), "input dimension of both modalities")
      ("sigma2", po::value(&s.sigma2)->default_value(s.sigma2), "label noise variance")
      ("n1", po::value(&s.n1)->default_value(s.n1), "labelled source samples")
      ("n2", po::value(&s.n2)->default_value(s.n2), "labelled target samples")
      ("condition", po::value(&s.condition)->default_value(s.condition),
       "condition number of W (1: random orthogonal W)");
}

// validate_setting/validate_grid speak in model terms; say which option to change.
[[noreturn]] void rethrow_as_option_error(const std::exception& e) {
  throw OptionError(std::string("invalid grid: ") + e.what());
}

}  // namespace

bool parse_study_command(int argc, const char* const argv[], StudyCommandOptions& o) {
  std::string n_align = join(o.grid.n_align), sigma_w2 = join(o.grid.sigma_w2);
  std::string weak_n = join(o.weak_grid.n), weak_sets, method = to_string(o.grid.method);
  std::uint64_t seed = o.grid.seed;
  po::options_description all;
  po::options_description model("Model (paper §5.5)");
  setting_options(model, o.grid.base);
  po::options_description grid("Grid");
  grid.add_options()
      ("n-align", po::value(&n_align)->default_value(n_align), "alignment-pair counts (increasing)")
      ("sigma-w2", po::value(&sigma_w2)->default_value(sigma_w2), "alignment noise variances (increasing; 0 = strong)")
      ("trials", po::value(&o.grid.trials)->default_value(o.grid.trials), "independent trials (seeds) per cell")
      ("seed", po::value(&seed)->default_value(seed), "base seed; trial t of a cell uses stream (cell, t)")
      ("method", po::value(&method)->default_value(method), "stats (sufficient statistics, O(d^2) per trial) | direct (explicit data)")
      ("skip-main", po::bool_switch(), "do not run the alignment-vs-supervision grid");
  po::options_description weak("Weak alignment (Appendix E)");
  weak.add_options()
      ("weak", po::bool_switch(&o.weak), "also run the weak-alignment study")
      ("weak-n", po::value(&weak_n)->default_value(weak_n), "alignment pairs N")
      ("weak-sets", po::value(&weak_sets), "set counts S (default: 8 values from d+2 to N per N)")
      ("weak-trials", po::value(&o.weak_grid.trials)->default_value(o.weak_grid.trials), "trials per (N, S)")
      ("weak-sigma-w2", po::value(&o.weak_grid.sigma_w2)->default_value(o.weak_grid.sigma_w2), "pair noise variance")
      ("kmeans-iters", po::value(&o.weak_grid.kmeans_iters)->default_value(o.weak_grid.kmeans_iters), "Lloyd iterations forming the sets");
  po::options_description run("Run");
  run.add_options()
      ("out", po::value(&o.out)->default_value(o.out), "output directory (study.csv, study.h5, summary.json)")
      ("overwrite", po::bool_switch(&o.overwrite), "replace results already in --out")
      ("device", po::value(&o.device)->default_value(o.device), "auto | cpu | cuda | cuda:N")
      ("threads", po::value(&o.threads)->default_value(o.threads), "intra-op threads per rank")
      ("quiet", po::bool_switch(&o.quiet), "no progress on stderr");
  all.add(model).add(grid).add(weak).add(run);
  po::variables_map vm;
  if (!run_parser("usage: croma study [options]   (mpirun -np K croma study ... spreads cells over ranks)",
                  all, argc, argv, vm)) {
    return false;
  }
  o.main_study = !vm["skip-main"].as<bool>();
  o.grid.seed = seed;
  o.grid.n_align = parse_list<std::int64_t>("n-align", n_align);
  o.grid.sigma_w2 = parse_list<double>("sigma-w2", sigma_w2);
  o.weak_grid.n = parse_list<std::int64_t>("weak-n", weak_n);
  if (!weak_sets.empty()) o.weak_grid.sets = parse_list<std::int64_t>("weak-sets", weak_sets);
  try {
    o.grid.method = parse_study_method(method);
  } catch (const std::invalid_argument&) {
    throw OptionError("invalid value for --method: '" + method + "' (allowed: stats, direct)");
  }
  if (o.threads < 1) throw OptionError("invalid value for --threads: " + std::to_string(o.threads) + " (must be >= 1)");
  if (o.device != "auto" && o.device != "cpu" && o.device != "cuda" && o.device.rfind("cuda:", 0) != 0) {
    throw OptionError("invalid value for --device: '" + o.device + "' (allowed: auto, cpu, cuda, cuda:N)");
  }
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
  po::options_description all;
  po::options_description model("Setting");
  setting_options(model, o.setting);
  model.add_options()
      ("sigma-w2", po::value(&o.setting.sigma_w2)->default_value(o.setting.sigma_w2), "alignment noise variance")
      ("n-align", po::value(&o.setting.n_align)->default_value(o.setting.n_align), "alignment pairs available")
      ("shards", po::value(&o.shards), "estimate the numbers not given from feature shards (FILE, A.h5,B.h5 or LIST.txt)")
      ("variance-kept", po::value(&o.variance_kept)->default_value(o.variance_kept),
       "with --shards: d = the target principal components explaining this fraction of variance");
  all.add(model);
  po::variables_map vm;
  if (!run_parser("usage: croma advise --d D --sigma2 S2 --sigma-w2 SW2 --n1 N1 --n2 N2 --n-align NA",
                  all, argc, argv, vm)) {
    return false;
  }
  const auto given = [&](const char* name) { return vm.count(name) && !vm[name].defaulted(); };
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
