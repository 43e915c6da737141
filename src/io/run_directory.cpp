#include "croma/io/run_directory.h"

#include <stdexcept>

namespace croma {

namespace fs = std::filesystem;

void require_free_space(const std::filesystem::path& dir, std::uintmax_t bytes, const std::string& what) {
  namespace fs = std::filesystem;
  fs::path probe = fs::absolute(dir);
  std::error_code ec;
  while (!fs::exists(probe, ec) && probe.has_parent_path() && probe != probe.parent_path()) probe = probe.parent_path();
  const auto space = fs::space(probe, ec);
  if (ec) return;  // cannot tell (e.g. no permission to stat): creating the directory reports it
  if (space.available >= bytes) return;
  const auto mib = [](std::uintmax_t b) { return std::to_string((b + (1u << 20) - 1) >> 20); };
  throw std::runtime_error("run directory '" + dir.string() + "': " + mib(space.available) +
                           " MiB free on its file system, but " + what + " need about " + mib(bytes) +
                           " MiB; free some space or choose another --run-dir");
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write '" + tmp.string() + "'");
    out << text;
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp);
      throw std::runtime_error("cannot write '" + tmp.string() + "' (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    throw std::runtime_error("cannot move '" + tmp.string() + "' into place: " + ec.message());
  }
}

nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read '" + path.string() + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + path.string() + "' is not valid JSON: " + e.what());
  }
}

RunDirectory RunDirectory::create(const fs::path& root, bool overwrite) {
  std::error_code ec;
  if (fs::exists(root / "config.json") && !overwrite) {
    throw std::runtime_error("run directory '" + root.string() +
                             "' already holds a run (config.json); choose another --run-dir "
                             "or pass --overwrite");
  }
  fs::create_directories(root / "checkpoints", ec);
  if (ec) {
    throw std::runtime_error("cannot create run directory '" + root.string() + "': " + ec.message());
  }
  // Probe writability now rather than after the first hour of training.
  const auto probe = root / ".write-test";
  {
    std::ofstream out(probe);
    if (!out) throw std::runtime_error("run directory '" + root.string() + "' is not writable");
  }
  fs::remove(probe, ec);
  if (overwrite) {
    for (const char* stale : {"metrics.jsonl", "eval.json", "eval-val.json", "summary.json"}) fs::remove(root / stale, ec);
    for (const auto& entry : fs::directory_iterator(root / "checkpoints")) fs::remove(entry.path(), ec);
  }
  RunDirectory dir(root);
  dir.metrics_.open(root / "metrics.jsonl", std::ios::trunc);
  if (!dir.metrics_) throw std::runtime_error("cannot open '" + (root / "metrics.jsonl").string() + "'");
  return dir;
}

RunDirectory RunDirectory::open(const fs::path& root) {
  if (!fs::is_directory(root)) throw std::runtime_error("run directory '" + root.string() + "' does not exist");
  if (!fs::exists(root / "config.json")) {
    throw std::runtime_error("'" + root.string() + "' is not a croma run directory (no config.json)");
  }
  return RunDirectory(root);
}

RunDirectory RunDirectory::reopen_for_training(const fs::path& root, std::int64_t step) {
  RunDirectory dir = open(root);
  const auto metrics = root / "metrics.jsonl";
  std::string kept;
  {
    std::ifstream in(metrics);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        const auto j = nlohmann::json::parse(line);
        if (j.value("step", std::int64_t{0}) > step) continue;
      } catch (const nlohmann::json::exception&) {
        continue;  // a line torn by a kill: drop it
      }
      kept += line + "\n";
    }
  }
  write_text_atomically(metrics, kept);
  dir.metrics_.open(metrics, std::ios::app);
  if (!dir.metrics_) throw std::runtime_error("cannot open '" + metrics.string() + "'");
  return dir;
}

fs::path RunDirectory::checkpoint(const std::string& name) const {
  return root_ / "checkpoints" / (name + ".h5");
}

void RunDirectory::write_json(const std::string& name, const nlohmann::json& value) const {
  write_text_atomically(root_ / name, value.dump(2) + "\n");
}

nlohmann::json RunDirectory::read_json(const std::string& name) const {
  return read_json_file(root_ / name);
}

void RunDirectory::append_metrics(const nlohmann::json& line) {
  metrics_ << line.dump() << '\n';
  metrics_.flush();
  if (!metrics_) throw std::runtime_error("cannot append to '" + (root_ / "metrics.jsonl").string() + "' (disk full?)");
}

}  // namespace croma
