#pragma once
// Progress lines on stderr: step, losses, rate and time left.
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace croma {

class ProgressReporter {
 public:
  ProgressReporter(std::int64_t total_steps, std::ostream& out, bool enabled);
  // `losses`: (task name, mean loss) of the step.
  void report(std::int64_t step, const std::vector<std::pair<std::string, double>>& losses);
  double elapsed_seconds() const;

 private:
  std::int64_t total_;
  std::ostream& out_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

// "1:02:03" / "2:03"
std::string format_duration(double seconds);

}  // namespace croma
