#pragma once
// Small RAII helpers over the HDF5 C API for croma's readers: an owning identifier, a scope
// that silences HDF5's own error stack (croma reports one line instead), and typed reads of
// attributes and whole datasets. Anything that fails returns false or an empty value; the
// caller names the file and object in its error.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace croma::hdf5 {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

struct SilenceErrors {
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  SilenceErrors();
  ~SilenceErrors();
};

// True when `path` (e.g. "/source/labels") names an existing link, checking each parent.
bool exists(hid_t file, const std::string& path);

// Attributes: fixed- or variable-length strings, and integers of any width.
bool read_string_attribute(hid_t object, const char* name, std::string& out);
bool read_int_attribute(hid_t object, const char* name, std::int64_t& out);

// Shape of a dataset (empty for a scalar).
std::vector<hsize_t> dataset_shape(hid_t dataset);
H5T_class_t dataset_type_class(hid_t dataset);
std::size_t dataset_type_size(hid_t dataset);

// What a dataset's shape and type claim it holds, against what the file stores for it. A
// corrupt or hostile file can claim terabytes in a few bytes; readers compare the two before
// allocating (see kMaxCompressionRatio).
struct DatasetSize {
  std::uint64_t claimed_bytes = 0;  // elements x element size, saturating
  std::uint64_t stored_bytes = 0;   // H5Dget_storage_size: bytes allocated in the file
};
DatasetSize dataset_size(hid_t dataset);
// deflate, the filter croma's writers use, expands at most ~1032:1.
constexpr std::uint64_t kMaxCompressionRatio = 1032;

// Whole 1-D string dataset (fixed- or variable-length); false on failure.
bool read_strings(hid_t dataset, std::vector<std::string>& out);

}  // namespace croma::hdf5
