#pragma once
// An error every rank has reached together, after a collective that told each of them: one
// rank (`report()`) prints it and the others exit quietly. Since no rank is left waiting for
// another, main() returns normally instead of calling MPI_Abort, and the job log shows the
// message once, not once per rank.
#include <stdexcept>
#include <string>

namespace croma {

class CollectiveError : public std::runtime_error {
 public:
  CollectiveError(const std::string& message, bool report) : std::runtime_error(message), report_(report) {}
  bool report() const { return report_; }

 private:
  bool report_;
};

}  // namespace croma
