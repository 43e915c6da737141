#pragma once
// Small RAII helpers over the HDF5 C API, on raw identifiers: an owning identifier, a scope
// that silences HDF5's own error stack (croma reports one line instead), and typed reads of
// attributes and whole datasets. Anything that fails returns false or an empty value; the
// caller names the file and object in its error. io/ builds on these (checkpoints,
// io/hdf5_reader.h for the readers outside io/, io/column_table.h); no other module calls
// HDF5 itself.
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

// Whole 1-D string dataset (fixed- or variable-length); false on failure.
bool read_strings(hid_t dataset, std::vector<std::string>& out);

// Leaves the library's exit-time cleanup out (main() calls it once, first): croma closes every
// file it opens itself, and after an I/O error (a full disk) that cleanup only prints noise
// such as "infinite loop closing library".
void skip_cleanup_at_exit();

}  // namespace croma::hdf5
