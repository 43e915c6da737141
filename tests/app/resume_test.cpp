// Deciding whether `croma train --resume` may continue a run, and from which checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "croma/app/resume.h"
#include "croma/model/croma_model.h"
#include "test_support.h"

namespace croma {
namespace {

namespace fs = std::filesystem;

TEST(Resume, ConfigMismatchNamesTheFirstDifferingOption) {
  const nlohmann::json run = testing::tiny_options();
  EXPECT_EQ(config_mismatch(run, run), "");
  auto other = testing::tiny_options();
  other.meta.shots = 4;
  EXPECT_EQ(config_mismatch(run, nlohmann::json(other)), "meta.shots is 3 in the run and 4 now");
  other = testing::tiny_options();
  other.seed = 8;
  EXPECT_EQ(config_mismatch(run, nlohmann::json(other)), "seed is 7 in the run and 8 now");
  other = testing::tiny_options();
  other.out.val_every = 3;  // picks the best checkpoint: part of the trajectory
  EXPECT_NE(config_mismatch(run, nlohmann::json(other)).find("output.val_every"), std::string::npos);
}

TEST(Resume, ReportingOptionsAndMoreStepsMayChange) {
  const nlohmann::json run = testing::tiny_options();
  auto other = testing::tiny_options();
  other.meta.steps = 100;
  other.out.run_dir = "elsewhere";
  other.out.log_every = 1;
  other.out.checkpoint_every = 7;
  other.out.quiet = true;
  other.dist.threads = 2;
  other.dist.check_every = 0;
  nlohmann::json now = other;
  now["runtime"] = {{"world_size", 4}};
  EXPECT_EQ(config_mismatch(run, now), "");
}

TEST(Resume, AnotherLayoutOfTheSameSlotsIsAccepted) {
  TrainingState st;
  st.world_size = 2;
  st.tasks_per_rank = 2;
  EXPECT_EQ(resume_layout(st, 2, 2).tasks_per_rank, 2);
  // --tasks-per-rank chosen so that R*T stays 4.
  EXPECT_EQ(resume_layout(st, 4, 1).tasks_per_rank, 1);
  EXPECT_EQ(resume_layout(st, 1, 4).tasks_per_rank, 4);
  // The run's own --tasks-per-rank on another rank count that divides 4: croma picks T.
  const auto derived = resume_layout(st, 4, 2);
  EXPECT_EQ(derived.error, "");
  EXPECT_EQ(derived.tasks_per_rank, 1);
  EXPECT_EQ(resume_layout(st, 1, 2).tasks_per_rank, 4);
}

TEST(Resume, AnotherSlotCountIsRefusedWithTheLayoutsThatWork) {
  TrainingState st;
  st.world_size = 2;
  st.tasks_per_rank = 2;
  for (const auto& [ranks, tasks] : std::vector<std::pair<std::int64_t, std::int64_t>>{{3, 2}, {2, 3}, {4, 3}, {2, 1}}) {
    const auto got = resume_layout(st, ranks, tasks);
    EXPECT_EQ(got.tasks_per_rank, 0);
    EXPECT_NE(got.error.find("written by 2 rank(s) x 2 task(s) per rank (4 task slots) and this run has " +
                             std::to_string(ranks) + " x " + std::to_string(tasks)),
              std::string::npos)
        << got.error;
    EXPECT_NE(got.error.find("= 4: 1 x 4, 2 x 2 or 4 x 1"), std::string::npos) << got.error;
  }
}

TEST(Resume, TasksPerRankIsNotPartOfTheConfigurationCheck) {
  const nlohmann::json run = testing::tiny_options();
  auto other = testing::tiny_options();
  other.meta.tasks_per_rank = 3;
  EXPECT_EQ(config_mismatch(run, nlohmann::json(other)), "");
}

TEST(Resume, LatestCheckpointIsTheHighestStepWithTrainingState) {
  const auto dir = fs::path(::testing::TempDir()) / ("croma_resume_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "checkpoints");
  CromaModel model{{12, 8, 16, 6, 10, 3}};
  EXPECT_FALSE(latest_resumable_checkpoint(dir, model.layout()).has_value());
  TrainingState st;
  st.rng_states = {"1 2 3"};
  auto ck = [&](std::int64_t step, bool with_state) {
    return Checkpoint{model.initial_parameters(static_cast<std::uint64_t>(step)), step, "{}",
                      with_state ? std::optional<TrainingState>(st) : std::nullopt};
  };
  write_checkpoint((dir / "checkpoints/step_10.h5").string(), model.layout(), ck(10, true));
  write_checkpoint((dir / "checkpoints/step_20.h5").string(), model.layout(), ck(20, true));
  // Parameters only (like best.h5 and initial.h5): never a resume point, whatever its step.
  write_checkpoint((dir / "checkpoints/best.h5").string(), model.layout(), ck(30, false));
  // Torn or foreign files are skipped.
  std::ofstream(dir / "checkpoints/step_40.h5") << "torn";
  write_checkpoint((dir / "checkpoints/step_25.h5.tmp").string(), model.layout(), ck(25, true));
  auto found = latest_resumable_checkpoint(dir, model.layout());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->checkpoint.step, 20);
  EXPECT_EQ(found->path.filename(), "step_20.h5");
  write_checkpoint((dir / "checkpoints/final.h5").string(), model.layout(), ck(50, true));
  EXPECT_EQ(latest_resumable_checkpoint(dir, model.layout())->checkpoint.step, 50);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace croma
