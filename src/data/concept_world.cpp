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

// Presents standardised item vectors [n, d] in another form, from a stream of its own (so the
// vectors, and every vector world, stay what they were). Every form carries the vector's
// information spread out: over time steps for sequences, over space for images.
void present(ModalityData& m, const std::string& form, const WorldOptions& o, std::uint64_t seed,
             std::uint64_t stream) {
  if (form == "vector") return;
  Rng rng(seed, stream);
  const auto x = m.features;
  const auto n = x.size(0), d = x.size(1);
  if (form == "frames" || form == "tokens") {
    // Step t of every item reads the vector through projection t mod K, with K projections
    // of `width` rows that together cover all d dimensions: a sequence of at least K steps
    // holds the whole vector, but only an encoder that knows the order of its steps can put it
    // back together (a bag of frames mixes the projections). Each step adds its own noise.
    const auto width = form == "frames" ? o.frame_dim : o.vocab;
    const auto k = form == "frames" ? (d + width - 1) / width : std::int64_t{4};
    const auto projections = normal_tensor(rng, k * width, d, 1.0 / std::sqrt(static_cast<double>(d)))
                                 .view({k, width, d});
    const auto views = torch::einsum("pwd,nd->npw", {projections, x});  // [n, K, width]
    std::vector<std::int64_t> lengths(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      lengths[static_cast<std::size_t>(i)] =
          o.min_frames + static_cast<std::int64_t>(rng.uniform_index(static_cast<std::uint64_t>(o.max_frames - o.min_frames + 1)));
    }
    const auto length_tensor = torch::tensor(lengths, torch::kInt64);
    const auto which = torch::arange(o.max_frames, torch::kInt64).remainder(k);  // [T]
    auto seq = views.index_select(1, which);  // [n, T, width]
    seq = seq + normal_tensor(rng, n * o.max_frames, width, 0.3).view({n, o.max_frames, width});
    const auto valid = sequence_mask(length_tensor, o.max_frames);
    if (form == "frames") {
      m.features = seq.masked_fill(valid.logical_not().unsqueeze(2), 0.0).contiguous();
    } else {
      // A token is the arg-max of a noisy projection: a few bits of the vector per step.
      m.features = seq.argmax(2).masked_fill(valid.logical_not(), 0).contiguous();
      m.vocab = o.vocab;
    }
    m.lengths = length_tensor;
    return;
  }
  // image: the vector drawn as a half-resolution pattern, upsampled, then shifted cyclically
  // by a random offset per item, so that where a pattern sits carries no information.
  const auto side = o.image_size, half = (o.image_size + 1) / 2, c = o.image_channels;
  const auto pattern = normal_tensor(rng, c * half * half, d, 1.0 / std::sqrt(static_cast<double>(d)));
  auto img = x.matmul(pattern.t()).view({n, c, half, half});
  img = img.repeat_interleave(2, 2).repeat_interleave(2, 3).narrow(2, 0, side).narrow(3, 0, side).contiguous();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto dy = static_cast<std::int64_t>(rng.uniform_index(static_cast<std::uint64_t>(side)));
    const auto dx = static_cast<std::int64_t>(rng.uniform_index(static_cast<std::uint64_t>(side)));
    img[i] = img[i].roll({dy, dx}, {1, 2});
  }
  m.features = (img + normal_tensor(rng, n * c * side, side, 0.3).view({n, c, side, side})).contiguous();
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
  if (o.classes_per_cluster > 1) {
    // Weak clusters coarser than the classes: consecutive class ids in groups of K. The items
    // themselves are drawn as above (sub-concepts and all), so nothing but the weak ids changes.
    for (std::int64_t i = 0; i < n; ++i) {
      cluster_ids[static_cast<std::size_t>(i)] = labels[static_cast<std::size_t>(i)] / o.classes_per_cluster;
    }
    data.num_clusters = (o.concepts + o.classes_per_cluster - 1) / o.classes_per_cluster;
  }
  data.source.clusters = cluster_ids;
  data.target.clusters = cluster_ids;
  data.pairs.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) data.pairs.emplace_back(i, i);
  present(data.source, o.source_form, o, seed, streams::kWorld + 1);
  present(data.target, o.target_form, o, seed, streams::kWorld + 2);
  data.check_consistent();
  return data;
}

}  // namespace croma
