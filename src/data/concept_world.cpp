#include "croma/data/concept_world.h"

#include <cmath>

#include "croma/util/rng.h"

namespace croma {
namespace {

torch::Tensor normal_tensor(Rng& rng, std::int64_t rows, std::int64_t cols, double stddev) {
  auto t = torch::empty({rows, cols}, torch::kFloat32);
  auto* p = t.data_ptr<float>();
  for (std::int64_t i = 0; i < rows * cols; ++i) p[i] = static_cast<float>(stddev * rng.normal());
  return t;
}

// A fixed random rendering network from [latent ; nuisance] to one modality's features.
struct Renderer {
  torch::Tensor w1, b1, w2;
  Renderer(Rng& rng, std::int64_t in_dim, std::int64_t out_dim) {
    const std::int64_t hidden = 2 * out_dim;
    w1 = normal_tensor(rng, in_dim, hidden, 1.0 / std::sqrt(static_cast<double>(in_dim)));
    b1 = normal_tensor(rng, 1, hidden, 0.3);
    w2 = normal_tensor(rng, hidden, out_dim, 1.0 / std::sqrt(static_cast<double>(hidden)));
  }
  torch::Tensor render(const torch::Tensor& latent) const {
    return torch::tanh(latent.matmul(w1) + b1).matmul(w2);
  }
};

torch::Tensor unit_variance(const torch::Tensor& x) {
  return (x - x.mean(0, true)) / (x.std(0, true, true) + 1e-6);
}

}  // namespace

CrossModalDataset generate_concept_world(const WorldOptions& o, std::uint64_t seed) {
  Rng rng(seed, streams::kWorld);
  const std::int64_t n = o.concepts * o.samples_per_concept;
  const std::int64_t clusters = o.concepts * o.clusters_per_concept;

  const auto centres = normal_tensor(rng, o.concepts, o.latent_dim, o.concept_spread);
  const auto offsets = normal_tensor(rng, clusters, o.latent_dim, o.cluster_spread);
  const Renderer source_concept(rng, o.latent_dim, o.source_dim);
  const Renderer target_concept(rng, o.latent_dim, o.target_dim);
  const Renderer source_nuisance(rng, std::max<std::int64_t>(o.nuisance_dim, 1), o.source_dim);
  const Renderer target_nuisance(rng, std::max<std::int64_t>(o.nuisance_dim, 1), o.target_dim);

  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  std::vector<std::int64_t> cluster_ids(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto c = i / o.samples_per_concept;
    labels[static_cast<std::size_t>(i)] = c;
    cluster_ids[static_cast<std::size_t>(i)] =
        c * o.clusters_per_concept +
        static_cast<std::int64_t>(rng.uniform_index(static_cast<std::uint64_t>(o.clusters_per_concept)));
  }
  auto label_index = torch::tensor(labels, torch::kInt64);
  auto cluster_index = torch::tensor(cluster_ids, torch::kInt64);
  auto z = centres.index_select(0, label_index) + offsets.index_select(0, cluster_index) +
           normal_tensor(rng, n, o.latent_dim, o.within_spread);
  auto z_target = z + normal_tensor(rng, n, o.latent_dim, o.pair_noise);

  CrossModalDataset data;
  data.name = "concept-world";
  data.num_classes = o.concepts;
  data.num_clusters = clusters;
  const auto render = [&](const Renderer& concept_net, const Renderer& nuisance_net,
                          const torch::Tensor& latent, std::int64_t dim) {
    // Concept and nuisance parts each scaled to unit variance per feature before mixing, so
    // nuisance_scale is the nuisance-to-concept amplitude ratio in feature space.
    auto x = unit_variance(concept_net.render(latent));
    if (o.nuisance_dim > 0) {
      x += o.nuisance_scale * unit_variance(nuisance_net.render(
                                  normal_tensor(rng, n, o.nuisance_dim, 1.0)));
    }
    return x + normal_tensor(rng, n, dim, o.noise);
  };
  data.source.features = render(source_concept, source_nuisance, z, o.source_dim);
  data.target.features = render(target_concept, target_nuisance, z_target, o.target_dim);
  // Standardise each feature so both modalities reach the encoders on a similar scale,
  // as a real pipeline's preprocessing would.
  for (auto* f : {&data.source.features, &data.target.features}) {
    *f = ((*f - f->mean(0, true)) / (f->std(0, true, true) + 1e-6)).contiguous();
  }
  data.source.labels = labels;
  data.target.labels = labels;
  data.source.clusters = cluster_ids;
  data.target.clusters = cluster_ids;
  data.pairs.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) data.pairs.emplace_back(i, i);
  data.check_consistent();
  return data;
}

}  // namespace croma
