#include "croma/study/weak_alignment.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "croma/study/cell_distribution.h"
#include "croma/study/linear_gaussian.h"
#include "croma/util/rng.h"

namespace croma {

namespace {

constexpr std::uint64_t kWeakStream = 0x5741'0000'0000'0000ULL;  // "WA"

// The data of trial t depends on N only (common random numbers: at fixed N every S sees the
// same pairs, so differences between S are not sampling noise between cells); the k-means
// starts and the within-set partners depend on (N, S).
std::uint64_t data_stream(std::int64_t n) {
  return splitmix64(static_cast<std::uint64_t>(n) ^ kWeakStream) << 32;
}
std::uint64_t weak_stream(std::int64_t n, std::int64_t sets) {
  return (splitmix64(static_cast<std::uint64_t>(n) ^ kWeakStream) ^
          splitmix64(static_cast<std::uint64_t>(sets) + 0x9E37ULL))
             << 32;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

std::vector<std::int64_t> default_set_grid(std::int64_t d, std::int64_t n) {
  std::vector<std::int64_t> s;
  const double lo = static_cast<double>(d + 2), hi = static_cast<double>(n);
  const int points = 8;
  for (int i = 0; i < points; ++i) {
    const auto v = static_cast<std::int64_t>(std::llround(lo * std::pow(hi / lo, i / double(points - 1))));
    if (s.empty() || v > s.back()) s.push_back(v);
  }
  return s;
}

void validate_weak_grid(const WeakGrid& g) {
  require(g.d >= 1, "weak d = " + std::to_string(g.d) + " is invalid (must be >= 1)");
  require(g.trials >= 2, "weak trials = " + std::to_string(g.trials) + " is invalid (must be >= 2)");
  require(g.kmeans_iters >= 1, "k-means iterations must be >= 1");
  require(!g.n.empty(), "the weak-alignment N grid is empty");
  AlignmentSetting s;
  s.d = g.d;
  s.sigma2 = g.sigma2;
  s.sigma_w2 = g.sigma_w2;
  s.n1 = g.n1;
  s.n2 = g.d + 2;
  for (auto n : g.n) {
    s.n_align = n;
    validate_setting(s);
    for (auto sets : g.sets.empty() ? default_set_grid(g.d, n) : g.sets) {
      require(sets >= g.d + 2 && sets <= n,
              "weak sets S = " + std::to_string(sets) + " is invalid for N = " + std::to_string(n) +
                  " (need d + 2 <= S <= N so that the centroid fit is determined)");
    }
  }
}

namespace {

// Trials [first, first + T) of a cell; each draws from its own stream, so chunking is invisible.
void simulate_weak_chunk(const WeakGrid& g, std::int64_t n, std::int64_t sets, std::int64_t first,
                         std::int64_t T, const torch::Device& device, WeakTrialErrors& out) {
  const std::int64_t d = g.d, n1 = g.n1;
  const std::uint64_t base = weak_stream(n, sets);
  const auto offset = static_cast<std::uint64_t>(first);
  // Per trial: u1 | GU | G1, eps1 | X2, H.
  const std::int64_t per = d + d * d + n1 * d + n1 + 2 * n * d;
  TrialBlocks blocks(trial_normals(T, per, g.seed, data_stream(n) + offset).to(device));
  auto init = torch::empty({T, sets}, torch::kLong);
  std::int64_t* pi = init.data_ptr<std::int64_t>();
  at::parallel_for(0, T, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      Rng starts(g.seed, base + offset + static_cast<std::uint64_t>(t));
      const auto pick = starts.sample_without_replacement(n, sets);  // k-means starts at data points
      std::copy(pick.begin(), pick.end(), pi + t * sets);
    }
  });
  const auto u1 = blocks.take(1, d);
  const auto gu = blocks.take(d, d);
  const auto teacher = make_teacher(u1, gu, torch::Tensor(), 1.0);  // W orthogonal
  const auto g1 = blocks.take(n1, d);
  const auto eps1 = blocks.take(n1, 1);
  const auto x2 = blocks.take(n, d);
  const auto h = blocks.take(n, d);
  const auto w1 = fit_source(teacher, g1, eps1, std::sqrt(g.sigma2));
  const auto x1 = at::matmul(x2, teacher.w.transpose(-2, -1)) + std::sqrt(g.sigma_w2) * h;  // the (hidden) pairs

  // Batched Lloyd iterations on the target inputs.
  auto centres = at::gather(x2, 1, init.to(device).unsqueeze(-1).expand({T, sets, d}));
  torch::Tensor labels;
  const auto x2_norm = x2.pow(2).sum(-1, true);
  for (std::int64_t it = 0; it <= g.kmeans_iters; ++it) {
    const auto dist = x2_norm - 2.0 * at::matmul(x2, centres.transpose(-2, -1)) +
                      centres.pow(2).sum(-1).unsqueeze(1);
    labels = dist.argmin(-1);  // [T, N]
    if (it == g.kmeans_iters) break;
    const auto idx = labels.unsqueeze(-1).expand({T, n, d});
    const auto sums = torch::zeros({T, sets, d}, x2.options()).scatter_add_(1, idx, x2);
    const auto counts = torch::zeros({T, sets}, x2.options()).scatter_add_(1, labels, torch::ones({T, n}, x2.options()));
    const auto keep = (counts == 0).unsqueeze(-1);
    centres = at::where(keep, centres, sums / counts.clamp_min(1.0).unsqueeze(-1));
  }
  const auto idx = labels.unsqueeze(-1).expand({T, n, d});
  const auto counts = torch::zeros({T, sets}, x2.options()).scatter_add_(1, labels, torch::ones({T, n}, x2.options()));
  const auto root = counts.clamp_min(1.0).sqrt().unsqueeze(-1);
  const auto r2 = torch::zeros({T, sets, d}, x2.options()).scatter_add_(1, idx, x2) / root;
  const auto r1 = torch::zeros({T, sets, d}, x2.options()).scatter_add_(1, idx, x1) / root;
  const auto r2t = r2.transpose(-2, -1);
  // Centroid estimator: (R2'R2)^-1 R2'R1 = weighted LS of source means on target means.
  const auto gram_c = at::matmul(r2t, r2);
  const auto w_centroid = at::linalg_solve(gram_c, at::matmul(r2t, r1)).transpose(-2, -1);

  // Pairing estimator: a random partner inside the set (a within-set permutation per trial).
  const auto labels_cpu = labels.to(torch::kCPU).contiguous();
  auto perm = torch::empty({T, n}, torch::kLong);
  const std::int64_t* pl = labels_cpu.data_ptr<std::int64_t>();
  std::int64_t* pp = perm.data_ptr<std::int64_t>();
  at::parallel_for(0, T, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      Rng rng(g.seed, (base ^ 0xA5A5'0000ULL) + offset + static_cast<std::uint64_t>(t));
      std::vector<std::vector<std::int64_t>> members(static_cast<std::size_t>(sets));
      for (std::int64_t i = 0; i < n; ++i) members[static_cast<std::size_t>(pl[t * n + i])].push_back(i);
      for (auto& m : members) {
        auto shuffled = m;
        rng.shuffle(shuffled);
        for (std::size_t k = 0; k < m.size(); ++k) pp[t * n + m[k]] = shuffled[k];
      }
    }
  });
  const auto x1p = at::gather(x1, 1, perm.to(device).unsqueeze(-1).expand({T, n, d}));
  const auto w_pairing = least_squares(x2, x1p);

  append_squared_norms(at::matmul(w1, w_centroid) - teacher.u2, out.centroid);
  append_squared_norms(at::matmul(w1, w_pairing) - teacher.u2, out.pairing);
}

}  // namespace

WeakTrialErrors simulate_weak_cell(const WeakGrid& g, std::int64_t n, std::int64_t sets,
                                   const torch::Device& device) {
  torch::NoGradGuard no_grad;
  // The k-means distance matrix is [trials, N, S]: bound it to ~16M elements per chunk.
  const std::int64_t per_trial = std::max<std::int64_t>({n * sets, n * g.d * 4, 1});
  const std::int64_t chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(g.trials, (std::int64_t{1} << 24) / per_trial));
  WeakTrialErrors out;
  for (std::int64_t first = 0; first < g.trials; first += chunk) {
    simulate_weak_chunk(g, n, sets, first, std::min(chunk, g.trials - first), device, out);
  }
  return out;
}

std::vector<WeakCell> run_weak_study(const WeakGrid& g, const Communicator& comm, const torch::Device& device,
                                     const std::function<void(std::int64_t, std::int64_t)>& on_cell) {
  validate_weak_grid(g);
  std::vector<std::pair<std::int64_t, std::int64_t>> keys;
  for (auto n : g.n) {
    for (auto s : g.sets.empty() ? default_set_grid(g.d, n) : g.sets) keys.emplace_back(n, s);
  }
  const auto cells = static_cast<std::int64_t>(keys.size());
  const auto stats = distribute_cells(cells, 2, comm, [&](std::int64_t c) {
    const auto [n, s] = keys[static_cast<std::size_t>(c)];
    const auto e = simulate_weak_cell(g, n, s, device);
    return std::vector<ErrorStats>{summarize(e.centroid), summarize(e.pairing)};
  }, on_cell);
  std::vector<WeakCell> out;
  for (std::int64_t c = 0; c < cells; ++c) {
    WeakCell w;
    w.n = keys[static_cast<std::size_t>(c)].first;
    w.sets = keys[static_cast<std::size_t>(c)].second;
    w.trials = g.trials;
    w.centroid = stats[static_cast<std::size_t>(2 * c)];
    w.pairing = stats[static_cast<std::size_t>(2 * c + 1)];
    AlignmentSetting s;
    s.d = g.d; s.sigma2 = g.sigma2; s.sigma_w2 = g.sigma_w2; s.n1 = g.n1; s.n2 = g.d + 2; s.n_align = w.n;
    w.strong_theory = cross_modal_error(s);
    out.push_back(w);
  }
  return out;
}

namespace {
double log_slope(const std::vector<std::pair<double, double>>& xy) {
  if (xy.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  double mx = 0, my = 0;
  for (auto [x, y] : xy) { mx += std::log(x); my += std::log(y); }
  mx /= xy.size(); my /= xy.size();
  double sxy = 0, sxx = 0;
  for (auto [x, y] : xy) {
    sxy += (std::log(x) - mx) * (std::log(y) - my);
    sxx += (std::log(x) - mx) * (std::log(x) - mx);
  }
  return sxx > 0 ? sxy / sxx : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

WeakFinding find_weak_optima(const std::vector<WeakCell>& cells) {
  std::map<std::int64_t, std::vector<const WeakCell*>> by_n;
  for (const auto& c : cells) by_n[c.n].push_back(&c);
  WeakFinding f;
  std::vector<std::pair<double, double>> xc, xp, fc, fp;
  for (const auto& [n, list] : by_n) {
    WeakOptimum o;
    o.n = n;
    const WeakCell* bc = list.front();
    const WeakCell* bp = list.front();
    std::int64_t largest = 0;
    for (const auto* c : list) {
      if (c->centroid.mean < bc->centroid.mean) bc = c;
      if (c->pairing.mean < bp->pairing.mean) bp = c;
      largest = std::max(largest, c->sets);
    }
    o.best_sets_centroid = bc->sets;
    o.best_sets_pairing = bp->sets;
    o.centroid_at_largest = bc->sets == largest;
    o.pairing_at_largest = bp->sets == largest;
    o.flat_sets_centroid = o.flat_sets_pairing = largest;
    for (const auto* c : list) {
      if (c->centroid.mean <= 1.1 * bc->centroid.mean) o.flat_sets_centroid = std::min(o.flat_sets_centroid, c->sets);
      if (c->pairing.mean <= 1.1 * bp->pairing.mean) o.flat_sets_pairing = std::min(o.flat_sets_pairing, c->sets);
    }
    fc.emplace_back(double(n), double(o.flat_sets_centroid));
    fp.emplace_back(double(n), double(o.flat_sets_pairing));
    xc.emplace_back(double(n), double(bc->sets));
    xp.emplace_back(double(n), double(bp->sets));
    f.optima.push_back(o);
  }
  f.slope_centroid = log_slope(xc);
  f.slope_pairing = log_slope(xp);
  f.flat_slope_centroid = log_slope(fc);
  f.flat_slope_pairing = log_slope(fp);
  return f;
}

}  // namespace croma
