// The hand-derived MLP kernels against autograd on CromaModel: the same losses and the same
// gradients to float tolerance, for both alignment losses, strong and weak groups, and
// classification.
#include <gtest/gtest.h>

#include "croma/model/croma_model.h"
#include "croma/model/losses.h"
#include "croma/model/mlp_kernels.h"

namespace croma {
namespace {

ModelShape small_shape() {
  ModelShape s;
  s.source_dim = 24;
  s.target_dim = 16;
  s.hidden = 32;
  s.embed_dim = 12;
  s.classifier_hidden = 20;
  s.ways = 4;
  return s;
}

torch::Tensor copy_rows(MlpKernel& k, const torch::Tensor& x, float scale = 1.0f) {
  auto c = (x * scale).contiguous();
  std::memcpy(k.input(x.size(0)), c.data_ptr<float>(), sizeof(float) * static_cast<std::size_t>(c.numel()));
  return c;
}

void expect_close(const torch::Tensor& fused, const torch::Tensor& autograd, const char* what) {
  ASSERT_EQ(fused.sizes(), autograd.sizes()) << what;
  const double scale = autograd.abs().max().item<double>();
  EXPECT_GT(scale, 0.0) << what << ": nothing to compare";
  const double err = (fused - autograd).abs().max().item<double>();
  EXPECT_LT(err, 1e-5 * std::max(1.0, scale)) << what << ": max error " << err << " at scale " << scale;
}

struct AlignCase {
  AlignLossKind loss;
  std::vector<std::int64_t> gs, gt;
};

// Readable ctest names: "margin_strong", "infonce_weak", ...
std::string case_name(const ::testing::TestParamInfo<AlignCase>& info) {
  const bool strong = info.param.gs == info.param.gt;
  return std::string(info.param.loss == AlignLossKind::kMargin ? "margin" : "infonce") +
         (strong ? "_strong" : "_weak");
}

class AlignmentKernels : public ::testing::TestWithParam<AlignCase> {};

TEST_P(AlignmentKernels, LossAndEncoderGradientsEqualAutograd) {
  const auto& c = GetParam();
  CromaModel model(small_shape());
  torch::manual_seed(1);
  const auto params = model.initial_parameters(3);
  const auto bs = static_cast<std::int64_t>(c.gs.size()), bt = static_cast<std::int64_t>(c.gt.size());
  const auto xs = torch::randn({bs, 24}), xt = torch::randn({bt, 16});
  const auto gs = torch::tensor(c.gs, torch::kInt64), gt = torch::tensor(c.gt, torch::kInt64);
  MetaOptions o;
  o.align_loss = c.loss;
  o.margin = 0.5;  // wide enough that many hinges are active at initialisation
  o.temperature = 0.2;

  FastWeights fw(model.layout(), torch::TensorOptions());
  fw.values().copy_(params);
  const auto loss = alignment_loss(o, model.embed_source(fw, xs), model.embed_target(fw, xt), gs, gt);
  loss.backward();

  auto values = params.clone();
  auto grad = torch::full({model.numel()}, 7.0f);  // the kernels overwrite, never accumulate
  MlpKernel source(*model.mlp_layers(ModelPart::kSourceEncoder)), target(*model.mlp_layers(ModelPart::kTargetEncoder));
  source.bind(values, grad);
  target.bind(values, grad);
  copy_rows(source, xs);
  copy_rows(target, xt);
  const auto e = source.out();
  std::vector<float> zs(bs * e), zt(bt * e), ns(bs), nt(bt), dzs(bs * e), dzt(bt * e);
  normalise_rows(source.forward(), bs, e, zs.data(), ns.data());
  normalise_rows(target.forward(), bt, e, zt.data(), nt.data());
  const double fused = alignment_loss_and_grad(o, zs.data(), zt.data(), bs, bt, e, c.gs.data(), c.gt.data(),
                                               dzs.data(), dzt.data());
  normalise_rows_backward(zs.data(), ns.data(), dzs.data(), bs, e, source.output_grad());
  normalise_rows_backward(zt.data(), nt.data(), dzt.data(), bt, e, target.output_grad());
  source.backward();
  target.backward();

  EXPECT_GT(loss.item<double>(), 0.0);
  EXPECT_NEAR(fused, loss.item<double>(), 1e-5 * std::max(1.0, std::abs(loss.item<double>())));
  expect_close(slice(grad, model.encoders()), slice(fw.grad(), model.encoders()), "encoder gradients");
  EXPECT_TRUE(values.equal(params));  // forward and backward never write the weights
  EXPECT_TRUE(slice(grad, model.classifier()).eq(7.0f).all().item<bool>());  // nor outside e_s, e_t
}

INSTANTIATE_TEST_SUITE_P(
    LossesAndGroups, AlignmentKernels,
    ::testing::Values(
        // Strong pairs: one partner per anchor.
        AlignCase{AlignLossKind::kMargin, {0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7}},
        AlignCase{AlignLossKind::kInfoNce, {0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7}},
        // Weak pairs: several positives per anchor, one source row (group 9) without a
        // positive, unequal row counts.
        AlignCase{AlignLossKind::kMargin, {0, 0, 1, 2, 2, 9}, {2, 0, 1, 1, 0, 2, 3}},
        AlignCase{AlignLossKind::kInfoNce, {0, 0, 1, 2, 2, 9}, {2, 0, 1, 1, 0, 2, 3}}),
    case_name);

TEST(AlignmentKernels, NoAnchorsMeansZeroLossAndGradient) {
  MetaOptions o;
  const std::vector<float> zs = {1, 0, 0, 1}, zt = {0.6f, 0.8f, 1, 0};
  const std::vector<std::int64_t> gs = {0, 0}, gt = {0, 0};  // every pair positive: no negatives
  std::vector<float> dzs(4, 1.0f), dzt(4, 1.0f);
  EXPECT_EQ(alignment_loss_and_grad(o, zs.data(), zt.data(), 2, 2, 2, gs.data(), gt.data(), dzs.data(), dzt.data()), 0.0);
  for (float v : dzs) EXPECT_EQ(v, 0.0f);
  for (float v : dzt) EXPECT_EQ(v, 0.0f);
}

TEST(ClassifierKernel, CrossEntropyAndPhiGradientsEqualAutograd) {
  CromaModel model(small_shape());
  torch::manual_seed(2);
  const auto params = model.initial_parameters(4);
  const auto raw = torch::randn({10, 12});
  const auto z = raw / raw.norm(2, 1, true);
  const auto labels = torch::tensor(std::vector<std::int64_t>{0, 1, 2, 3, 0, 1, 2, 3, 3, 1}, torch::kInt64);

  FastWeights fw(model.layout(), torch::TensorOptions());
  fw.values().copy_(params);
  const auto loss = cross_entropy(model.classify(fw, z), labels);
  loss.backward();

  auto values = params.clone();
  auto grad = torch::zeros({model.numel()});
  MlpKernel phi(*model.mlp_layers(ModelPart::kClassifier));
  phi.bind(values, grad);
  copy_rows(phi, z, static_cast<float>(std::sqrt(12.0)));
  const float* logits = phi.forward();
  const std::vector<std::int64_t> y(labels.data_ptr<std::int64_t>(), labels.data_ptr<std::int64_t>() + 10);
  const double fused = cross_entropy_and_grad(logits, 10, 4, y.data(), phi.output_grad());
  phi.backward();

  EXPECT_NEAR(fused, loss.item<double>(), 1e-5 * std::max(1.0, loss.item<double>()));
  expect_close(slice(grad, model.classifier()), slice(fw.grad(), model.classifier()), "phi gradients");
  EXPECT_TRUE(slice(grad, model.encoders()).eq(0.0f).all().item<bool>());
}

TEST(NormaliseRows, BackwardEqualsAutogradAlsoWhereTheNormIsClamped) {
  torch::manual_seed(5);
  auto y = torch::randn({3, 5});
  y[1].zero_();  // a zero row: the norm is clamped to 1e-12
  const auto dz = torch::randn({3, 5});
  auto leaf = y.clone().requires_grad_(true);
  const auto z = leaf / leaf.norm(2, 1, true).clamp_min(1e-12);
  (z * dz).sum().backward();
  std::vector<float> zf(15), norms(3), dy(15);
  normalise_rows(y.data_ptr<float>(), 3, 5, zf.data(), norms.data());
  normalise_rows_backward(zf.data(), norms.data(), dz.contiguous().data_ptr<float>(), 3, 5, dy.data());
  expect_close(torch::from_blob(zf.data(), {3, 5}).clone(), z.detach(), "z");
  const auto got = torch::from_blob(dy.data(), {3, 5}).clone();
  // The clamped row's gradient is dz / 1e-12: compare relative to its own size.
  EXPECT_TRUE(torch::allclose(got, leaf.grad(), 1e-5, 1e-5)) << got << leaf.grad();
}

// The target path of the reconstruction baselines: e_t, normalisation, the decoder, squared
// error; the decoder's input gradient carries the loss back into e_t.
TEST(MlpKernels, ReconstructionThroughTheTargetEncoderEqualsAutograd) {
  auto shape = small_shape();
  shape.decoder = true;
  CromaModel model(shape);
  torch::manual_seed(11);
  const auto params = model.initial_parameters(5);
  const auto x = torch::randn({7, 16});
  FastWeights fw(model.layout(), torch::TensorOptions());
  fw.values().copy_(params);
  const auto loss = (model.decode(fw, model.embed_target(fw, x)) - x).pow(2).mean();
  loss.backward();

  auto values = params.clone();
  auto grad = torch::zeros({model.numel()});
  MlpKernel et(*model.mlp_layers(ModelPart::kTargetEncoder)), decoder(*model.mlp_layers(ModelPart::kDecoder));
  et.bind(values, grad);
  decoder.bind(values, grad);
  copy_rows(et, x);
  const float* y = et.forward();
  std::vector<float> z(7 * 12), norms(7), dz(7 * 12);
  normalise_rows(y, 7, 12, z.data(), norms.data());
  const float scale = static_cast<float>(std::sqrt(12.0));
  copy_rows(decoder, torch::from_blob(z.data(), {7, 12}), scale);
  const float* out = decoder.forward();
  const double fused = squared_error_and_grad(out, x.contiguous().data_ptr<float>(), 7, 16, decoder.output_grad());
  decoder.backward(true);
  for (std::size_t i = 0; i < dz.size(); ++i) dz[i] = decoder.input_grad()[i] * scale;
  normalise_rows_backward(z.data(), norms.data(), dz.data(), 7, 12, et.output_grad());
  et.backward();

  EXPECT_NEAR(fused, loss.item<double>(), 1e-5 * std::max(1.0, loss.item<double>()));
  expect_close(slice(grad, model.target_encoder()), slice(fw.grad(), model.target_encoder()), "e_t gradients");
  expect_close(slice(grad, model.decoder()), slice(fw.grad(), model.decoder()), "decoder gradients");
  EXPECT_TRUE(slice(grad, model.source_encoder()).eq(0.0f).all().item<bool>());
}

TEST(CromaModelParts, MlpLayersWhereTheyLieAndNoneForOtherParts) {
  CromaModel model(small_shape());
  const auto es = model.mlp_layers(ModelPart::kSourceEncoder);
  ASSERT_TRUE(es.has_value());
  ASSERT_EQ(es->size(), 2u);
  EXPECT_EQ((*es)[0].in, 24);
  EXPECT_EQ((*es)[0].out, 32);
  EXPECT_EQ((*es)[1].out, 12);
  EXPECT_EQ((*es)[0].weight_offset, 0);
  EXPECT_EQ((*es)[0].bias_offset, 24 * 32);
  const auto phi = model.mlp_layers(ModelPart::kClassifier);
  ASSERT_TRUE(phi.has_value());
  EXPECT_EQ(phi->front().weight_offset, model.classifier().begin);
  EXPECT_EQ(phi->back().out, 4);
  EXPECT_FALSE(model.mlp_layers(ModelPart::kDecoder).has_value());
  EXPECT_FALSE(model.mlp_layers(ModelPart::kClassHead).has_value());

  auto lstm_shape = small_shape();  // an encoder of another kind
  lstm_shape.source_input = FeatureSpec::frames(6);
  lstm_shape.source_encoder.kind = EncoderKind::kLstm;
  CromaModel lstm(lstm_shape);
  EXPECT_FALSE(lstm.mlp_layers(ModelPart::kSourceEncoder).has_value());
  EXPECT_TRUE(lstm.mlp_layers(ModelPart::kTargetEncoder).has_value());
}

}  // namespace
}  // namespace croma
