#include "croma/io/hdf5_reader.h"

#include <algorithm>
#include <limits>
#include <type_traits>

#include "croma/io/hdf5_util.h"

namespace croma::hdf5 {

// The header spells HDF5's identifier type without including hdf5.h.
static_assert(std::is_same_v<hid_t, std::int64_t>, "hid_t is not a 64-bit signed integer");

Group::Group(Group&& other) noexcept : id_(other.id_) { other.id_ = -1; }
Group::~Group() {
  if (id_ >= 0) H5Gclose(id_);
}
bool Group::read_string_attribute(const char* name, std::string& out) const {
  return hdf5::read_string_attribute(id_, name, out);
}
bool Group::read_int_attribute(const char* name, std::int64_t& out) const {
  return hdf5::read_int_attribute(id_, name, out);
}

Dataset::Dataset(Dataset&& other) noexcept : id_(other.id_) { other.id_ = -1; }
Dataset::~Dataset() {
  if (id_ >= 0) H5Dclose(id_);
}

std::vector<std::uint64_t> Dataset::shape() const {
  const auto dims = dataset_shape(id_);
  return {dims.begin(), dims.end()};
}

DatasetSize Dataset::size() const {
  DatasetSize size;
  // Saturating product: a corrupt shape may claim more elements than 64 bits can count.
  const auto shape = dataset_shape(id_);
  unsigned __int128 bytes = dataset_type_size(id_);
  const unsigned __int128 cap = std::numeric_limits<std::uint64_t>::max();
  for (auto d : shape) bytes = std::min<unsigned __int128>(bytes * d, cap);
  size.claimed_bytes = static_cast<std::uint64_t>(bytes);
  size.stored_bytes = H5Dget_storage_size(id_);
  return size;
}

bool Dataset::holds_strings() const { return dataset_type_class(id_) == H5T_STRING; }
bool Dataset::holds_integers() const { return dataset_type_class(id_) == H5T_INTEGER; }
bool Dataset::holds_float32() const {
  return dataset_type_class(id_) == H5T_FLOAT && dataset_type_size(id_) == 4;
}

bool Dataset::read(std::int64_t* out) const {
  return H5Dread(id_, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
}
bool Dataset::read(float* out) const {
  return H5Dread(id_, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
}
bool Dataset::read(std::vector<std::string>& out) const { return read_strings(id_, out); }

ReadOnlyFile::ReadOnlyFile(const std::string& path) : quiet_(std::make_unique<SilenceErrors>()) {
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    status_ = Status::kNotHdf5;
    return;
  }
  id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  status_ = id_ >= 0 ? Status::kOpen : Status::kCannotOpen;
}

ReadOnlyFile::~ReadOnlyFile() {
  if (id_ >= 0) H5Fclose(id_);
}

bool ReadOnlyFile::exists(const std::string& path) const { return hdf5::exists(id_, path); }

Group ReadOnlyFile::open_group(const std::string& path) const {
  return Group(H5Gopen2(id_, path.c_str(), H5P_DEFAULT));
}

Dataset ReadOnlyFile::open_dataset(const std::string& path) const {
  return Dataset(H5Dopen2(id_, path.c_str(), H5P_DEFAULT));
}

bool ReadOnlyFile::read_string_attribute(const char* name, std::string& out) const {
  return hdf5::read_string_attribute(id_, name, out);
}
bool ReadOnlyFile::read_int_attribute(const char* name, std::int64_t& out) const {
  return hdf5::read_int_attribute(id_, name, out);
}

}  // namespace croma::hdf5
