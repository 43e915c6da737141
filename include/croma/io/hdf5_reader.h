#pragma once
// An HDF5 file read object by object, for validating readers outside io/ (the feature shards
// of data/): they check every group, attribute and dataset and report each problem in their own
// words, so nothing here throws or prints. A failed step returns false, or an object whose ok()
// is false; HDF5's own error printing is off while a ReadOnlyFile lives. The HDF5 C API stays
// behind this header (io/hdf5_util.h is its raw-identifier layer, for io/ only).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace croma::hdf5 {

struct SilenceErrors;

// What a dataset's shape and type claim it holds, against what the file stores for it. A
// corrupt or hostile file can claim terabytes in a few bytes; readers compare the two before
// allocating (see kMaxCompressionRatio).
struct DatasetSize {
  std::uint64_t claimed_bytes = 0;  // elements x element size, saturating
  std::uint64_t stored_bytes = 0;   // bytes allocated in the file
};
// deflate, the filter croma's writers use, expands at most ~1032:1.
constexpr std::uint64_t kMaxCompressionRatio = 1032;

// A group's attributes: fixed- or variable-length strings, and integers of any width.
class Group {
 public:
  Group(Group&& other) noexcept;
  Group& operator=(Group&&) = delete;
  ~Group();
  bool ok() const { return id_ >= 0; }
  bool read_string_attribute(const char* name, std::string& out) const;
  bool read_int_attribute(const char* name, std::int64_t& out) const;

 private:
  friend class ReadOnlyFile;
  explicit Group(std::int64_t id) : id_(id) {}
  std::int64_t id_;
};

// One dataset: its shape and element type, and all of it read at once.
class Dataset {
 public:
  Dataset(Dataset&& other) noexcept;
  Dataset& operator=(Dataset&&) = delete;
  ~Dataset();
  bool ok() const { return id_ >= 0; }

  std::vector<std::uint64_t> shape() const;  // empty for a scalar
  DatasetSize size() const;
  bool holds_strings() const;
  bool holds_integers() const;    // of any width
  bool holds_float32() const;
  // The whole dataset, converted to the given type; `out` has room for every element.
  bool read(std::int64_t* out) const;
  bool read(float* out) const;
  // A whole 1-D string dataset (fixed- or variable-length).
  bool read(std::vector<std::string>& out) const;

 private:
  friend class ReadOnlyFile;
  explicit Dataset(std::int64_t id) : id_(id) {}
  std::int64_t id_;
};

class ReadOnlyFile {
 public:
  enum class Status { kOpen, kNotHdf5, kCannotOpen };
  // Opens `path` for reading; status() says whether that worked.
  explicit ReadOnlyFile(const std::string& path);
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  ~ReadOnlyFile();
  Status status() const { return status_; }

  // True when `path` (e.g. "/source/labels") names an existing link, checking each parent.
  bool exists(const std::string& path) const;
  Group open_group(const std::string& path) const;
  Dataset open_dataset(const std::string& path) const;
  // Attributes of the root group.
  bool read_string_attribute(const char* name, std::string& out) const;
  bool read_int_attribute(const char* name, std::int64_t& out) const;

 private:
  std::unique_ptr<SilenceErrors> quiet_;  // first in, last out: spans the file's whole life
  std::int64_t id_ = -1;
  Status status_ = Status::kCannotOpen;
};

}  // namespace croma::hdf5
