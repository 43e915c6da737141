#pragma once
// The run directory that rank 0 of `croma train` writes:
//   config.json         resolved configuration (every option, plus world size and versions)
//   metrics.jsonl       one JSON object per logged meta-step
//   checkpoints/*.h5    meta-parameters (see model/checkpoint.h): initial, best, final, step_N;
//                       final and step_N also hold the training state `--resume` needs
//   summary.json        the last stdout line of a finished `croma train`
//   eval.json           written by `croma eval` (meta-test); eval-val.json: `croma eval --split val`
// JSON files are written to a temporary file and renamed into place.
#include <filesystem>
#include <cstdint>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace croma {

// Refuses to start a run that cannot finish writing: throws a one-line std::runtime_error when
// the file system holding `dir` (or its nearest existing parent, before `dir` is made) has
// fewer than `bytes` free. `what` says what the bytes are for, for the message.
void require_free_space(const std::filesystem::path& dir, std::uintmax_t bytes, const std::string& what);

void write_text_atomically(const std::filesystem::path& path, const std::string& text);
nlohmann::json read_json_file(const std::filesystem::path& path);

class RunDirectory {
 public:
  // Creates root and root/checkpoints. Refuses a directory that already holds a run
  // (config.json present) unless overwrite is set, and fails clearly when not writable.
  static RunDirectory create(const std::filesystem::path& root, bool overwrite);
  // An existing run, for reading.
  static RunDirectory open(const std::filesystem::path& root);
  // An existing run that training continues from meta-step `step`: metrics.jsonl keeps the
  // lines of steps <= step (those after it will be logged again) and is appended to.
  static RunDirectory reopen_for_training(const std::filesystem::path& root, std::int64_t step);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path checkpoint(const std::string& name) const;
  std::filesystem::path file(const std::string& name) const { return root_ / name; }

  void write_json(const std::string& name, const nlohmann::json& value) const;
  nlohmann::json read_json(const std::string& name) const;
  // Appends one line to metrics.jsonl and flushes it.
  void append_metrics(const nlohmann::json& line);

 private:
  explicit RunDirectory(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
  std::ofstream metrics_;
};

}  // namespace croma
