#include <gtest/gtest.h>

#include <cmath>

#include "croma/model/croma_model.h"

namespace croma {
namespace {

TEST(CromaModel, LayoutIsEncodersThenClassifierInContiguousRanges) {
  CromaModel m({10, 6, 8, 4, 5, 3});
  // e_s: 8x10 + 8 + 4x8 + 4 = 124; e_t: 8x6 + 8 + 4x8 + 4 = 92; phi: 5x4 + 5 + 3x5 + 3 = 43
  EXPECT_EQ(m.source_encoder().size(), 124);
  EXPECT_EQ(m.target_encoder().size(), 92);
  EXPECT_EQ(m.classifier().size(), 43);
  EXPECT_EQ(m.numel(), 124 + 92 + 43);
  EXPECT_EQ(m.target_encoder().begin, m.source_encoder().end);
  EXPECT_EQ(m.classifier().begin, m.target_encoder().end);
  EXPECT_EQ(m.target_and_classifier().size(), 92 + 43);
  EXPECT_EQ(m.layout().entry(0).name, "e_s/layer0/weight");
  EXPECT_EQ(m.layout().entries().back().name, "phi/layer1/bias");
}

TEST(CromaModel, SharedEncoderPutsTheDiscriminatorBetweenTheMapAndTheEncoder) {
  ModelShape shape{10, 6, 8, 4, 5, 3};
  shape.shared_encoder = true;
  shape.domain_head = true;
  CromaModel m(shape);
  // map_t: 10x6 + 10 = 70; domain: 5x4 + 5 + 2x5 + 2 = 37; e_s: 8x10 + 8 + 4x8 + 4 = 124
  EXPECT_EQ(m.target_encoder().begin, 0);
  EXPECT_EQ(m.target_encoder().size(), 70);
  EXPECT_EQ(m.domain_head().begin, 70);
  EXPECT_EQ(m.domain_head().size(), 37);
  EXPECT_EQ(m.source_encoder().begin, 107);
  EXPECT_EQ(m.source_encoder().size(), 124);
  EXPECT_EQ(m.classifier().begin, 231);
  EXPECT_EQ(m.target_map_and_domain().end, 107);
  EXPECT_EQ(m.target_map_domain_and_encoder().end, 231);
  EXPECT_EQ(m.source_and_classifier().begin, 107);
  EXPECT_EQ(m.layout().entry(2).name, "domain/layer0/weight");
  EXPECT_THROW(CromaModel({10, 6, 8, 4, 5, 3}).target_map_and_domain(), std::logic_error);
}

TEST(CromaModel, ClassHeadReadsPhisHiddenLayerAndSitsAfterPhi) {
  ModelShape shape{10, 6, 8, 4, 5, 3};
  shape.source_classes = 7;
  CromaModel m(shape);
  // class head: 7x5 + 7 = 42, right after phi (124 + 92 + 43 = 259)
  EXPECT_EQ(m.classifier_with_class_head().begin, m.classifier().begin);
  EXPECT_EQ(m.classifier_with_class_head().end, 259 + 42);
  EXPECT_EQ(m.numel(), 259 + 42);
  const auto p = m.initial_parameters(1);
  auto z = torch::randn({3, 4});
  z = z / z.norm(2, 1, true);
  const auto logits = m.classify_source_classes(p, z);
  ASSERT_EQ(logits.size(1), 7);
  // Written out: relu(W0 * sqrt(4) z + b0), then the head.
  const auto& L = m.layout();
  // entries: e_s 0-3, e_t 4-7, phi 8-11, class head 12-13
  const auto h = torch::relu(torch::addmm(L.view(p, 9), z * 2.0, L.view(p, 8).t()));
  const auto expected = torch::addmm(L.view(p, 13), h, L.view(p, 12).t());
  EXPECT_EQ(L.entry(12).name, "class_head/layer0/weight");
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-6));
  EXPECT_THROW(CromaModel({10, 6, 8, 4, 5, 3}).classify_source_classes(p, z), std::logic_error);
}

TEST(CromaModel, InitialisationFollowsTheFanInBoundAndTheSeed) {
  CromaModel m({100, 6, 50, 4, 5, 3});
  const auto p = m.initial_parameters(1);
  EXPECT_TRUE(p.equal(m.initial_parameters(1)));
  EXPECT_FALSE(p.equal(m.initial_parameters(2)));
  const auto w = m.layout().view(p, 0);  // e_s/layer0/weight, fan-in 100
  EXPECT_LE(w.abs().max().item<double>(), 0.1);
  EXPECT_GT(w.abs().max().item<double>(), 0.09);
  const auto b = m.layout().view(p, 1);  // its bias shares the bound
  EXPECT_LE(b.abs().max().item<double>(), 0.1);
}

TEST(CromaModel, EmbeddingsAreUnitLengthAndLogitsHaveOnePerWay) {
  CromaModel m({10, 6, 8, 4, 5, 3});
  const auto p = m.initial_parameters(1);
  const auto zs = m.embed_source(p, torch::randn({7, 10}));
  const auto zt = m.embed_target(p, torch::randn({7, 6}));
  EXPECT_TRUE(torch::allclose(zs.norm(2, 1), torch::ones({7}), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(zt.norm(2, 1), torch::ones({7}), 1e-5, 1e-6));
  EXPECT_EQ(m.classify(p, zt).sizes(), (std::vector<std::int64_t>{7, 3}));
}

TEST(CromaModel, ForwardIsTheMlpWrittenOut) {
  CromaModel m({3, 2, 4, 2, 3, 2});
  const auto p = m.initial_parameters(5);
  const auto x = torch::randn({2, 3});
  const auto& L = m.layout();
  auto h = torch::relu(x.matmul(L.view(p, 0).t()) + L.view(p, 1));
  auto z = h.matmul(L.view(p, 2).t()) + L.view(p, 3);
  z = z / z.norm(2, 1, true);
  EXPECT_TRUE(torch::allclose(m.embed_source(p, x), z, 1e-5, 1e-6));
}

}  // namespace
}  // namespace croma

namespace croma {
namespace {

TEST(FastWeights, BackwardWritesTheSameGradientIntoTheFlatBuffer) {
  CromaModel m({10, 6, 8, 4, 5, 3});
  const auto p = m.initial_parameters(2);
  const auto xs = torch::randn({5, 10});
  const auto xt = torch::randn({5, 6});
  auto loss_of = [&](const Weights& w) {
    return m.classify(w, m.embed_target(w, xt)).pow(2).mean() + m.embed_source(w, xs).sum();
  };
  // Reference: layers as views of one flat tensor that requires grad.
  auto flat = p.clone().requires_grad_(true);
  loss_of(flat).backward();
  FastWeights fast(m.layout(), torch::TensorOptions());
  {
    at::NoGradGuard no_grad;
    fast.values().copy_(p);
  }
  loss_of(fast).backward();
  EXPECT_TRUE(torch::allclose(fast.grad(), flat.grad(), 1e-6, 1e-7));
  // Accumulates like .grad does, and zero_grad() clears the whole buffer.
  loss_of(fast).backward();
  EXPECT_TRUE(torch::allclose(fast.grad(), 2 * flat.grad(), 1e-6, 1e-7));
  fast.zero_grad();
  EXPECT_EQ(fast.grad().abs().sum().item<double>(), 0.0);
  // The leaves are views of the values: an in-place update shows through.
  {
    at::NoGradGuard no_grad;
    fast.values().add_(1.0);
  }
  EXPECT_TRUE(fast.leaves()[0].equal(m.layout().view(p, 0) + 1.0));
}


TEST(FastWeightBatch, EveryCopyComputesAndIsDifferentiatedAsItWouldBeAlone) {
  // Three different parameter copies, each with its own inputs, on the separate-encoder and
  // the shared-encoder target paths: the batched forward pass equals each copy's own, and the
  // gradient of the summed losses is each copy's own gradient.
  for (bool shared : {false, true}) {
    ModelShape shape{10, 6, 8, 4, 5, 3};
    shape.shared_encoder = shared;
    shape.domain_head = shared;
    CromaModel m(shape);
    ASSERT_TRUE(m.target_path_batches());
    const std::int64_t copies = 3;
    FastWeightBatch batch(m.layout(), copies, torch::TensorOptions());
    for (std::int64_t c = 0; c < copies; ++c) batch.assign_copy(c, m.initial_parameters(10 + c));
    const auto x = torch::randn({copies, 7, 6});
    const auto logits = m.classify(batch, m.embed_target(batch, x));
    ASSERT_EQ(logits.sizes(), (std::vector<std::int64_t>{copies, 7, 3}));
    logits.pow(2).sum().backward();
    for (std::int64_t c = 0; c < copies; ++c) {
      FastWeights one(m.layout(), torch::TensorOptions());
      {
        at::NoGradGuard no_grad;
        one.values().copy_(m.initial_parameters(10 + c));
      }
      const auto alone = m.classify(one, m.embed_target(one, x[c]));
      EXPECT_TRUE(torch::allclose(logits[c], alone, 1e-5, 1e-6)) << "shared " << shared << " copy " << c;
      alone.pow(2).sum().backward();
      EXPECT_TRUE(batch.values_of(c).equal(m.initial_parameters(10 + c)));
      EXPECT_TRUE(torch::allclose(batch.grad_of(c), one.grad(), 1e-5, 1e-6)) << "shared " << shared << " copy " << c;
      EXPECT_GT(one.grad().abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(FastWeightBatch, LeavesAreContiguousAndRangesOfWholeEntriesAreOneStretch) {
  // Contiguous leaves and gradients are what autograd accumulates into in place without
  // complaint; a range of whole entries covers every copy of them, nothing else.
  CromaModel m({10, 6, 8, 4, 5, 3});
  const std::int64_t copies = 4;
  FastWeightBatch batch(m.layout(), copies, torch::TensorOptions());
  for (const auto& leaf : batch.leaves()) {
    EXPECT_TRUE(leaf.is_contiguous());
    EXPECT_TRUE(leaf.grad().is_contiguous());
    EXPECT_EQ(leaf.size(0), copies);
  }
  const auto phi = m.classifier();
  batch.assign(m.initial_parameters(3));
  EXPECT_EQ(batch.range_values(phi).numel(), copies * phi.size());
  {
    at::NoGradGuard no_grad;
    batch.range_values(phi).add_(1.0);  // moves phi of every copy, nothing else
  }
  const auto start = m.initial_parameters(3);
  for (std::int64_t c = 0; c < copies; ++c) {
    const auto moved = batch.values_of(c) - start;
    EXPECT_NEAR(slice(moved, phi).min().item<double>(), 1.0, 1e-6);
    EXPECT_EQ(slice(moved, m.encoders()).abs().max().item<double>(), 0.0);
  }
  EXPECT_THROW(batch.range_values({phi.begin + 1, phi.end}), std::invalid_argument);
}

}  // namespace
}  // namespace croma
