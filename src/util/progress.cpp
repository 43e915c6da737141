#include "croma/util/progress.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace croma {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

ProgressReporter::ProgressReporter(std::int64_t total_steps, std::ostream& out, bool enabled)
    : total_(total_steps), out_(out), enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

double ProgressReporter::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressReporter::report(std::int64_t step,
                              const std::vector<std::pair<std::string, double>>& losses) {
  if (!enabled_) return;
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(step) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - step) / rate : NAN;
  std::string line = "step " + std::to_string(step) + "/" + std::to_string(total_);
  char buf[96];
  for (const auto& [name, value] : losses) {
    std::snprintf(buf, sizeof buf, " | %s %.4f", name.c_str(), value);
    line += buf;
  }
  std::snprintf(buf, sizeof buf, " | %.1f steps/s | ETA %s", rate, format_duration(eta).c_str());
  out_ << line << buf << std::endl;
}

}  // namespace croma
