#include "croma/model/checkpoint.h"
#include "croma/io/hdf5_util.h"
#include "croma/io/read_guard.h"

#include <hdf5.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace croma {
namespace {

constexpr const char* kFormat = "croma-checkpoint";
constexpr std::int64_t kFormatVersion = 1;

using hdf5::Handle;
using hdf5::read_int_attribute;
using hdf5::read_string_attribute;
using SilenceHdf5 = hdf5::SilenceErrors;

// FNV-1a (64-bit) over everything a checkpoint holds, stored as the root attribute
// content_checksum. Renaming into place means a crash never leaves a torn file under a
// checkpoint's name, but a file damaged later (a failing disk, a copy cut short, a file
// system that reorders writes across a crash) can still have intact HDF5 structure around
// garbage data; the checksum is what keeps such a file from being loaded as if whole.
class ContentChecksum {
 public:
  void add(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
      hash_ ^= p[i];
      hash_ *= 0x100000001b3ULL;
    }
  }
  void add(const std::string& text) {
    const std::uint64_t n = text.size();
    add(&n, sizeof n);  // lengths too, so that ("ab","c") and ("a","bc") differ
    add(text.data(), text.size());
  }
  std::int64_t value() const { return static_cast<std::int64_t>(hash_); }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

std::int64_t content_checksum(const torch::Tensor& params, const Checkpoint& ck) {
  ContentChecksum sum;
  sum.add(params.data_ptr<float>(), static_cast<std::size_t>(params.numel()) * sizeof(float));
  sum.add(&ck.step, sizeof ck.step);
  sum.add(ck.config_json);
  if (ck.state) {
    sum.add(&ck.state->world_size, sizeof ck.state->world_size);
    sum.add(&ck.state->tasks_per_rank, sizeof ck.state->tasks_per_rank);
    sum.add(ck.state->bookkeeping_json);
    for (const auto& rng : ck.state->rng_states) sum.add(rng);
  }
  return sum.value();
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("checkpoint '" + path + "': " + what);
}

void write_string_attribute(hid_t target, const char* name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(target, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), type.get(), value.c_str()) < 0) {
    throw std::runtime_error(std::string("cannot write attribute ") + name);
  }
}

void write_int_attribute(hid_t target, const char* name, std::int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(target, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
    throw std::runtime_error(std::string("cannot write attribute ") + name);
  }
}

// Creation properties without object times: HDF5 stamps each group and dataset with the clock
// otherwise, and two checkpoints of one state would differ byte for byte.
struct UntimedCreation {
  Handle group{H5Pcreate(H5P_GROUP_CREATE), H5Pclose};
  Handle dataset{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
  // Set once, after both lists are made (members initialise in declaration order).
  const bool ok = group.ok() && dataset.ok() && H5Pset_obj_track_times(group.get(), 0) >= 0 &&
                  H5Pset_obj_track_times(dataset.get(), 0) >= 0;
};

// The groups above `path` ("a/b/c": a, a/b), created untimed where they do not exist yet.
void create_parent_groups(hid_t file, const std::string& path, const UntimedCreation& props) {
  for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const auto parent = path.substr(0, slash);
    if (parent.empty() || H5Lexists(file, parent.c_str(), H5P_DEFAULT) > 0) continue;
    Handle group(H5Gcreate2(file, parent.c_str(), H5P_DEFAULT, props.group.get(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) throw std::runtime_error("cannot create group " + parent);
  }
}

void write_bytes_dataset(hid_t parent, const std::string& name, const std::string& bytes,
                         const UntimedCreation& props) {
  create_parent_groups(parent, name, props);
  const hsize_t n = bytes.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle dset(H5Dcreate2(parent, name.c_str(), H5T_STD_U8LE, space.get(), H5P_DEFAULT, props.dataset.get(),
                         H5P_DEFAULT),
              H5Dclose);
  if (!dset.ok() ||
      (n > 0 && H5Dwrite(dset.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0)) {
    throw std::runtime_error("cannot write dataset '" + name + "' (disk full?)");
  }
}

bool read_bytes_dataset(hid_t parent, const std::string& name, std::string& out) {
  if (H5Lexists(parent, name.c_str(), H5P_DEFAULT) <= 0) return false;
  Handle dset(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dset.ok()) return false;
  Handle space(H5Dget_space(dset.get()), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) != 1) return false;
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.get(), &n, nullptr);
  out.assign(static_cast<std::size_t>(n), '\0');
  return n == 0 || H5Dread(dset.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0;
}

std::string rng_dataset_name(std::int64_t rank, std::int64_t slot) {
  return "train_state/rng/rank" + std::to_string(rank) + "/slot" + std::to_string(slot);
}

void write_state(hid_t file, const TrainingState& st, const UntimedCreation& props) {
  if (static_cast<std::int64_t>(st.rng_states.size()) != st.world_size * st.tasks_per_rank) {
    throw std::runtime_error("training state has " + std::to_string(st.rng_states.size()) +
                             " random streams for " + std::to_string(st.world_size) + " rank(s) x " +
                             std::to_string(st.tasks_per_rank) + " slot(s)");
  }
  Handle group(H5Gcreate2(file, "train_state", H5P_DEFAULT, props.group.get(), H5P_DEFAULT), H5Gclose);
  if (!group.ok()) throw std::runtime_error("cannot create group train_state");
  write_int_attribute(group.get(), "world_size", st.world_size);
  write_int_attribute(group.get(), "tasks_per_rank", st.tasks_per_rank);
  write_string_attribute(group.get(), "bookkeeping", st.bookkeeping_json);
  for (std::int64_t r = 0; r < st.world_size; ++r) {
    for (std::int64_t t = 0; t < st.tasks_per_rank; ++t) {
      write_bytes_dataset(file, rng_dataset_name(r, t),
                          st.rng_states[static_cast<std::size_t>(r * st.tasks_per_rank + t)], props);
    }
  }
}

std::optional<TrainingState> read_state(hid_t file, const std::string& path) {
  if (H5Lexists(file, "train_state", H5P_DEFAULT) <= 0) return std::nullopt;
  Handle group(H5Gopen2(file, "train_state", H5P_DEFAULT), H5Gclose);
  if (!group.ok()) fail(path, "cannot open group train_state");
  TrainingState st;
  if (!read_int_attribute(group.get(), "world_size", st.world_size) ||
      !read_int_attribute(group.get(), "tasks_per_rank", st.tasks_per_rank) || st.world_size < 1 ||
      st.tasks_per_rank < 1) {
    fail(path, "train_state lacks valid world_size / tasks_per_rank attributes");
  }
  read_string_attribute(group.get(), "bookkeeping", st.bookkeeping_json);
  for (std::int64_t r = 0; r < st.world_size; ++r) {
    for (std::int64_t t = 0; t < st.tasks_per_rank; ++t) {
      std::string text;
      // Nested links under a missing group make H5Lexists fail; check level by level.
      const std::string rank_group = "train_state/rng/rank" + std::to_string(r);
      if (H5Lexists(file, "train_state/rng", H5P_DEFAULT) <= 0 ||
          H5Lexists(file, rank_group.c_str(), H5P_DEFAULT) <= 0 ||
          !read_bytes_dataset(file, rng_dataset_name(r, t), text)) {
        fail(path, "lacks dataset '" + rng_dataset_name(r, t) + "' (truncated training state?)");
      }
      st.rng_states.push_back(std::move(text));
    }
  }
  return st;
}

// The checks both readers make before trusting a file, each failing with one line naming it:
// a regular file, HDF5, openable, with croma's format attribute. Returns the open file's id
// (the caller owns it); nothing is left open when a check fails.
hid_t open_checkpoint_for_reading(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) fail(path, "no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "is not an HDF5 file");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) fail(path, "cannot be opened as HDF5 (truncated or corrupt?)");
  std::string format;
  if (!read_string_attribute(id, "format", format) || format != kFormat) {
    H5Fclose(id);
    fail(path, "is not a croma checkpoint (attribute format != \"croma-checkpoint\")");
  }
  return id;
}

}  // namespace

void write_checkpoint(const std::string& path, const ParamLayout& layout, const Checkpoint& ck) {
  SilenceHdf5 quiet;
  const auto params = ck.parameters.to(torch::kCPU, torch::kFloat32).contiguous();
  if (params.numel() != layout.numel()) {
    fail(path, "has " + std::to_string(params.numel()) + " parameters for a layout of " +
                   std::to_string(layout.numel()));
  }
  const std::string tmp = path + ".tmp";
  {
    Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) {
      // On a full disk HDF5 may leave a stub of the file behind; remove it either way.
      std::remove(tmp.c_str());
      std::error_code ec;
      const auto space = std::filesystem::space(std::filesystem::path(tmp).parent_path(), ec);
      fail(path, "cannot create '" + tmp + "' (" +
                     (!ec && space.available < (1u << 16) ? std::string("disk full")
                                                          : std::string("is the directory writable?")) +
                     ")");
    }
    try {
      write_string_attribute(file.get(), "format", kFormat);
      write_int_attribute(file.get(), "format_version", kFormatVersion);
      write_int_attribute(file.get(), "step", ck.step);
      write_string_attribute(file.get(), "config", ck.config_json);
      write_int_attribute(file.get(), "content_checksum", content_checksum(params, ck));
    } catch (const std::exception& e) {
      std::remove(tmp.c_str());
      fail(path, e.what());
    }
    const UntimedCreation props;
    if (!props.ok) {
      std::remove(tmp.c_str());
      fail(path, "cannot make HDF5 creation properties");
    }
    const float* base = params.data_ptr<float>();
    for (const auto& e : layout.entries()) {
      std::vector<hsize_t> dims(e.shape.begin(), e.shape.end());
      Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
      try {
        create_parent_groups(file.get(), e.name, props);
      } catch (const std::exception& error) {
        std::remove(tmp.c_str());
        fail(path, error.what());
      }
      Handle dset(H5Dcreate2(file.get(), e.name.c_str(), H5T_IEEE_F32LE, space.get(),
                             H5P_DEFAULT, props.dataset.get(), H5P_DEFAULT),
                  H5Dclose);
      if (!dset.ok() ||
          H5Dwrite(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, base + e.offset) < 0) {
        std::remove(tmp.c_str());
        fail(path, "cannot write dataset '" + e.name + "' (disk full?)");
      }
    }
    if (ck.state) {
      try {
        write_state(file.get(), *ck.state, props);
      } catch (const std::exception& e) {
        std::remove(tmp.c_str());
        fail(path, e.what());
      }
    }
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
      std::remove(tmp.c_str());
      fail(path, "cannot flush '" + tmp + "' (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail(path, "cannot rename the temporary file into place: " + ec.message());
  }
}

std::string read_checkpoint_config(const std::string& path) {
  ReadGuard::reading(path);
  SilenceHdf5 quiet;
  Handle file(open_checkpoint_for_reading(path), H5Fclose);
  std::string config;
  read_string_attribute(file.get(), "config", config);
  return config;
}

Checkpoint read_checkpoint(const std::string& path, const ParamLayout& layout) {
  ReadGuard::reading(path);
  SilenceHdf5 quiet;
  Handle file(open_checkpoint_for_reading(path), H5Fclose);
  std::int64_t version = 0;
  Checkpoint ck;
  if (!read_int_attribute(file.get(), "format_version", version) || version != kFormatVersion) {
    fail(path, "has format_version " + std::to_string(version) + "; this croma reads version " +
                   std::to_string(kFormatVersion));
  }
  if (!read_int_attribute(file.get(), "step", ck.step)) fail(path, "lacks the step attribute");
  read_string_attribute(file.get(), "config", ck.config_json);

  ck.parameters = torch::empty({layout.numel()}, torch::kFloat32);
  float* base = ck.parameters.data_ptr<float>();
  for (const auto& e : layout.entries()) {
    if (H5Lexists(file.get(), e.name.c_str(), H5P_DEFAULT) <= 0) {
      // Intermediate groups may be missing too; H5Lexists on a nested path then fails.
      fail(path, "lacks dataset '" + e.name + "' (written for another model shape?)");
    }
    Handle dset(H5Dopen2(file.get(), e.name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dset.ok()) fail(path, "cannot open dataset '" + e.name + "'");
    Handle space(H5Dget_space(dset.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    const std::vector<hsize_t> want(e.shape.begin(), e.shape.end());
    if (dims != want) {
      std::string got, expected;
      for (auto d : dims) got += (got.empty() ? "" : "x") + std::to_string(d);
      for (auto d : want) expected += (expected.empty() ? "" : "x") + std::to_string(d);
      fail(path, "dataset '" + e.name + "' has shape " + got + ", expected " + expected +
                     " (written for another model shape?)");
    }
    if (H5Dread(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, base + e.offset) < 0) {
      fail(path, "cannot read dataset '" + e.name + "' (truncated or corrupt?)");
    }
  }
  if (!torch::isfinite(ck.parameters).all().item<bool>()) fail(path, "holds NaN or Inf parameters");
  ck.state = read_state(file.get(), path);
  // Checkpoints written before the checksum existed have none; all newer ones must match.
  std::int64_t stored_checksum = 0;
  if (read_int_attribute(file.get(), "content_checksum", stored_checksum) &&
      stored_checksum != content_checksum(ck.parameters, ck)) {
    fail(path, "does not match its content checksum (torn or corrupted file)");
  }
  return ck;
}

}  // namespace croma
