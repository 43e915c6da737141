#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "croma/config/options.h"
#include "test_support.h"

namespace croma {
namespace {

TrainOptions parse(std::vector<std::string> args) { return testing::parse_train_args(std::move(args)); }
std::string error_of(std::vector<std::string> args) { return testing::train_option_error(std::move(args)); }

TEST(TrainOptions, DefaultsFollowThePaperWhereItSpeaks) {
  const auto o = parse({});
  EXPECT_EQ(o.meta.ways, 5);
  EXPECT_DOUBLE_EQ(o.meta.margin, 0.1);   // Tables 5-7
  EXPECT_DOUBLE_EQ(o.meta.meta_lr, 0.1);  // SGD meta lr 0.1
  EXPECT_DOUBLE_EQ(o.meta.inner_lr, 1e-2);  // deliberately above the paper's 1e-3: docs/algorithm.md
  EXPECT_EQ(o.eval.tasks, 600);  // the few-shot standard: >= 600 episodes per cell
  EXPECT_EQ(o.eval.repeats, 1);
  EXPECT_EQ(o.meta.pairs, PairKind::kStrong);
  EXPECT_EQ(o.meta.align_loss, AlignLossKind::kMargin);
}

TEST(TrainOptions, ParsesEveryGroup) {
  const auto o = parse({"--seed", "9", "--concepts", "30", "--hidden", "64", "--shots", "2",
                        "--pairs", "weak", "--align-loss", "infonce", "--device", "cuda:1",
                        "--run-dir", "/tmp/x", "--eval-shots", "1,5,10", "--tasks-per-rank", "3"});
  EXPECT_EQ(o.seed, 9u);
  EXPECT_EQ(o.world.concepts, 30);
  EXPECT_EQ(o.model.hidden, 64);
  EXPECT_EQ(o.meta.shots, 2);
  EXPECT_EQ(o.meta.pairs, PairKind::kWeak);
  EXPECT_EQ(o.meta.align_loss, AlignLossKind::kInfoNce);
  EXPECT_EQ(o.dist.device, "cuda:1");
  EXPECT_EQ(o.out.run_dir, "/tmp/x");
  EXPECT_EQ(o.eval.shots, (std::vector<std::int64_t>{1, 5, 10}));
  EXPECT_EQ(o.meta.tasks_per_rank, 3);
}

TEST(TrainOptions, BadValuesNameTheOptionAndTheAllowedRange) {
  EXPECT_EQ(error_of({"--shots", "0"}), "invalid value for --shots: 0 (must be >= 1)");
  EXPECT_EQ(error_of({"--ways", "1"}), "invalid value for --ways: 1 (must be >= 2)");
  EXPECT_EQ(error_of({"--inner-lr", "-0.1"}),
            "invalid value for --inner-lr: -0.1 (must be a finite number > 0)");
  EXPECT_EQ(error_of({"--meta-lr", "0"}), "invalid value for --meta-lr: 0 (must be a finite number > 0)");
  EXPECT_EQ(error_of({"--device", "tpu"}),
            "invalid value for --device: 'tpu' (allowed: auto, cpu, cuda, cuda:N)");
  EXPECT_EQ(error_of({"--pairs", "medium"}),
            "invalid value for --pairs: 'medium' (allowed: strong, weak)");
  EXPECT_EQ(error_of({"--align-loss", "l2"}),
            "invalid value for --align-loss: 'l2' (allowed: margin, infonce)");
  EXPECT_EQ(error_of({"--eval-shots", "1,x"}).find("invalid value for --eval-shots: '1,x'"), 0u);
  EXPECT_EQ(error_of({"--eval-shots", "0"}), "invalid value for --eval-shots: 0 (must be >= 1)");
  EXPECT_EQ(error_of({"--train-fraction", "0.7", "--val-fraction", "0.3"}).find(
                "invalid values for --train-fraction and --val-fraction"),
            0u);
  EXPECT_EQ(error_of({"--adam-beta1", "1"}), "invalid value for --adam-beta1: 1 (must be in [0, 1))");
  EXPECT_EQ(error_of({"--label-noise", "1"}), "invalid value for --label-noise: 1 (must be in [0, 1))");
  EXPECT_EQ(error_of({"--eval-label-noise", "0,1.5"}),
            "invalid value for --eval-label-noise: 1.5 (must be in [0, 1))");
  EXPECT_EQ(error_of({"--eval-label-noise", "0,x"}).find("invalid value for --eval-label-noise: '0,x'"), 0u);
  EXPECT_EQ(error_of({"--eval-repeats", "0"}), "invalid value for --eval-repeats: 0 (must be >= 1)");
}

TEST(TrainOptions, SeedsAreUnsignedAndANegativeSeedIsAnErrorNotAWrap) {
  EXPECT_EQ(error_of({"--seed", "-1"}), "invalid value for --seed: '-1' (expected an integer >= 0)");
  EXPECT_EQ(error_of({"--class-split-seed", "-3"}),
            "invalid value for --class-split-seed: '-3' (expected an integer >= 0)");
  EXPECT_EQ(error_of({"--seed", "+1"}), "invalid value for --seed: '+1' (expected an integer >= 0)");
  EXPECT_EQ(error_of({"--seed", "1.5"}), "invalid value for --seed: '1.5' (expected an integer >= 0)");
  EXPECT_EQ(error_of({"--seed", "18446744073709551616"}),
            "invalid value for --seed: '18446744073709551616' (expected an integer >= 0)");
  EXPECT_EQ(parse({"--seed", "18446744073709551615"}).seed, UINT64_MAX);
  EXPECT_EQ(parse({"--seed", "7", "--class-split-seed", "4"}).prep.class_split_seed, 4u);
  EXPECT_EQ(parse({}).seed, 1u);
}

TEST(TrainOptions, TrainingLabelNoiseBecomesTheDefaultEvaluationNoise) {
  EXPECT_EQ(parse({"--label-noise", "0.3"}).eval.label_noise, (std::vector<double>{0.3}));
  EXPECT_EQ(parse({"--label-noise", "0.3", "--eval-label-noise", "0,0.5"}).eval.label_noise,
            (std::vector<double>{0, 0.5}));
  EXPECT_EQ(parse({}).eval.label_noise, (std::vector<double>{0}));
}

TEST(TrainOptions, MalformedCommandLinesAreOptionErrors) {
  EXPECT_NE(error_of({"--no-such-option"}).find("no-such-option"), std::string::npos);
  EXPECT_NE(error_of({"--shots", "five"}).find("shots"), std::string::npos);
  EXPECT_NE(error_of({"--shots"}).find("shots"), std::string::npos);
}

TEST(TrainOptions, ConfigFileSetsValuesAndTheCommandLineWins) {
  const std::string path = ::testing::TempDir() + "croma_options_test.cfg";
  {
    std::ofstream out(path);
    out << "# a comment\nshots = 3\nways = 4\npairs = weak\n";
  }
  const auto o = parse({"--config", path, "--ways", "6"});
  EXPECT_EQ(o.meta.shots, 3);
  EXPECT_EQ(o.meta.ways, 6);
  EXPECT_EQ(o.meta.pairs, PairKind::kWeak);
  {
    std::ofstream out(path);
    out << "shotz = 3\n";
  }
  EXPECT_NE(error_of({"--config", path}).find("shotz"), std::string::npos);
  {
    std::ofstream out(path);
    out << "shots = 0\n";
  }
  EXPECT_EQ(error_of({"--config", path}), "invalid value for --shots: 0 (must be >= 1)");
  std::remove(path.c_str());
  EXPECT_EQ(error_of({"--config", path}), "cannot read --config file '" + path + "'");
}

TEST(TrainOptions, JsonRoundTripKeepsEveryValue) {
  const auto o = parse({"--seed", "5", "--pair-noise", "0.25", "--pairs", "weak", "--eval-shots", "1,5"});
  nlohmann::json j = o;
  TrainOptions back;
  from_json(j, back);
  EXPECT_EQ(nlohmann::json(back), j);
  EXPECT_DOUBLE_EQ(back.world.pair_noise, 0.25);
  j["meta"].erase("shots");
  EXPECT_THROW(from_json(j, back), OptionError);
}

TEST(EvalOptions, RunDirIsRequired) {
  const char* argv[] = {"eval"};
  EvalCommandOptions e;
  EXPECT_THROW(parse_eval_options(1, argv, e), OptionError);
  const char* bad_split[] = {"eval", "--run-dir", "x", "--split", "train"};
  EXPECT_THROW(parse_eval_options(5, bad_split, e), OptionError);
}


// ---- data preparation options ------------------------------------------------------

TEST(PrepOptions, ParseValidateAndRoundTrip) {
  const auto defaults = parse({});
  EXPECT_EQ(defaults.prep.standardize, "auto");
  EXPECT_EQ(defaults.prep.val_split, "auto");
  EXPECT_DOUBLE_EQ(defaults.prep.val_items_fraction, 0.2);
  const auto o = parse({"--standardize", "on", "--val-split", "items", "--val-items-fraction", "0.3"});
  EXPECT_EQ(o.prep.standardize, "on");
  EXPECT_EQ(o.prep.val_split, "items");
  EXPECT_DOUBLE_EQ(o.prep.val_items_fraction, 0.3);
  nlohmann::json j = o;
  EXPECT_EQ(j["data"]["standardize"], "on");
  EXPECT_EQ(j["data"]["val_split"], "items");
  EXPECT_DOUBLE_EQ(j["data"]["val_items_fraction"].get<double>(), 0.3);
  TrainOptions back;
  from_json(j, back);
  EXPECT_EQ(back.prep.standardize, "on");
  EXPECT_EQ(back.prep.val_split, "items");
  EXPECT_DOUBLE_EQ(back.prep.val_items_fraction, 0.3);
  EXPECT_EQ(nlohmann::json(back), j);
  // Validating on classes records no fraction.
  EXPECT_FALSE(nlohmann::json(parse({"--val-split", "classes"}))["data"].contains("val_items_fraction"));
}

TEST(PrepOptions, ClassSplitSeedIsStoredOnlyWhenItRedrawsTheSplit) {
  EXPECT_EQ(parse({}).prep.class_split_seed, 0u);
  EXPECT_FALSE(nlohmann::json(parse({}))["data"].contains("class_split_seed"));
  const auto o = parse({"--class-split-seed", "3"});
  nlohmann::json j = o;
  EXPECT_EQ(j["data"]["class_split_seed"], 3);
  TrainOptions back;
  from_json(j, back);
  EXPECT_EQ(back.prep.class_split_seed, 3u);
  j["data"].erase("class_split_seed");  // a run from before the option kept the file's split
  from_json(j, back);
  EXPECT_EQ(back.prep.class_split_seed, 0u);
}

TEST(PrepOptions, RunsFromBeforeTheOptionsReadRawFeaturesAndValidatedOnClasses) {
  nlohmann::json j = parse({"--standardize", "on", "--val-split", "items"});
  j["data"].erase("standardize");
  j["data"].erase("val_split");
  j["data"].erase("val_items_fraction");
  TrainOptions back;
  from_json(j, back);
  EXPECT_EQ(back.prep.standardize, "off");
  EXPECT_EQ(back.prep.val_split, "classes");
}

TEST(PrepOptions, BadValuesNameTheOption) {
  EXPECT_EQ(error_of({"--standardize", "yes"}), "invalid value for --standardize: 'yes' (allowed: auto, on, off)");
  EXPECT_EQ(error_of({"--val-split", "random"}),
            "invalid value for --val-split: 'random' (allowed: classes, items, auto)");
  EXPECT_EQ(error_of({"--val-items-fraction", "1"}), "invalid value for --val-items-fraction: 1 (must be in (0, 1))");
  EXPECT_EQ(error_of({"--val-items-fraction", "0"}), "invalid value for --val-items-fraction: 0 (must be in (0, 1))");
}

}  // namespace
}  // namespace croma
