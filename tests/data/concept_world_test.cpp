#include <gtest/gtest.h>

#include "croma/data/concept_world.h"
#include "test_support.h"

namespace croma {
namespace {

TEST(ConceptWorld, HasTheRequestedShapesLabelsAndPairs) {
  const auto o = testing::tiny_options().world;
  const auto data = generate_concept_world(o, 3);
  const auto n = o.concepts * o.samples_per_concept;
  EXPECT_EQ(data.source.features.sizes(), (std::vector<std::int64_t>{n, o.source_dim}));
  EXPECT_EQ(data.target.features.sizes(), (std::vector<std::int64_t>{n, o.target_dim}));
  EXPECT_EQ(data.num_classes, o.concepts);
  EXPECT_EQ(data.num_clusters, o.concepts * o.clusters_per_concept);
  ASSERT_EQ(static_cast<std::int64_t>(data.pairs.size()), n);
  for (const auto& [s, t] : data.pairs) {
    EXPECT_EQ(data.source.labels[static_cast<std::size_t>(s)], data.target.labels[static_cast<std::size_t>(t)]);
    EXPECT_EQ(data.source.clusters[static_cast<std::size_t>(s)], data.target.clusters[static_cast<std::size_t>(t)]);
  }
  // Clusters nest inside classes.
  for (std::int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(data.source.clusters[static_cast<std::size_t>(i)] / o.clusters_per_concept,
              data.source.labels[static_cast<std::size_t>(i)]);
  }
  EXPECT_TRUE(torch::isfinite(data.source.features).all().item<bool>());
  // Standardised features.
  EXPECT_LT(data.target.features.mean(0).abs().max().item<double>(), 1e-4);
  EXPECT_NEAR(data.target.features.std(0).mean().item<double>(), 1.0, 1e-3);
}

TEST(ConceptWorld, IsDeterministicInTheSeed) {
  const auto o = testing::tiny_options().world;
  const auto a = generate_concept_world(o, 11);
  const auto b = generate_concept_world(o, 11);
  const auto c = generate_concept_world(o, 12);
  EXPECT_TRUE(a.source.features.equal(b.source.features));
  EXPECT_TRUE(a.target.features.equal(b.target.features));
  EXPECT_EQ(a.source.clusters, b.source.clusters);
  EXPECT_FALSE(a.target.features.equal(c.target.features));
}

TEST(ConceptWorld, PairNoiseWeakensThePairing) {
  auto o = testing::tiny_options().world;
  o.nuisance_dim = 0;
  o.noise = 0;
  const auto clean = generate_concept_world(o, 5);
  o.pair_noise = 1.0;
  const auto noisy = generate_concept_world(o, 5);
  // Same source (pair noise only touches the target's copy of the latent), different target.
  EXPECT_TRUE(clean.source.features.equal(noisy.source.features));
  EXPECT_FALSE(clean.target.features.equal(noisy.target.features));
}

}  // namespace
}  // namespace croma
