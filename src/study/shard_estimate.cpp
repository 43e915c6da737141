#include "croma/study/shard_estimate.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace croma {
namespace {

// Mean and the principal axes of the rows of x (double precision), largest variance first.
struct Pca {
  torch::Tensor mean, axes, variances;  // [dim], [dim, dim] (columns), [dim]
};

Pca principal_axes(const torch::Tensor& x) {
  Pca p;
  p.mean = x.mean(0);
  const auto centred = x - p.mean;
  const auto cov = centred.t().mm(centred) / static_cast<double>(std::max<std::int64_t>(1, x.size(0) - 1));
  auto [values, vectors] = torch::linalg_eigh(cov);
  p.variances = values.flip(0).clamp_min(0);
  p.axes = vectors.flip(1);
  return p;
}

// Rows projected on the first d axes and scaled to unit variance per axis.
torch::Tensor whiten(const torch::Tensor& x, const Pca& p, std::int64_t d) {
  const auto scale = p.variances.narrow(0, 0, d).clamp_min(1e-12).rsqrt();
  return (x - p.mean).mm(p.axes.narrow(1, 0, d)) * scale;
}

torch::Tensor rows(const torch::Tensor& x, const std::vector<std::int64_t>& idx) {
  return x.index_select(0, torch::tensor(idx, torch::kInt64));
}

}  // namespace

SettingEstimate estimate_setting(const CrossModalDataset& data, const ClassSplit& split,
                                 const AlignmentSetting& given, const FixedSettingFields& fixed,
                                 double variance_kept) {
  // The section 5.5 model is linear in fixed-size features.
  for (const auto* m : {&data.source, &data.target}) {
    const auto spec = m->spec();
    if (spec.kind != FeatureKind::kVector) {
      throw std::runtime_error(std::string("the estimate needs feature vectors; the ") +
                               (m == &data.source ? "source" : "target") + " modality has " + spec.describe());
    }
  }
  SettingEstimate e;
  e.setting = given;
  e.source_dim = data.source.dim();
  e.target_dim = data.target.dim();
  const std::set<std::int64_t> train(split.train.begin(), split.train.end());
  std::vector<std::int64_t> src, tgt, src_pos(static_cast<std::size_t>(data.source.size()), -1),
      tgt_pos(static_cast<std::size_t>(data.target.size()), -1);
  for (std::int64_t i = 0; i < data.source.size(); ++i) {
    if (train.count(data.source.labels[static_cast<std::size_t>(i)])) {
      src_pos[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(src.size());
      src.push_back(i);
    }
  }
  for (std::int64_t i = 0; i < data.target.size(); ++i) {
    if (train.count(data.target.labels[static_cast<std::size_t>(i)])) {
      tgt_pos[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(tgt.size());
      tgt.push_back(i);
    }
  }
  std::vector<std::int64_t> pair_src, pair_tgt;
  for (const auto& [s, t] : data.pairs) {
    const auto ps = src_pos[static_cast<std::size_t>(s)], pt = tgt_pos[static_cast<std::size_t>(t)];
    if (ps >= 0 && pt >= 0) {
      pair_src.push_back(ps);
      pair_tgt.push_back(pt);
    }
  }
  auto& s = e.setting;
  if (!fixed.n1) s.n1 = static_cast<std::int64_t>(src.size());
  if (!fixed.n_align) s.n_align = static_cast<std::int64_t>(pair_src.size());
  if (src.size() < 4 || tgt.size() < 4) {
    throw std::runtime_error("the meta-train classes hold " + std::to_string(src.size()) + " source and " +
                             std::to_string(tgt.size()) + " target items; at least 4 of each are needed");
  }

  const auto x1 = rows(data.source.features, src).to(torch::kFloat64);
  const auto x2 = rows(data.target.features, tgt).to(torch::kFloat64);
  const auto p1 = principal_axes(x1), p2 = principal_axes(x2);
  const auto total = p2.variances.sum().item<double>();
  const auto cumulative = p2.variances.cumsum(0) / std::max(total, 1e-300);
  const std::int64_t max_d = std::min(e.source_dim, e.target_dim);
  if (!fixed.d) {
    std::int64_t d = 1;
    while (d < max_d && cumulative[d - 1].item<double>() < variance_kept) ++d;
    const std::int64_t cap = std::min({s.n1, s.n2, s.n_align}) - 2;
    if (d > cap) {
      d = std::max<std::int64_t>(1, cap);
      e.d_capped = true;
    }
    s.d = d;
  }
  if (s.d > max_d) {
    throw std::runtime_error("d = " + std::to_string(s.d) + " exceeds the feature dimensions (source " +
                             std::to_string(e.source_dim) + ", target " + std::to_string(e.target_dim) + ")");
  }
  const auto d = s.d;
  e.variance_explained = cumulative[d - 1].item<double>();
  const auto z1 = whiten(x1, p1, d), z2 = whiten(x2, p2, d);

  if (!fixed.sigma_w2 || !fixed.condition) {
    const auto n_pairs = static_cast<std::int64_t>(pair_src.size());
    if (n_pairs < d + 2) {
      throw std::runtime_error("the meta-train classes have " + std::to_string(n_pairs) +
                               " strong pairs, too few to fit a " + std::to_string(d) + "x" + std::to_string(d) +
                               " alignment map; pass --sigma-w2 and --condition explicitly");
    }
    const auto a1 = rows(z1, pair_src), a2 = rows(z2, pair_tgt);
    // x1 = W x2 + η, fitted row-wise: a1 ≈ a2 Wᵀ.
    const auto wt = std::get<0>(torch::linalg_lstsq(a2, a1, c10::nullopt, c10::nullopt));
    const auto residual = a1 - a2.mm(wt);
    if (!fixed.sigma_w2) {
      s.sigma_w2 = residual.pow(2).sum().item<double>() / static_cast<double>((n_pairs - d) * d);
    }
    if (!fixed.condition) {
      const auto sv = torch::linalg_svdvals(wt);
      s.condition = std::max(1.0, sv.max().item<double>() / std::max(sv.min().item<double>(), 1e-300));
    }
  }
  if (!fixed.sigma2) {
    // One-vs-rest indicators of the meta-train classes, regressed on [z1, 1].
    const auto n = z1.size(0);
    std::vector<std::int64_t> cls;
    for (auto i : src) cls.push_back(data.source.labels[static_cast<std::size_t>(i)]);
    auto y = torch::zeros({n, static_cast<std::int64_t>(split.train.size())}, torch::kFloat64);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto k = std::find(split.train.begin(), split.train.end(), cls[static_cast<std::size_t>(i)]) - split.train.begin();
      y[i][k] = 1.0;
    }
    const auto design = torch::cat({z1, torch::ones({n, 1}, torch::kFloat64)}, 1);
    const auto coef = std::get<0>(torch::linalg_lstsq(design, y, c10::nullopt, c10::nullopt));
    const auto res = (y - design.mm(coef)).pow(2).sum().item<double>();
    const auto tot = (y - y.mean(0)).pow(2).sum().item<double>();
    const double explained = std::max(tot - res, 1e-12 * tot);
    s.sigma2 = static_cast<double>(d) * res / explained;
  }
  return e;
}

}  // namespace croma
