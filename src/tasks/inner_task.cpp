#include "croma/tasks/inner_task.h"

#include <stdexcept>

namespace croma {

torch::Tensor InnerTask::step_loss(const Weights& /*fast*/, Rng& /*rng*/) {
  throw std::logic_error("task '" + name() + "' describes its problem (" + to_string(problem().loss) +
                         "): run it with inner_step_loss(), not step_loss()");
}

}  // namespace croma
