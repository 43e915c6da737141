// `croma bench`: meta-training throughput on the bench configuration of
// docs/performance.md, with a per-phase breakdown. Nothing is written to disk.
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <iostream>

#include "croma/app/commands.h"
#include "croma/app/experiment.h"
#include "croma/config/options.h"
#include "croma/distributed/communicator.h"
#include "croma/meta/meta_trainer.h"
#include "croma/util/progress.h"
#include "croma/util/runtime.h"

namespace croma {
namespace {

// The bench configuration: source 512-d, target 128-d, embedding 256; encoders
// Linear(d,256)-ReLU-Linear(256,256); classifier Linear(256,256)-ReLU-Linear(256,5); 5-way
// 5-shot; 5 inner Adam steps with minibatch 8 for both episodes; epsilon 0.1.
TrainOptions bench_defaults() {
  TrainOptions o;
  o.world.source_dim = 512;
  o.world.target_dim = 128;
  o.model.hidden = 256;
  o.model.embed_dim = 256;
  o.model.classifier_hidden = 256;
  o.meta.steps = 300;
  o.meta.ways = 5;
  o.meta.shots = 5;
  o.meta.inner_steps = 5;
  o.meta.inner_batch = 8;
  o.meta.align_batch = 8;
  o.meta.meta_lr = 0.1;
  o.out.quiet = true;
  return o;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace

int run_bench_command(int argc, const char* const argv[]) {
  TrainOptions o = bench_defaults();
  if (!parse_train_options(argc, argv, o)) return 0;
  const auto comm = Communicator::world();
  at::set_num_threads(static_cast<int>(o.dist.threads));
  const auto device = resolve_device(o.dist.device, comm.local_rank());
  Experiment exp(o, "croma bench");
  exp.sampler().check_meta_training(o.meta);
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, device);
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  const std::int64_t warmup = std::min<std::int64_t>(20, o.meta.steps);
  for (std::int64_t s = 0; s < warmup; ++s) trainer.step();
  comm.barrier();
  const PhaseTimings before = trainer.timings();
  ProgressReporter clock(o.meta.steps, std::cerr, false);
  std::int64_t episodes = 0;
  for (std::int64_t s = 0; s < o.meta.steps; ++s) episodes += trainer.step().episodes;
  comm.barrier();
  const double wall = clock.elapsed_seconds();
  const auto& after = trainer.timings();
  const double per = 1.0 / static_cast<double>(std::max<std::int64_t>(o.meta.steps, 1));
  // The slowest rank sets the pace.
  const double wall_max = comm.max(wall);
  if (!comm.is_root()) return 0;
  nlohmann::json summary = {
      {"command", "bench"},
      {"meta_iterations", o.meta.steps},
      {"meta_iterations_per_s", o.meta.steps / wall_max},
      {"meta_iterations_per_s_per_rank", o.meta.steps * o.meta.tasks_per_rank / wall_max},
      {"episodes_per_s", static_cast<double>(episodes) / wall_max},
      {"phase_ms_per_iteration",
       {{"sampling", 1e3 * per * (after.sampling - before.sampling)},
        {"inner_forward_backward", 1e3 * per * (after.forward_backward - before.forward_backward)},
        {"optimizer", 1e3 * per * (after.optimizer - before.optimizer)},
        {"reptile_update", 1e3 * per * (after.reptile - before.reptile)},
        {"allreduce", 1e3 * per * (after.allreduce - before.allreduce)}}},
      {"parameters", exp.model().numel()},
      {"peak_rss_mib", peak_rss_mib()},
      {"blas", loaded_blas()},
      {"threads", at::get_num_threads()},
      {"device", device.str()},
      {"world_size", comm.size()},
      {"tasks_per_rank", o.meta.tasks_per_rank}};
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace croma
