// Sequence and image encoders: padding never matters, shapes, gradients reach every
// parameter, and the flat-buffer machinery (Reptile, checkpoints) needs nothing new.
#include <gtest/gtest.h>

#include <filesystem>

#include "croma/meta/experiment.h"
#include "croma/model/checkpoint.h"
#include "croma/meta/meta_trainer.h"
#include "croma/model/croma_model.h"
#include "test_support.h"

namespace croma {
namespace {

struct Built {
  ParamLayout layout;
  std::vector<ParamInit> init;
  std::shared_ptr<const Encoder> encoder;
  torch::Tensor params;
};

std::unique_ptr<Built> build(const FeatureSpec& input, const EncoderOptions& options, std::int64_t out = 5) {
  auto b = std::make_unique<Built>();
  LayoutBuilder builder(b->layout, b->init);
  b->encoder = make_encoder(builder, "e", input, options, 7, out);
  torch::manual_seed(3);
  b->params = torch::randn({b->layout.numel()}) * 0.3;
  return b;
}

EncoderOptions lstm(bool bidirectional, std::int64_t layers, SequencePool pool) {
  EncoderOptions o;
  o.kind = EncoderKind::kLstm;
  o.lstm_hidden = 6;
  o.lstm_layers = layers;
  o.bidirectional = bidirectional;
  o.pool = pool;
  o.token_embedding = 4;
  return o;
}

EncoderOptions pooling(SequencePool pool) {
  EncoderOptions o;
  o.kind = EncoderKind::kPool;
  o.pool = pool;
  o.token_embedding = 4;
  return o;
}

// Three sequences of lengths 5, 2, 4, padded to `steps` with `pad` (frames) or token 1.
FeatureBatch sequences(const FeatureSpec& input, std::int64_t steps, double pad) {
  torch::manual_seed(11);
  const auto lengths = torch::tensor(std::vector<std::int64_t>{5, 2, 4});
  const auto valid = sequence_mask(lengths, steps);
  if (input.kind == FeatureKind::kTokens) {
    auto ids = torch::randint(input.vocab, {3, 5}, torch::kInt64);
    auto padded = torch::ones({3, steps}, torch::kInt64);
    padded.narrow(1, 0, 5).copy_(ids);
    return {padded.masked_fill(valid.logical_not(), 1), lengths};
  }
  auto frames = torch::randn({3, 5, input.dim});
  auto padded = torch::full({3, steps, input.dim}, pad);
  padded.narrow(1, 0, 5).copy_(frames);
  return {padded.masked_fill(valid.logical_not().unsqueeze(2), pad), lengths};
}

struct SequenceCase {
  const char* name;
  FeatureSpec input;
  EncoderOptions options;
};

std::vector<SequenceCase> sequence_cases() {
  const auto frames = FeatureSpec::frames(3);
  const auto tokens = FeatureSpec::tokens(9);
  return {
      {"lstm-last", frames, lstm(false, 1, SequencePool::kLast)},
      {"lstm-mean", frames, lstm(false, 2, SequencePool::kMean)},
      {"lstm-max", frames, lstm(false, 1, SequencePool::kMax)},
      {"bilstm-last", frames, lstm(true, 2, SequencePool::kLast)},
      {"bilstm-max-tokens", tokens, lstm(true, 1, SequencePool::kMax)},
      {"lstm-last-tokens", tokens, lstm(false, 2, SequencePool::kLast)},
      {"pool-mean", frames, pooling(SequencePool::kMean)},
      {"pool-max-tokens", tokens, pooling(SequencePool::kMax)},
  };
}

TEST(Encoder, SequenceOutputIgnoresPaddingAndBatchMates) {
  for (const auto& c : sequence_cases()) {
    SCOPED_TRACE(c.name);
    const auto b = build(c.input, c.options);
    const auto run = [&](const FeatureBatch& x) { return b->encoder->forward(b->layout, b->params, x); };
    const auto tight = run(sequences(c.input, 5, 0.0));
    ASSERT_EQ(tight.sizes(), (std::vector<std::int64_t>{3, 5}));
    // More padding, and padding of any value (even huge), changes nothing.
    EXPECT_TRUE(torch::allclose(run(sequences(c.input, 9, 0.0)), tight, 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(run(sequences(c.input, 12, 1e6)), tight, 1e-5, 1e-6));
    // Each row equals the same sequence encoded alone with no padding at all.
    const auto batch = sequences(c.input, 5, 0.0);
    for (std::int64_t i = 0; i < 3; ++i) {
      const auto len = batch.lengths()[i].item<std::int64_t>();
      const FeatureBatch alone(batch.values().narrow(0, i, 1).narrow(1, 0, len), torch::tensor({len}));
      EXPECT_TRUE(torch::allclose(run(alone), tight.narrow(0, i, 1), 1e-5, 1e-6)) << "row " << i;
    }
    // Padding that did count would have moved the output: the short row differs when it is
    // read as a full-length sequence.
    const FeatureBatch unmasked(sequences(c.input, 5, 0.0).values());
    EXPECT_FALSE(torch::allclose(run(unmasked).narrow(0, 1, 1), tight.narrow(0, 1, 1), 1e-4, 1e-5));
  }
}

TEST(Encoder, CnnOutputShapeAndRowsIndependentOfTheirBatch) {
  EncoderOptions o;
  o.kind = EncoderKind::kCnn;
  o.cnn_channels = {4, 6, 8};
  for (const auto& input : {FeatureSpec::image(3, 8, 10), FeatureSpec::image(1, 1, 12)}) {
    SCOPED_TRACE(input.describe());
    const auto b = build(input, o, 5);
    const auto x = torch::randn({4, input.dim, input.height, input.width});
    const auto y = b->encoder->forward(b->layout, b->params, x);
    EXPECT_EQ(y.sizes(), (std::vector<std::int64_t>{4, 5}));
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
    // Rows are independent (no batch statistics).
    EXPECT_TRUE(torch::allclose(b->encoder->forward(b->layout, b->params, x.narrow(0, 2, 1)), y.narrow(0, 2, 1),
                                1e-5, 1e-6));
  }
}

TEST(Encoder, WrongInputForTheKindIsAnOptionError) {
  EncoderOptions o;
  o.kind = EncoderKind::kLstm;
  EXPECT_THROW(check_encoder_input("target", FeatureSpec::vector(4), o), OptionError);
  o.kind = EncoderKind::kCnn;
  EXPECT_THROW(check_encoder_input("target", FeatureSpec::frames(4), o), OptionError);
  o.kind = EncoderKind::kMlp;
  try {
    check_encoder_input("source", FeatureSpec::frames(40), o);
    FAIL() << "no error";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("--source-encoder mlp"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("40-dim frames"), std::string::npos) << e.what();
  }
  o.kind = EncoderKind::kPool;
  o.pool = SequencePool::kLast;
  EXPECT_THROW(check_encoder_input("source", FeatureSpec::frames(4), o), OptionError);
  EXPECT_NO_THROW(check_encoder_input("source", FeatureSpec::image(1, 4, 4),
                                      [] { EncoderOptions c; c.kind = EncoderKind::kCnn; return c; }()));
}

// A model with the given encoders over the given inputs, and a batch of each input.
ModelShape shape_with(const FeatureSpec& s_in, const EncoderOptions& s_enc, const FeatureSpec& t_in,
                      const EncoderOptions& t_enc) {
  ModelShape shape{0, 0, 8, 4, 6, 3};
  shape.source_input = s_in;
  shape.target_input = t_in;
  shape.source_encoder = s_enc;
  shape.target_encoder = t_enc;
  return shape;
}

FeatureBatch batch_of(const FeatureSpec& in) {
  switch (in.kind) {
    case FeatureKind::kVector: return torch::randn({3, in.dim});
    case FeatureKind::kImage: return torch::randn({3, in.dim, in.height, in.width});
    default: return sequences(in, 6, 0.0);
  }
}

TEST(Encoder, GradientReachesEveryParameterOfEveryEncoderKind) {
  EncoderOptions cnn;
  cnn.kind = EncoderKind::kCnn;
  cnn.cnn_channels = {3, 5};
  const std::vector<std::pair<FeatureSpec, EncoderOptions>> kinds = {
      {FeatureSpec::vector(5), EncoderOptions()},
      {FeatureSpec::frames(3), lstm(true, 2, SequencePool::kLast)},
      {FeatureSpec::tokens(9), lstm(false, 1, SequencePool::kMean)},
      {FeatureSpec::frames(3), pooling(SequencePool::kMax)},
      {FeatureSpec::image(2, 6, 6), cnn}};
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const auto& [s_in, s_enc] = kinds[i];
    const auto& [t_in, t_enc] = kinds[(i + 1) % kinds.size()];
    SCOPED_TRACE(s_in.describe() + " -> " + t_in.describe());
    CromaModel m(shape_with(s_in, s_enc, t_in, t_enc));
    FastWeights fast(m.layout(), torch::TensorOptions());
    {
      at::NoGradGuard no_grad;
      fast.values().copy_(m.initial_parameters(4));
    }
    torch::manual_seed(5);
    const auto zs = m.embed_source(fast, batch_of(s_in));
    const auto zt = m.embed_target(fast, batch_of(t_in));
    EXPECT_EQ(zs.sizes(), (std::vector<std::int64_t>{3, 4}));
    EXPECT_EQ(zt.sizes(), (std::vector<std::int64_t>{3, 4}));
    EXPECT_TRUE(torch::allclose(zt.norm(2, 1), torch::ones({3}), 1e-5, 1e-6));
    (m.classify(fast, zs).pow(2).sum() + m.classify(fast, zt).sin().sum() + (zs * zt).sum()).backward();
    for (std::size_t e = 0; e < m.layout().entries().size(); ++e) {
      EXPECT_GT(m.layout().view(fast.grad(), e).abs().sum().item<double>(), 0.0)
          << m.layout().entry(e).name << " got no gradient";
    }
    // Parameters of the two encoders fill their ranges exactly.
    EXPECT_EQ(m.source_encoder().begin, 0);
    EXPECT_EQ(m.target_encoder().begin, m.source_encoder().end);
    EXPECT_EQ(m.classifier().begin, m.target_encoder().end);
  }
}

TEST(Encoder, InitialisationFollowsEachEntrysRule) {
  auto t_enc = lstm(false, 1, SequencePool::kLast);
  t_enc.lstm_hidden = 25;
  CromaModel m(shape_with(FeatureSpec::vector(100), EncoderOptions(), FeatureSpec::tokens(50), t_enc));
  const auto p = m.initial_parameters(1);
  for (std::size_t e = 0; e < m.layout().entries().size(); ++e) {
    const auto& entry = m.layout().entry(e);
    const auto max = m.layout().view(p, e).abs().max().item<double>();
    if (entry.name == "e_s/layer0/weight") EXPECT_LE(max, 0.1);                  // 1/sqrt(100)
    if (entry.name.find("/lstm/") != std::string::npos) EXPECT_LE(max, 0.2);     // 1/sqrt(25)
    if (entry.name == "e_t/embedding") EXPECT_GT(max, 2.0);                      // N(0, 1), 3200 draws
  }
}

// ---- through meta-training and checkpoints --------------------------------------------

struct FormCase {
  const char* source_form;
  EncoderKind source;
  const char* target_form;
  EncoderKind target;
};

TrainOptions options_for(const FormCase& c) {
  auto o = testing::tiny_options();
  o.world.source_form = c.source_form;
  o.world.target_form = c.target_form;
  o.world.max_frames = 7;
  o.world.min_frames = 2;
  o.world.frame_dim = 4;
  o.world.vocab = 12;
  o.world.image_size = 6;
  o.model.source_encoder.kind = c.source;
  o.model.target_encoder.kind = c.target;
  for (auto* e : {&o.model.source_encoder, &o.model.target_encoder}) {
    e->lstm_hidden = 8;
    e->token_embedding = 6;
    e->cnn_channels = {4, 6};
    e->bidirectional = true;
  }
  return o;
}

const FormCase kForms[] = {{"frames", EncoderKind::kLstm, "image", EncoderKind::kCnn},
                           {"tokens", EncoderKind::kLstm, "frames", EncoderKind::kPool},
                           {"tokens", EncoderKind::kPool, "tokens", EncoderKind::kLstm},
                           {"vector", EncoderKind::kMlp, "frames", EncoderKind::kLstm}};

TEST(Encoder, ReptileStepMovesEveryEncoderExactlyByEpsilonTimesTheDelta) {
  for (const auto& c : kForms) {
    SCOPED_TRACE(std::string(c.source_form) + " -> " + c.target_form);
    auto o = options_for(c);
    Experiment exp(o);
    const auto start = exp.model().initial_parameters(o.seed);
    const auto comm = Communicator::self();
    auto move = [&](double epsilon) {
      o.meta.meta_lr = epsilon;
      MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
      trainer.set_meta_parameters(start);
      trainer.step();
      return trainer.meta_parameters() - start;
    };
    const auto small = move(0.01), large = move(0.02);
    const double size = small.abs().max().item<double>();
    EXPECT_GT(size, 1e-5);
    EXPECT_LT((large - 2 * small).abs().max().item<double>(), 1e-3 * size);
    for (std::size_t e = 0; e < exp.model().layout().entries().size(); ++e) {
      const auto& entry = exp.model().layout().entry(e);
      if (entry.name.rfind("e_", 0) != 0) continue;
      EXPECT_GT(exp.model().layout().view(small, e).abs().max().item<double>(), 0.0)
          << entry.name << " did not move";
    }
  }
}

TEST(Encoder, CheckpointRoundTripIsExactForEveryEncoderKind) {
  const auto dir = std::filesystem::temp_directory_path() / ("croma-enc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const auto& c : kForms) {
    SCOPED_TRACE(std::string(c.source_form) + " -> " + c.target_form);
    const auto o = options_for(c);
    Experiment exp(o);
    const auto params = exp.model().initial_parameters(9);
    const auto path = (dir / "ck.h5").string();
    write_checkpoint(path, exp.model().layout(), {params, 3, "{}"});
    const auto back = read_checkpoint(path, exp.model().layout());
    EXPECT_TRUE(back.parameters.equal(params));
    // The restored parameters embed like the originals.
    const auto x = gather_rows(exp.data().target.batch(), {0, 1, 2});
    EXPECT_TRUE(exp.model().embed_target(back.parameters, x).equal(exp.model().embed_target(params, x)));
    // Another encoder configuration is refused rather than misread.
    auto other = o;
    other.model.target_encoder.lstm_hidden = 9;
    other.model.target_encoder.cnn_channels = {4, 7};
    other.model.target_encoder.kind = c.target == EncoderKind::kLstm ? EncoderKind::kPool : c.target;
    if (c.target == EncoderKind::kPool) other.model.target_encoder.kind = EncoderKind::kLstm;
    Experiment changed(other);
    EXPECT_THROW(read_checkpoint(path, changed.model().layout()), std::runtime_error);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace croma
