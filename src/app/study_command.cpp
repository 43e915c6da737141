// croma study: the alignment-versus-supervision study of the paper's §5.5 (Fig. 8) and the
// weak-alignment study of its Appendix E, with the exact theory beside every measured cell.
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "croma/app/commands.h"
#include "croma/config/options.h"
#include "croma/distributed/communicator.h"
#include "croma/io/run_directory.h"
#include "croma/study/study_options.h"
#include "croma/study/study_output.h"
#include "croma/util/runtime.h"

namespace croma {
namespace {

namespace fs = std::filesystem;

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

void prepare_out_dir(const StudyCommandOptions& o) {
  const fs::path dir(o.out);
  if (fs::exists(dir / "summary.json") && !o.overwrite) {
    throw OptionError("--out " + o.out + " already holds study results (summary.json); pass --overwrite to replace them");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw std::runtime_error("cannot create output directory '" + o.out + "': " + ec.message());
  }
}

void print_table(const std::vector<CellResult>& cells, const std::vector<Crossover>& xs) {
  std::printf("%9s %8s | %10s %10s %10s | %10s %10s %10s %6s | %10s %10s\n", "sigma_w2", "n_align",
              "sup", "+-sem", "theory", "cross", "+-sem", "theory", "z", "paper_sup", "paper_x");
  for (const auto& c : cells) {
    std::printf("%9.4g %8lld | %10.5f %10.5f %10.5f | %10.5f %10.5f %10.5f %6.2f | %10.5f %10.5f\n",
                c.setting.sigma_w2, static_cast<long long>(c.setting.n_align), c.supervised.mean,
                c.supervised.sem, c.theory_supervised, c.cross.mean, c.cross.sem, c.theory_cross,
                c.cross.sem > 0 ? (c.cross.mean - c.theory_cross) / c.cross.sem : 0.0,
                c.paper_supervised, c.paper_cross);
  }
  std::printf("\ncrossover n_align (alignment beats supervision above it):\n");
  std::printf("%9s | %12s %12s %12s\n", "sigma_w2", "measured", "exact", "paper_rule");
  for (const auto& x : xs) {
    std::printf("%9.4g | %11.1f%s %12.1f %12.1f\n", x.sigma_w2, x.measured, x.below_grid ? "<" : " ",
                x.exact, x.paper);
  }
}

void print_weak(const std::vector<WeakCell>& cells, const WeakFinding& f) {
  std::printf("\nweak alignment: target error of w1 W^ with W^ fit from S sets of N pairs\n");
  std::printf("%7s %7s | %10s %10s | %10s %10s | %10s\n", "N", "S", "centroid", "+-sem", "pairing",
              "+-sem", "strong_thy");
  for (const auto& c : cells) {
    std::printf("%7lld %7lld | %10.5f %10.5f | %10.5f %10.5f | %10.5f\n", static_cast<long long>(c.n),
                static_cast<long long>(c.sets), c.centroid.mean, c.centroid.sem, c.pairing.mean,
                c.pairing.sem, c.strong_theory);
  }
  for (const auto& o : f.optima) {
    std::printf("N = %lld: best S centroid %lld%s, pairing %lld%s (sqrt(N) = %.1f)\n",
                static_cast<long long>(o.n), static_cast<long long>(o.best_sets_centroid),
                o.centroid_at_largest ? " (largest S tried)" : "",
                static_cast<long long>(o.best_sets_pairing), o.pairing_at_largest ? " (largest S tried)" : "",
                std::sqrt(static_cast<double>(o.n)));
    std::printf("        smallest S within 10%% of the best: centroid %lld, pairing %lld\n",
                static_cast<long long>(o.flat_sets_centroid), static_cast<long long>(o.flat_sets_pairing));
  }
  std::printf("slope of log S* on log N: centroid %.3f, pairing %.3f (the appendix predicts 0.5)\n",
              f.slope_centroid, f.slope_pairing);
  std::printf("slope of log S(10%%) on log N: centroid %.3f, pairing %.3f\n", f.flat_slope_centroid,
              f.flat_slope_pairing);
}

}  // namespace

int run_study_command(int argc, const char* const argv[]) {
  StudyCommandOptions o;
  if (!parse_study_command(argc, argv, o)) return 0;
  const auto comm = Communicator::world();
  if (comm.is_root()) prepare_out_dir(o);
  at::set_num_threads(static_cast<int>(o.threads));
  const auto device = resolve_device(o.device, comm.local_rank());
  const bool talk = comm.is_root() && !o.quiet;
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  nlohmann::json summary = {{"command", "study"},
                            {"out", o.out},
                            {"ranks", comm.size()},
                            {"device", device.str()},
                            {"d", o.grid.base.d},
                            {"sigma2", o.grid.base.sigma2},
                            {"n1", o.grid.base.n1},
                            {"n2", o.grid.base.n2},
                            {"condition", o.grid.base.condition},
                            {"seed", o.grid.seed}};
  std::vector<CellResult> cells;
  std::vector<Crossover> xs;
  if (o.main_study) {
    if (talk) {
      std::cerr << "croma study: " << o.grid.cells() << " cells x " << o.grid.trials << " trials ("
                << to_string(o.grid.method) << ", " << device.str() << ", " << comm.size() << " rank(s))\n";
    }
    cells = run_study(o.grid, comm, device, [&](std::int64_t done, std::int64_t total) {
      if (talk && (done == total || done % 8 == 0)) {
        std::fprintf(stderr, "  rank 0: %lld/%lld cells, %.1f s\n", static_cast<long long>(done),
                     static_cast<long long>(total), seconds());
      }
    });
    xs = find_crossovers(o.grid, cells);
    summary["study_seconds"] = seconds();
    summary["method"] = to_string(o.grid.method);
    summary["trials"] = o.grid.trials;
    summary["cells"] = o.grid.cells();
    summary["trials_per_second"] = o.grid.cells() * o.grid.trials / std::max(seconds(), 1e-9);
    double worst_z = 0.0;
    for (const auto& c : cells) {
      for (auto [m, t] : {std::pair{c.supervised, c.theory_supervised}, {c.source, c.theory_source},
                          {c.cross, c.theory_cross}}) {
        if (m.sem > 0) worst_z = std::max(worst_z, std::abs(m.mean - t) / m.sem);
      }
    }
    summary["max_abs_z_vs_theory"] = worst_z;
    nlohmann::json jx = nlohmann::json::array();
    for (const auto& x : xs) {
      jx.push_back({{"sigma_w2", x.sigma_w2},
                    {"measured", number_or_null(x.measured)},
                    {"measured_below_grid", x.below_grid},
                    {"exact", number_or_null(x.exact)},
                    {"paper_rule", number_or_null(x.paper)}});
    }
    summary["crossovers"] = jx;
  }
  std::vector<WeakCell> weak;
  WeakFinding finding;
  if (o.weak) {
    const double t0 = seconds();
    if (talk) std::cerr << "croma study: weak alignment, N in {" << o.weak_grid.n.size() << " values}, "
                        << o.weak_grid.trials << " trials per cell\n";
    weak = run_weak_study(o.weak_grid, comm, device, [&](std::int64_t done, std::int64_t total) {
      if (talk) std::fprintf(stderr, "  rank 0: weak %lld/%lld cells, %.1f s\n", static_cast<long long>(done),
                             static_cast<long long>(total), seconds());
    });
    finding = find_weak_optima(weak);
    nlohmann::json opt = nlohmann::json::array();
    for (const auto& w : finding.optima) {
      opt.push_back({{"n", w.n},
                     {"best_sets_centroid", w.best_sets_centroid},
                     {"best_sets_pairing", w.best_sets_pairing},
                     {"centroid_at_largest_s", w.centroid_at_largest},
                     {"pairing_at_largest_s", w.pairing_at_largest},
                     {"sets_within_10pct_centroid", w.flat_sets_centroid},
                     {"sets_within_10pct_pairing", w.flat_sets_pairing}});
    }
    summary["weak"] = {{"sigma_w2", o.weak_grid.sigma_w2},
                       {"trials", o.weak_grid.trials},
                       {"kmeans_iters", o.weak_grid.kmeans_iters},
                       {"optima", opt},
                       {"slope_log_s_star_vs_log_n_centroid", number_or_null(finding.slope_centroid)},
                       {"slope_log_s_star_vs_log_n_pairing", number_or_null(finding.slope_pairing)},
                       {"slope_log_s10_vs_log_n_centroid", number_or_null(finding.flat_slope_centroid)},
                       {"slope_log_s10_vs_log_n_pairing", number_or_null(finding.flat_slope_pairing)},
                       {"seconds", seconds() - t0}};
  }
  if (!comm.is_root()) return 0;
  const fs::path dir(o.out);
  if (o.main_study) {
    const auto cols = study_columns(cells);
    write_csv_atomically(dir / "study.csv", cols);
    write_hdf5_columns_atomically(dir / "study.h5", "cells", cols, summary.dump());
    print_table(cells, xs);
  }
  if (o.weak) {
    write_csv_atomically(dir / "weak.csv", weak_columns(weak));
    print_weak(weak, finding);
  }
  summary["seconds"] = seconds();
  write_text_atomically(dir / "summary.json", summary.dump(2) + "\n");
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace croma
