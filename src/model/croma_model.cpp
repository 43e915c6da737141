#include "croma/model/croma_model.h"

#include <cmath>
#include <stdexcept>

#include "croma/util/rng.h"

namespace croma {

CromaModel::CromaModel(const ModelShape& s) : shape_(s) {
  if (s.source_dim < 1 || s.target_dim < 1 || s.hidden < 1 || s.embed_dim < 1 ||
      s.classifier_hidden < 1 || s.ways < 2) {
    throw std::invalid_argument("CromaModel: every dimension must be positive and ways >= 2");
  }
  source_ = add_mlp("e_s", {s.source_dim, s.hidden, s.embed_dim});
  target_begin_ = layout_.numel();
  target_ = add_mlp("e_t", {s.target_dim, s.hidden, s.embed_dim});
  classifier_begin_ = layout_.numel();
  classifier_ = add_mlp("phi", {s.embed_dim, s.classifier_hidden, s.ways});
}

CromaModel::Mlp CromaModel::add_mlp(const std::string& prefix, const std::vector<std::int64_t>& dims) {
  Mlp mlp;
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    const auto base = prefix + "/layer" + std::to_string(l);
    mlp.weights.push_back(layout_.add(base + "/weight", {dims[l + 1], dims[l]}));
    mlp.biases.push_back(layout_.add(base + "/bias", {dims[l + 1]}));
  }
  return mlp;
}

torch::Tensor CromaModel::run_mlp(const Mlp& mlp, const torch::Tensor& flat, torch::Tensor x) const {
  for (std::size_t l = 0; l < mlp.weights.size(); ++l) {
    x = torch::addmm(layout_.view(flat, mlp.biases[l]), x, layout_.view(flat, mlp.weights[l]).t());
    if (l + 1 < mlp.weights.size()) x = torch::relu(x);
  }
  return x;
}

torch::Tensor CromaModel::initial_parameters(std::uint64_t seed) const {
  Rng rng(seed, streams::kInit);
  auto flat = torch::empty({layout_.numel()}, torch::kFloat32);
  auto* p = flat.data_ptr<float>();
  for (std::size_t i = 0; i < layout_.entries().size(); ++i) {
    const auto& e = layout_.entries()[i];
    // Weights are [out, in]; a bias directly follows its weight and shares its fan-in.
    const auto& weight = e.shape.size() == 2 ? e : layout_.entries()[i - 1];
    const double bound = 1.0 / std::sqrt(static_cast<double>(weight.shape[1]));
    for (std::int64_t j = 0; j < e.numel; ++j) {
      p[e.offset + j] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
    }
  }
  return flat;
}

torch::Tensor CromaModel::embed_source(const torch::Tensor& flat, const torch::Tensor& x) const {
  auto z = run_mlp(source_, flat, x);
  return z / z.norm(2, 1, true).clamp_min(1e-12);
}

torch::Tensor CromaModel::embed_target(const torch::Tensor& flat, const torch::Tensor& x) const {
  auto z = run_mlp(target_, flat, x);
  return z / z.norm(2, 1, true).clamp_min(1e-12);
}

torch::Tensor CromaModel::classify(const torch::Tensor& flat, const torch::Tensor& embedding) const {
  // Unit vectors have coordinates of size ~1/sqrt(d); rescale them to ~1, the input scale
  // phi's initialisation and learning rate assume.
  return run_mlp(classifier_, flat, embedding * std::sqrt(static_cast<double>(shape_.embed_dim)));
}

}  // namespace croma
