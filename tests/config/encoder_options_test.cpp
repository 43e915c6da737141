// Encoder and world-form options: one value for both modalities or source,target; clear
// errors; kept in config.json so eval and resume rebuild the same model.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "croma/config/options.h"
#include "test_support.h"

namespace croma {
namespace {

TrainOptions parse(std::vector<std::string> args) { return testing::parse_train_args(std::move(args)); }
std::string error_of(std::vector<std::string> args) { return testing::train_option_error(std::move(args)); }

TEST(EncoderOptions, DefaultsAreMlpsOverVectors) {
  const auto o = parse({});
  EXPECT_EQ(o.model.source_encoder.kind, EncoderKind::kMlp);
  EXPECT_EQ(o.model.target_encoder.kind, EncoderKind::kMlp);
  EXPECT_EQ(o.world.source_form, "vector");
  EXPECT_EQ(o.world.target_form, "vector");
}

TEST(EncoderOptions, OneValueServesBothModalitiesAndAPairSplitsThem) {
  const auto o = parse({"--source-encoder", "lstm", "--target-encoder", "cnn", "--lstm-hidden", "256",
                        "--lstm-layers", "1,2", "--lstm-directions", "bi,uni", "--seq-pool", "max,last",
                        "--token-embedding", "32", "--cnn-channels", "8,16,32/4,8"});
  const auto& s = o.model.source_encoder;
  const auto& t = o.model.target_encoder;
  EXPECT_EQ(s.kind, EncoderKind::kLstm);
  EXPECT_EQ(t.kind, EncoderKind::kCnn);
  EXPECT_EQ(s.lstm_hidden, 256);
  EXPECT_EQ(t.lstm_hidden, 256);
  EXPECT_EQ(s.lstm_layers, 1);
  EXPECT_EQ(t.lstm_layers, 2);
  EXPECT_TRUE(s.bidirectional);
  EXPECT_FALSE(t.bidirectional);
  EXPECT_EQ(s.pool, SequencePool::kMax);
  EXPECT_EQ(t.pool, SequencePool::kLast);
  EXPECT_EQ(s.token_embedding, 32);
  EXPECT_EQ(s.cnn_channels, (std::vector<std::int64_t>{8, 16, 32}));
  EXPECT_EQ(t.cnn_channels, (std::vector<std::int64_t>{4, 8}));
}

TEST(EncoderOptions, BadValuesNameTheOption) {
  EXPECT_EQ(error_of({"--source-encoder", "rnn"}),
            "invalid value for --source-encoder: 'rnn' (allowed: mlp, pool, lstm, cnn)");
  EXPECT_EQ(error_of({"--seq-pool", "sum"}), "invalid value for --seq-pool: 'sum' (allowed: last, mean, max)");
  EXPECT_EQ(error_of({"--lstm-directions", "two"}),
            "invalid value for --lstm-directions: 'two' (allowed: uni, bi)");
  EXPECT_EQ(error_of({"--lstm-layers", "0"}), "invalid value for --lstm-layers: 0 (must be >= 1)");
  EXPECT_EQ(error_of({"--lstm-hidden", "8,0"}), "invalid value for --lstm-hidden: 0 (must be >= 1)");
  EXPECT_EQ(error_of({"--lstm-hidden", "8,x"}), "invalid value for --lstm-hidden: 'x' (expected an integer)");
  EXPECT_EQ(error_of({"--lstm-layers", "1,2,3"}).find("invalid value for --lstm-layers: '1,2,3'"), 0u);
  EXPECT_EQ(error_of({"--cnn-channels", "8,0"}), "invalid value for --cnn-channels: 0 (must be >= 1)");
  EXPECT_EQ(error_of({"--cnn-channels", "8/"}).find("invalid value for --cnn-channels: '8/'"), 0u);
  EXPECT_EQ(error_of({"--target-form", "video"}),
            "invalid value for --target-form: 'video' (allowed: vector, frames, tokens, image)");
  EXPECT_EQ(error_of({"--min-frames", "5", "--max-frames", "4"}),
            "invalid value for --max-frames: 4 (must be >= 5)");
}

TEST(EncoderOptions, ConfigFileSetsThem) {
  const std::string path = ::testing::TempDir() + "croma_encoder_options_test.cfg";
  {
    std::ofstream out(path);
    out << "target-form = frames\ntarget-encoder = lstm\nlstm-layers = 2\n";
  }
  const auto o = parse({"--config", path});
  EXPECT_EQ(o.world.target_form, "frames");
  EXPECT_EQ(o.model.target_encoder.kind, EncoderKind::kLstm);
  EXPECT_EQ(o.model.target_encoder.lstm_layers, 2);
  std::remove(path.c_str());
}

TEST(EncoderOptions, JsonRoundTripAndOlderConfigsWithoutThem) {
  const auto o = parse({"--source-form", "tokens", "--source-encoder", "lstm", "--lstm-directions", "bi",
                        "--target-form", "image", "--target-encoder", "cnn", "--cnn-channels", "4,8/6"});
  nlohmann::json j = o;
  EXPECT_EQ(j["model"]["target_encoder"]["cnn_channels"], (std::vector<std::int64_t>{6}));
  TrainOptions back;
  from_json(j, back);
  EXPECT_EQ(nlohmann::json(back), j);
  EXPECT_EQ(back.model.source_encoder.kind, EncoderKind::kLstm);
  EXPECT_TRUE(back.model.source_encoder.bidirectional);
  EXPECT_EQ(back.world.target_form, "image");
  // A config.json written before encoders were selectable reads as MLPs over vectors.
  j["model"].erase("source_encoder");
  j["model"].erase("target_encoder");
  j["data"].erase("source_form");
  j["data"].erase("target_form");
  from_json(j, back);
  EXPECT_EQ(back.model.source_encoder.kind, EncoderKind::kMlp);
  EXPECT_EQ(back.world.source_form, "vector");
  j["model"]["source_encoder"] = {{"kind", "gru"}};
  EXPECT_THROW(from_json(j, back), OptionError);
}

}  // namespace
}  // namespace croma
