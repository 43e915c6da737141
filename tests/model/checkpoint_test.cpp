#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <hdf5.h>

#include "croma/model/checkpoint.h"
#include "croma/model/croma_model.h"

namespace croma {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) / ("croma_ck_" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }

  fs::path dir;
  CromaModel model{{12, 8, 16, 6, 10, 3}};
};

TEST_F(CheckpointTest, RoundTripIsExactAndLeavesNoTemporaryFile) {
  const auto params = model.initial_parameters(3);
  write_checkpoint(path("a.h5"), model.layout(), {params, 42, "{\"seed\":3}"});
  EXPECT_FALSE(fs::exists(path("a.h5.tmp")));
  const auto back = read_checkpoint(path("a.h5"), model.layout());
  EXPECT_TRUE(back.parameters.equal(params));
  EXPECT_EQ(back.step, 42);
  EXPECT_EQ(back.config_json, "{\"seed\":3}");
}

TEST_F(CheckpointTest, WrongModelShapeIsRefusedNamingTheDataset) {
  write_checkpoint(path("a.h5"), model.layout(), {model.initial_parameters(1), 1, ""});
  CromaModel wider({12, 8, 32, 6, 10, 3});
  try {
    read_checkpoint(path("a.h5"), wider.layout());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("dataset 'e_s/layer0/weight' has shape 16x12, expected 32x12"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(CheckpointTest, NonHdf5AndTruncatedFilesAreRefused) {
  {
    std::ofstream out(path("junk.h5"));
    out << "not an hdf5 file";
  }
  EXPECT_THROW(read_checkpoint(path("junk.h5"), model.layout()), std::runtime_error);
  EXPECT_THROW(read_checkpoint(path("missing.h5"), model.layout()), std::runtime_error);
  write_checkpoint(path("a.h5"), model.layout(), {model.initial_parameters(1), 1, ""});
  fs::resize_file(path("a.h5"), fs::file_size(path("a.h5")) / 2);
  EXPECT_THROW(read_checkpoint(path("a.h5"), model.layout()), std::runtime_error);
}

// Both readers (the whole checkpoint, and its configuration alone) refuse what is not a croma
// checkpoint with one message naming the file and what is wrong with it.
TEST_F(CheckpointTest, BothReadersNameWhatIsWrongWithAFile) {
  const hid_t other = H5Fcreate(path("other.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(other, 0);
  H5Fclose(other);
  {
    std::ofstream out(path("junk.h5"));
    out << "not an hdf5 file";
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"other.h5", "is not a croma checkpoint (attribute format != \"croma-checkpoint\")"},
      {"junk.h5", "is not an HDF5 file"},
      {"missing.h5", "no such file"}};
  auto message = [](auto&& read) {
    try {
      read();
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  for (const auto& [name, what] : cases) {
    const auto expected = "checkpoint '" + path(name) + "': " + what;
    EXPECT_EQ(message([&] { read_checkpoint(path(name), model.layout()); }), expected);
    EXPECT_EQ(message([&] { read_checkpoint_config(path(name)); }), expected);
  }
  // A real checkpoint passes the same checks.
  write_checkpoint(path("a.h5"), model.layout(), {model.initial_parameters(1), 7, "{\"seed\":1}"});
  EXPECT_EQ(read_checkpoint_config(path("a.h5")), "{\"seed\":1}");
}

TEST_F(CheckpointTest, NonFiniteParametersAreRefused) {
  auto params = model.initial_parameters(1);
  params[5] = std::numeric_limits<float>::quiet_NaN();
  write_checkpoint(path("nan.h5"), model.layout(), {params, 1, ""});
  EXPECT_THROW(read_checkpoint(path("nan.h5"), model.layout()), std::runtime_error);
}

TEST_F(CheckpointTest, UnwritableDirectoryFailsWithoutLeavingFiles) {
  EXPECT_THROW(write_checkpoint((dir / "no" / "such" / "dir.h5").string(), model.layout(),
                                {model.initial_parameters(1), 1, ""}),
               std::runtime_error);
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST_F(CheckpointTest, TrainingStateRoundTripsPerRankAndSlot) {
  TrainingState st;
  st.world_size = 2;
  st.tasks_per_rank = 2;
  for (int i = 0; i < 4; ++i) st.rng_states.push_back("state of stream " + std::to_string(i) + " 1 2 3");
  st.bookkeeping_json = "{\"best_val\":0.5}";
  write_checkpoint(path("s.h5"), model.layout(), {model.initial_parameters(1), 9, "{}", st});
  const auto back = read_checkpoint(path("s.h5"), model.layout());
  ASSERT_TRUE(back.state.has_value());
  EXPECT_EQ(back.state->world_size, 2);
  EXPECT_EQ(back.state->tasks_per_rank, 2);
  EXPECT_EQ(back.state->rng_states, st.rng_states);
  EXPECT_EQ(back.state->bookkeeping_json, st.bookkeeping_json);
  // A parameters-only checkpoint has no state.
  write_checkpoint(path("p.h5"), model.layout(), {model.initial_parameters(1), 1, ""});
  EXPECT_FALSE(read_checkpoint(path("p.h5"), model.layout()).state.has_value());
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(CheckpointTest, TheSameStateGivesTheSameBytesWrittenAtAnotherTime) {
  TrainingState st;
  st.world_size = 1;
  st.tasks_per_rank = 2;
  st.rng_states = {"stream 0", "stream 1"};
  st.bookkeeping_json = "{}";
  const Checkpoint ck{model.initial_parameters(5), 7, "{\"seed\":5}", st};
  write_checkpoint(path("first.h5"), model.layout(), ck);
  // HDF5 stamps objects with the clock to the second unless told not to.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write_checkpoint(path("second.h5"), model.layout(), ck);
  const auto a = file_bytes(path("first.h5")), b = file_bytes(path("second.h5"));
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "two checkpoints of one state differ (" << a.size() << " and " << b.size() << " bytes)";
}

TEST_F(CheckpointTest, TrainingStateWithTheWrongNumberOfStreamsIsNotWritten) {
  TrainingState st;
  st.world_size = 2;
  st.tasks_per_rank = 1;
  st.rng_states = {"only one"};
  EXPECT_THROW(write_checkpoint(path("s.h5"), model.layout(), {model.initial_parameters(1), 1, "", st}),
               std::runtime_error);
  EXPECT_FALSE(fs::exists(path("s.h5")));
  EXPECT_FALSE(fs::exists(path("s.h5.tmp")));
}

}  // namespace
}  // namespace croma
