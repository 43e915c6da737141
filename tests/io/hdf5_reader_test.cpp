// Reading HDF5 object by object (io/hdf5_reader.h), on files written by io/column_table.h.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "croma/io/column_table.h"
#include "croma/io/hdf5_reader.h"

namespace croma {
namespace {

namespace fs = std::filesystem;

class Hdf5ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) / ("croma_h5r_" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }

  fs::path dir;
};

TEST_F(Hdf5ReaderTest, ReadsWhatTheColumnWriterWrote) {
  write_hdf5_columns_atomically(path("t.h5"), "cells", {{"a", {1.5, -2.0, 3.25}}, {"b", {}}}, "{\"k\":1}");
  const hdf5::ReadOnlyFile file(path("t.h5"));
  ASSERT_EQ(file.status(), hdf5::ReadOnlyFile::Status::kOpen);
  EXPECT_TRUE(file.exists("/cells/a"));
  EXPECT_FALSE(file.exists("/cells/c"));
  EXPECT_FALSE(file.exists("/other/a"));  // a missing parent is "no", not an error
  std::string note;
  ASSERT_TRUE(file.read_string_attribute("summary", note));
  EXPECT_EQ(note, "{\"k\":1}");
  std::int64_t number = 0;
  EXPECT_FALSE(file.read_int_attribute("summary", number));  // a string is not an integer
  EXPECT_FALSE(file.read_string_attribute("absent", note));

  const auto a = file.open_dataset("/cells/a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.shape(), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(a.size().claimed_bytes, 24u);  // float64
  EXPECT_FALSE(a.holds_float32());
  EXPECT_FALSE(a.holds_integers());
  EXPECT_FALSE(a.holds_strings());
  float values[3] = {};
  ASSERT_TRUE(a.read(values));  // converted to float32 by the library
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[2], 3.25f);
  std::vector<std::string> strings;
  EXPECT_FALSE(a.read(strings));
  EXPECT_EQ(file.open_dataset("/cells/b").shape(), (std::vector<std::uint64_t>{0}));

  EXPECT_FALSE(file.open_dataset("/cells/c").ok());
  EXPECT_FALSE(file.open_dataset("/cells").ok());  // a group is not a dataset
  EXPECT_TRUE(file.open_group("/cells").ok());
}

TEST_F(Hdf5ReaderTest, SaysWhyAFileDoesNotOpen) {
  std::ofstream(path("text.h5")) << "not hdf5\n";
  EXPECT_EQ(hdf5::ReadOnlyFile(path("text.h5")).status(), hdf5::ReadOnlyFile::Status::kNotHdf5);
  EXPECT_EQ(hdf5::ReadOnlyFile(path("missing.h5")).status(), hdf5::ReadOnlyFile::Status::kNotHdf5);
  // The signature of an HDF5 file, but cut short: recognised, and refused when opened.
  write_hdf5_columns_atomically(path("whole.h5"), "cells", {{"a", std::vector<double>(1000, 1.0)}}, "{}");
  fs::copy_file(path("whole.h5"), path("cut.h5"));
  fs::resize_file(path("cut.h5"), 1024);
  EXPECT_EQ(hdf5::ReadOnlyFile(path("cut.h5")).status(), hdf5::ReadOnlyFile::Status::kCannotOpen);
}

}  // namespace
}  // namespace croma
