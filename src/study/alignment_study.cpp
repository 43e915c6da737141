#include "croma/study/alignment_study.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "croma/study/cell_distribution.h"
#include "croma/study/linear_gaussian.h"
#include "croma/study/wishart.h"
#include "croma/util/rng.h"

namespace croma {

namespace {

constexpr std::uint64_t kStudyStream = 0x5354'0000'0000'0000ULL;  // "ST"
// Elements of one batched tensor per chunk of trials: bounds memory for large d and n.
constexpr std::int64_t kChunkElements = std::int64_t{1} << 23;

torch::TensorOptions cpu_f64() { return torch::TensorOptions().dtype(torch::kFloat64); }

std::int64_t chunk_trials(std::int64_t per_trial, std::int64_t trials) {
  return std::max<std::int64_t>(1, std::min<std::int64_t>(trials, kChunkElements / std::max<std::int64_t>(per_trial, 1)));
}

// ---- sufficient-statistics route ------------------------------------------------------------

void simulate_chunk_stats(const AlignmentSetting& s, std::int64_t first, std::int64_t count,
                          std::uint64_t seed, std::uint64_t stream, const torch::Device& device,
                          TrialErrors& out) {
  const std::int64_t d = s.d;
  const bool align_noise = s.sigma_w2 > 0.0;
  auto l2 = torch::empty({count, d, d}, cpu_f64());
  auto l1 = torch::empty({count, d, d}, cpu_f64());
  auto la = align_noise ? torch::empty({count, d, d}, cpu_f64()) : torch::Tensor();
  auto z = torch::empty({count, 3, d}, cpu_f64());   // z2, z1, xi
  auto u1 = torch::empty({count, d}, cpu_f64());
  double* pl2 = l2.data_ptr<double>();
  double* pl1 = l1.data_ptr<double>();
  double* pla = align_noise ? la.data_ptr<double>() : nullptr;
  double* pz = z.data_ptr<double>();
  double* pu = u1.data_ptr<double>();
  // Trials write disjoint memory from their own streams: any thread split gives the same bits.
  at::parallel_for(0, count, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      Rng rng(seed, stream + static_cast<std::uint64_t>(first + t));
      bartlett_factor(rng, d, s.n2, pl2 + t * d * d);
      fill_normal(rng, pz + t * 3 * d, d);
      bartlett_factor(rng, d, s.n1, pl1 + t * d * d);
      fill_normal(rng, pz + t * 3 * d + d, d);
      fill_normal(rng, pu + t * d, d);
      if (align_noise) {
        bartlett_factor(rng, d, s.n_align, pla + t * d * d);
        fill_normal(rng, pz + t * 3 * d + 2 * d, d);
      }
    }
  });
  const auto zd = z.to(device).unsqueeze(-1);  // [T, 3, d, 1]
  const double sigma = std::sqrt(s.sigma2);
  // e = sigma L'^-1 z: the fit's error vector (supervised in target space; source mapped by W).
  const auto e2 = sigma * at::linalg_solve_triangular(l2.to(device).transpose(-2, -1), zd.select(1, 0), true);
  const auto e1 = sigma * at::linalg_solve_triangular(l1.to(device).transpose(-2, -1), zd.select(1, 1), true);
  append_squared_norms(e2, out.supervised);
  append_squared_norms(e1, out.source);
  if (!align_noise) {
    append_squared_norms(e1, out.cross);
    return;
  }
  // ||w1||^2 = ||u1 + e1 S^-1||^2 in W's singular basis (the rotations of W are Haar and
  // independent of the data, so they drop out of every error's law).
  const auto sv = torch::tensor(singular_values(d, s.condition), cpu_f64()).to(device);
  const auto w1 = u1.to(device) + e1.squeeze(-1) / sv;
  const auto w1_norm = w1.pow(2).sum(1).sqrt().view({count, 1, 1});
  // w1 (W^ - W) = sigma_w (w1 Z) La^-1 with Z standard normal: law ||w1|| La'^-1 xi.
  const auto f = at::linalg_solve_triangular(la.to(device).transpose(-2, -1), zd.select(1, 2), true);
  append_squared_norms(e1 + std::sqrt(s.sigma_w2) * w1_norm * f, out.cross);
}

// ---- direct simulation ---------------------------------------------------------------------

void simulate_chunk_direct(const AlignmentSetting& s, std::int64_t first, std::int64_t count,
                           std::uint64_t seed, std::uint64_t stream, const torch::Device& device,
                           TrialErrors& out) {
  const std::int64_t d = s.d, n1 = s.n1, n2 = s.n2, na = s.n_align;
  // Per trial, in this order: u1 | GU, GV (W's rotations) | X2, eps2 | G1, eps1 | Xa, H.
  const std::int64_t per = d + 2 * d * d + (n2 * d + n2) + (n1 * d + n1) + 2 * na * d;
  TrialBlocks blocks(trial_normals(count, per, seed, stream + static_cast<std::uint64_t>(first)).to(device));
  const auto u1 = blocks.take(1, d);  // [T, 1, d] row vectors
  const auto gu = blocks.take(d, d);
  const auto gv = blocks.take(d, d);
  const auto x2 = blocks.take(n2, d);
  const auto eps2 = blocks.take(n2, 1);
  const auto g1 = blocks.take(n1, d);
  const auto eps1 = blocks.take(n1, 1);
  const auto xa = blocks.take(na, d);
  const auto h = blocks.take(na, d);
  const double sigma = std::sqrt(s.sigma2);
  const auto teacher = make_teacher(u1, gu, gv, s.condition);

  // Supervised: least squares on (x2, y2 = u2.x2 + eps).
  append_squared_norms(fit_teacher(x2, teacher.u2, eps2, sigma) - teacher.u2, out.supervised);

  // Source: x1 = W x2 (rows: G W'), y1 = u1.x1 + eps; its error measured over x1 = W x2.
  const auto w1 = fit_source(teacher, g1, eps1, sigma);
  append_squared_norms(at::matmul(w1 - u1, teacher.w), out.source);

  // Alignment: pairs x1 = W x2 + eta; W^' = (Xa'Xa)^-1 Xa' X1a.
  const auto x1a = at::matmul(xa, teacher.w.transpose(-2, -1)) + std::sqrt(s.sigma_w2) * h;
  append_squared_norms(at::matmul(w1, least_squares(xa, x1a)) - teacher.u2, out.cross);
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

StudyMethod parse_study_method(const std::string& text) {
  if (text == "stats") return StudyMethod::kStatistics;
  if (text == "direct") return StudyMethod::kDirect;
  throw std::invalid_argument("unknown study method '" + text + "' (allowed: stats, direct)");
}

std::string to_string(StudyMethod m) { return m == StudyMethod::kStatistics ? "stats" : "direct"; }

AlignmentSetting StudyGrid::cell(std::int64_t c) const {
  AlignmentSetting s = base;
  const auto na = static_cast<std::int64_t>(n_align.size());
  s.sigma_w2 = sigma_w2[static_cast<std::size_t>(c / na)];
  s.n_align = n_align[static_cast<std::size_t>(c % na)];
  return s;
}

StudyGrid default_study_grid() {
  StudyGrid g;
  g.base.d = 20;
  g.base.sigma2 = 1.0;
  g.base.n1 = 250;
  g.base.n2 = 40;
  g.n_align = {25, 30, 40, 50, 70, 100, 150, 200, 300, 500, 1000, 2000, 5000, 10000, 30000, 100000};
  g.sigma_w2 = {0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0};
  return g;
}

void validate_grid(const StudyGrid& g) {
  require(!g.n_align.empty(), "the n_align grid is empty");
  require(!g.sigma_w2.empty(), "the sigma_w2 grid is empty");
  require(g.trials >= 2, "trials = " + std::to_string(g.trials) + " is invalid (must be >= 2 for a standard error)");
  for (std::size_t i = 1; i < g.n_align.size(); ++i) {
    require(g.n_align[i] > g.n_align[i - 1], "the n_align grid must be strictly increasing");
  }
  for (std::size_t i = 1; i < g.sigma_w2.size(); ++i) {
    require(g.sigma_w2[i] > g.sigma_w2[i - 1], "the sigma_w2 grid must be strictly increasing");
  }
  for (std::int64_t c = 0; c < g.cells(); ++c) validate_setting(g.cell(c));
}

ErrorStats summarize(const std::vector<double>& v) {
  ErrorStats r;
  if (v.empty()) return r;
  double sum = 0.0;
  for (double x : v) sum += x;
  r.mean = sum / static_cast<double>(v.size());
  double ss = 0.0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.std = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
  r.sem = r.std / std::sqrt(static_cast<double>(v.size()));
  return r;
}

std::uint64_t cell_stream(std::int64_t n_align, double sigma_w2) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &sigma_w2, sizeof bits);
  // Trials of a cell use stream + t; 2^32 apart keeps cells from overlapping.
  const std::uint64_t key = splitmix64(static_cast<std::uint64_t>(n_align)) ^ splitmix64(bits ^ kStudyStream);
  return (key << 32) ^ kStudyStream;
}

TrialErrors simulate_cell(const AlignmentSetting& s, std::int64_t trials, std::uint64_t seed,
                          StudyMethod method, const torch::Device& device) {
  validate_setting(s);
  TrialErrors out;
  const std::uint64_t stream = cell_stream(s.n_align, s.sigma_w2);
  const std::int64_t per = method == StudyMethod::kStatistics
                               ? s.d * s.d
                               : (s.n1 + s.n2 + 2 * s.n_align + 2 * s.d + 2) * s.d;
  const std::int64_t chunk = chunk_trials(per, trials);
  torch::NoGradGuard no_grad;
  for (std::int64_t first = 0; first < trials; first += chunk) {
    const std::int64_t count = std::min(chunk, trials - first);
    if (method == StudyMethod::kStatistics) {
      simulate_chunk_stats(s, first, count, seed, stream, device, out);
    } else {
      simulate_chunk_direct(s, first, count, seed, stream, device, out);
    }
  }
  return out;
}

CellResult summarize_cell(const AlignmentSetting& s, std::int64_t trials, std::uint64_t seed,
                          const TrialErrors& e) {
  CellResult r;
  r.setting = s;
  r.trials = trials;
  r.seed = seed;
  r.supervised = summarize(e.supervised);
  r.source = summarize(e.source);
  r.cross = summarize(e.cross);
  r.theory_supervised = supervised_error(s);
  r.theory_source = source_error(s);
  r.theory_cross = cross_modal_error(s);
  r.paper_supervised = paper_supervised_error(s);
  r.paper_cross = paper_cross_modal_error(s);
  return r;
}

std::vector<CellResult> run_study(const StudyGrid& g, const Communicator& comm,
                                  const torch::Device& device,
                                  const std::function<void(std::int64_t, std::int64_t)>& on_cell) {
  validate_grid(g);
  const std::int64_t cells = g.cells();
  const auto stats = distribute_cells(cells, 3, comm, [&](std::int64_t c) {
    const auto s = g.cell(c);
    const auto r = summarize_cell(s, g.trials, g.seed, simulate_cell(s, g.trials, g.seed, g.method, device));
    return std::vector<ErrorStats>{r.supervised, r.source, r.cross};
  }, on_cell);
  std::vector<CellResult> out;
  for (std::int64_t c = 0; c < cells; ++c) {
    CellResult r = summarize_cell(g.cell(c), g.trials, g.seed, TrialErrors{});
    const auto* cell = stats.data() + 3 * c;
    r.supervised = cell[0];
    r.source = cell[1];
    r.cross = cell[2];
    out.push_back(r);
  }
  return out;
}

std::vector<Crossover> find_crossovers(const StudyGrid& g, const std::vector<CellResult>& cells) {
  std::vector<Crossover> out;
  const auto na = g.n_align.size();
  for (std::size_t k = 0; k < g.sigma_w2.size(); ++k) {
    Crossover x;
    x.sigma_w2 = g.sigma_w2[k];
    AlignmentSetting s = g.base;
    s.sigma_w2 = x.sigma_w2;
    x.exact = exact_crossover_n_align(s);
    x.paper = paper_crossover_n_align(s);
    x.measured = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t i = 0; i < na; ++i) {
      const auto& c = cells[k * na + i];
      const double gap = c.cross.mean - c.supervised.mean;
      if (gap >= 0.0) continue;
      if (i == 0) {
        x.measured = static_cast<double>(c.setting.n_align);
        x.below_grid = true;
      } else {
        const auto& p = cells[k * na + i - 1];
        const double g0 = p.cross.mean - p.supervised.mean;  // >= 0
        const double l0 = std::log(static_cast<double>(p.setting.n_align));
        const double l1 = std::log(static_cast<double>(c.setting.n_align));
        x.measured = std::exp(l0 + (l1 - l0) * g0 / (g0 - gap));
      }
      break;
    }
    out.push_back(x);
  }
  return out;
}

}  // namespace croma
